"""Run folders: manifest, Parquet tables, summary (DESIGN.md decision 8)."""

from kbench.results.store import RunWriter, load

__all__ = ["RunWriter", "load"]
