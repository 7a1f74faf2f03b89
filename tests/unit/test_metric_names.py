"""The metric names compare and sweep accept before a run (kbench/metrics/names.py) are the summary's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbench.errors import KbenchError
from kbench.experiment.compare import metric_paths
from kbench.metrics.names import SUMMARY_METRICS, check_metric, is_known

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NOT_IN_GOLDEN = ("sim.", "measured.", "pods.pending_reasons.", "watch.terminated_by_class.", "gc.deleted.",
                 "etcd_events.")
"""Patterns the golden summaries do not exercise: sim is left out of them, no golden scenario has a
measured phase, pods left pending with reasons, slow watchers terminated, a garbage collector's
deletion or Events in a separate etcd."""


def _golden_paths() -> set[str]:
    out: set[str] = set()
    for f in sorted(GOLDEN.glob("*.json")):
        out |= set(metric_paths(json.loads(f.read_text())))
    return out


def test_every_numeric_path_of_the_golden_summaries_is_known():
    """A summary figure added without adding its name here fails (so compare would refuse it)."""
    paths = _golden_paths()
    assert len(paths) > 100
    unknown = sorted(p for p in paths if not is_known(p))
    assert not unknown, f"add these to kbench/metrics/names.py SUMMARY_METRICS: {unknown}"


def test_every_pattern_names_a_real_path():
    """No stale name: each pattern matches a path of some golden summary (or is listed as not in them)."""
    paths = _golden_paths()
    from kbench.metrics.names import _regex

    stale = [p for p in SUMMARY_METRICS if not p.startswith(NOT_IN_GOLDEN)
             and not any(_regex(p).match(x) for x in paths)]
    assert not stale, stale


@pytest.mark.parametrize(("name", "hint"), [
    ("pod_startup.p99", "pod_startup_s.p99"), ("scheduling.throughput", "scheduling.throughput_pods_per_s"),
    ("gpu.unallocated_pct_at_arrive.100", "gpu.unallocated_pct_at_arrived.100"), ("api.latency_p99_s", None),
])
def test_misspelt_names_are_refused_with_a_hint(name, hint):
    with pytest.raises(KbenchError) as err:
        check_metric(name)
    msg = err.value.one_line()
    assert msg.startswith(f"--metric: unknown metric '{name}'")
    if hint:
        assert f"did you mean '{hint}'" in msg


@pytest.mark.parametrize("name", ["counters.watch_events", "gpu.frag_rate_pct_at_arrived.105", "pods.created",
                                  "measured.pod_startup_s.p99", "sim.events", "seed"])
def test_known_names_pass(name):
    assert check_metric(name) == name
