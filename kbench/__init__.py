# Minimal package so the venv install works.
