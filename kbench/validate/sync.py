"""Polling clients against the arithmetic of polling (kbench's List vs List-Watch experiment).

N clients each LIST every T seconds: the apiserver must see N/T LISTs per second, and a change waits
on average T/2 (the mean residual of a period) for the next LIST to see it. The simulated rate comes
from the apiserver's request statistics, the staleness from the clients' caches.
"""

from __future__ import annotations

from pathlib import Path

from kbench.config import scenario_from_dict
from kbench.experiment.sync import run_sync
from kbench.validate.kep import check_kep2340, check_kep3157
from kbench.validate.record import Record


def check_sync(quick: bool = True, calibration: str | Path | None = None) -> list[Record]:
    """Polling LIST rate = N/T and mean staleness = T/2; KEP-2340's LIST costs (I6) and KEP-3157's
    WatchList memory (I10)."""
    clients, period = 100, 10.0
    duration = 200 if quick else 600
    scenario = scenario_from_dict({"name": "validate-poll", "seed": 3, "duration_s": duration,
                                   "sync": {"clients": clients, "objects": 500, "object_bytes": 1024,
                                            "changes_per_s": 5, "poll_period_s": period}},
                                  calibration=calibration)
    s = run_sync(scenario, "poll").summary
    src = "theory: N clients polling every T s"
    return [
        Record("sync/poll_list_rate", f"LIST/s at the apiserver, N={clients}, T={period:g} s", clients / period,
               s["apiserver"]["requests_per_s"]["list"], tolerance=0.02, kind="rel", source=src + " -> N/T",
               unit="1/s", note=f"{duration} s virtual"),
        Record("sync/poll_staleness_mean", "mean staleness of a change in the clients' caches", period / 2,
               s["staleness_s"]["mean"], tolerance=0.05, kind="rel", source=src + " -> T/2", unit="s",
               samples=int(s["staleness_s"].get("samples", 0)),
               note="jitter adds Var/2T and each LIST its own milliseconds"),
        *check_kep2340(quick, calibration),
        *check_kep3157(quick, calibration),
    ]
