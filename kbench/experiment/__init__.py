"""Experiments: single runs, the sync experiment, comparisons and sweeps."""
