"""Workloads: specs, synthetic arrivals, trace importers."""
