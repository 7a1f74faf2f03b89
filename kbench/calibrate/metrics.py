"""``kbench calibrate metrics``: fit kbench's costs to Prometheus dumps of a real control plane.

Input files are Prometheus text dumps (``kubectl get --raw /metrics > apiserver.prom``, etcd's
``/metrics``, kube-scheduler's, or ``kbench run --metrics``). A file is assigned to the components
whose families it holds (:data:`MARKERS`; a kbench file holds several); ``COMPONENT=FILE`` names the
component instead. Two or more dumps of one component, in the order given, are read as windows:
their differences (counters and histograms; gauges from the later dump). With one dump the totals
since the process started are used, and the fits that need windows (etcd's CPU split) say so.

Every fitter takes means from ``_sum/_count`` (exact) and uses buckets only for a p99. What each
family gives is in :mod:`kbench.calibrate.metrics_fit` and docs/CALIBRATE.md; what could not be
fitted from the data given goes to ``not_fitted`` with the reason.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from kbench.calibrate.metrics_fit import Fits, fit_apiserver, fit_etcd_metrics, fit_scheduler
from kbench.calibrate.promtext import Scrape, parse
from kbench.config.calibration import KIND, VERSION
from kbench.errors import KbenchError

MARKERS: dict[str, tuple[str, ...]] = {
    "apiserver": ("apiserver_request_duration_seconds", "apiserver_request_sli_duration_seconds"),
    "etcd": ("etcd_server_has_leader", "etcd_disk_wal_fsync_duration_seconds"),
    "scheduler": ("scheduler_scheduling_attempt_duration_seconds",),
}
"""Component -> families whose presence marks a dump as that component's."""


def read_dumps(files: Sequence[str]) -> dict[str, list[Scrape]]:
    """Parse the files and group them by component, in the order given.

    Raises:
        KbenchError: A missing file, a file that is not a text dump, a file with no component's
            families, an unknown ``COMPONENT=``.
    """
    out: dict[str, list[Scrape]] = {}
    for item in files:
        comp, eq, name = item.partition("=")
        if not eq or "/" in comp or Path(item).exists():
            comp, name = "", item
        elif comp not in MARKERS:
            raise KbenchError(f"unknown component {comp!r}: expected one of {', '.join(MARKERS)}", source=item)
        path = Path(name)
        if not path.is_file():
            raise KbenchError("no such file", source=name)
        try:
            scrape = parse(path.read_text(), source=path.name)
        except UnicodeDecodeError:
            raise KbenchError("not a text file (is it a Prometheus text dump?)", source=name) from None
        comps = [comp] if comp else [c for c, fams in MARKERS.items() if any(scrape.has(f) for f in fams)]
        if not comps:
            raise KbenchError("no kube-apiserver, etcd or kube-scheduler metrics found (is it a Prometheus text "
                              "dump?)", source=name)
        for c in comps:
            out.setdefault(c, []).append(scrape)
    return out


def calibrate_metrics(files: Sequence[str], *, nodes: int | None = None, command: str = "") -> dict:
    """Read the dumps and fit every family their data allows (a calibration document).

    Args:
        files: ``FILE`` or ``COMPONENT=FILE`` items.
        nodes: The cluster's node count, when no ``apiserver_storage_objects`` gives it.
        command: The command line, recorded in the file.

    Raises:
        KbenchError: Unreadable files (:func:`read_dumps`), or nothing could be fitted.
    """
    dumps = read_dumps(files)
    fits = Fits()
    if "etcd" in dumps:
        fit_etcd_metrics(dumps["etcd"], fits)
    if "apiserver" in dumps:
        fit_apiserver(dumps["apiserver"], dumps.get("etcd"), fits)
    if "scheduler" in dumps:
        fit_scheduler(dumps["scheduler"], dumps.get("apiserver"), nodes, fits)
    if not fits.scenario:
        raise KbenchError("nothing could be fitted from these dumps: "
                          + "; ".join(f"{k}: {v}" for k, v in sorted(fits.not_fitted.items())))
    return {
        "kind": KIND, "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "source": {"command": command, "kind": "metrics",
                   "files": {comp: [s.source for s in scrapes] for comp, scrapes in dumps.items()}},
        "scenario": fits.scenario, "fits": fits.fits, "not_fitted": dict(sorted(fits.not_fitted.items())),
        "observed": fits.observed,
    }
