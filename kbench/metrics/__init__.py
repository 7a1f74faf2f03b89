"""Metric collectors (columnar, bounded) and summaries."""
