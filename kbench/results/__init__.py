"""Run folders: manifest, Parquet tables, summary (DESIGN.md decision 8).

``RunWriter`` and ``load`` are imported from :mod:`kbench.results.store` on first use, so that
importing the CLI (which registers the ``results`` commands) does not import pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunWriter", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kbench.results import store

        return getattr(store, name)
    raise AttributeError(f"module 'kbench.results' has no attribute {name!r}")
