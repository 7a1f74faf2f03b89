"""The sync experiment's grid and crossovers (issue 16, item 8), on synthetic summaries with
costs linear in the change rate, as the physics makes them."""

from __future__ import annotations

import pytest

from kbench.experiment.syncsweep import crossovers, grid
from kbench.report.syncfigures import sync_egress


def _summary(strategy: str, changes: float) -> dict:
    # poll: 200 clients x 2,000 x 1,024 B / 10 s = 40.96 MB/s, whatever the change rate;
    # watch: 200 clients x changes x 1,064 B.
    egress = 200 * 2000 * 1024 / 10 if strategy == "poll" else 200 * changes * 1064
    return {"strategy": strategy, "clients": 200, "swept": {"changes_per_s": changes}, "virtual_s": 600.0,
            "apiserver": {"egress_bytes_per_s": egress, "cpu_cores": 1.0, "memory_peak_bytes": 1e8,
                          "egress_bytes_by_kind": {"watch": 0.0 if strategy == "poll" else egress}},
            "etcd": {"cpu_cores": 0.01}}


def test_grid_is_the_cartesian_product_in_order():
    assert grid({"clients": [1, 2], "objects": [10, 20]}) == [
        {"clients": 1, "objects": 10}, {"clients": 1, "objects": 20},
        {"clients": 2, "objects": 10}, {"clients": 2, "objects": 20}]


def test_egress_crosses_at_objects_times_size_over_period_times_event_size():
    """2,000 x 1,024 / (10 x 1,064) = 192.5 changes/s, found exactly between the grid's 100 and 400."""
    runs = [_summary(s, c) for s in ("poll", "list-watch") for c in (10.0, 100.0, 400.0)]
    out = {c["cost"]: c for c in crossovers(runs, {"changes_per_s": [10.0, 100.0, 400.0]})}
    eg = out["egress_bytes_per_s"]
    assert eg["x"] == pytest.approx(2000 * 1024 / (10 * 1064)) and eg["between"] == [100.0, 400.0]
    assert eg["cheaper"] == "list-watch"  # below the crossing
    assert out["apiserver_cores"]["x"] is None  # equal everywhere: no sign change
    fig = sync_egress(runs, list(out.values()))
    lines = [t for t in fig.data if t.name.startswith("crossover")]
    assert len(lines) == 1 and lines[0].x[0] == pytest.approx(192.48, abs=0.01)
