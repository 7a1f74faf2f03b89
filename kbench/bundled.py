"""Where the files that ship with kbench live: the bundled scenarios and trace files.

The trace files are in ``workloads/traces/`` (gzip-compressed CSV; provenance, licence and the
citation request in ``workloads/traces/SOURCES.md``). Nothing in kbench or its tests reads a folder
outside the project (``tests/unit/test_self_contained.py``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The project root (a source checkout or an editable install)."""
_CHECKOUT = ROOT / "workloads"
WORKLOADS = _CHECKOUT if _CHECKOUT.is_dir() else Path(__file__).resolve().parent / "_bundled" / "workloads"
"""The bundled scenarios: ``workloads/`` of a checkout, or the copy a wheel carries (pyproject's
``force-include``)."""
TRACES = WORKLOADS / "traces"
"""The bundled trace files (``*.csv.gz``)."""


def trace(name: str) -> Path:
    """The bundled trace file ``name``; ``x.csv`` names the compressed ``x.csv.gz`` when only that exists.

    Args:
        name: A file name in ``workloads/traces/`` (``openb_pod_list_default.csv`` or ``...csv.gz``).

    Returns:
        Its path (it may not exist: the caller's loader reports a missing file).
    """
    path = TRACES / name
    if not path.exists() and (TRACES / f"{name}.gz").exists():
        return TRACES / f"{name}.gz"
    return path
