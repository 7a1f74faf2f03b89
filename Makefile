# kbench: two-command quick start (`make demo`, `make test`); every target is idempotent.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-sync test bench lint venv clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/kbench run workloads/demo.yaml

demo-sync: $(STAMP)
	$(BIN)/kbench sync workloads/sync-demo.yaml --strategy poll --strategy list-watch

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable --benchmark-autosave -m "" -q

lint: $(STAMP)
	$(BIN)/ruff check kbench policies workloads tests

clean:
	rm -rf $(VENV) build dist *.egg-info
