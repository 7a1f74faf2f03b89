"""Scenario schema sections, one module per component; :mod:`kbench.config` composes them."""
