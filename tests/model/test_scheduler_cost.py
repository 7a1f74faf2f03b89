"""The cycle cost follows the work (issue 17, Build 3): the one calibration holds, and InterPodAffinity
and PodTopologySpread work makes cycles slower in proportion (more existing pods with terms => slower)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kbench.cluster.objects import NodeTable
from kbench.cluster.scheduler.cost import CycleCost
from kbench.config.scheduler import SchedulerConfig, SchedulerCostConfig
from kbench.policy.framework import Framework
from kbench.validate.builders import aff_term, affinity, node, pod, spread

ROOT = Path(__file__).parents[2]


def test_basic_5000_nodes_within_20pct_of_680():
    """M1, the calibration: SchedulingBasic/5000Nodes_10000Pods at 680 pods/s (shortened to 3,000
    measured pods: the throughput is steady after a few seconds)."""
    from kbench.workload.schedperf.config import load_perf_config
    from kbench.workload.schedperf.runner import run_workload

    cfg = load_perf_config(ROOT / "workloads" / "scheduler_perf" / "performance-config.yaml", {"measurePods": 3000})
    average = run_workload(cfg, "SchedulingBasic", "5000Nodes_10000Pods", 1)["scheduling"]["throughput_pods_per_s"][
        "average"]
    assert 0.8 * 680 <= average <= 1.2 * 680


def cluster(n_nodes: int, existing) -> NodeTable:
    nodes = [node(f"n{i:04d}", 4000, 16 * 2**30, labels={"kubernetes.io/hostname": f"n{i:04d}",
                                                         "topology.kubernetes.io/zone": f"z{i % 3}"})
             for i in range(n_nodes)]
    table = NodeTable.from_nodes(nodes)
    for i, p in enumerate(existing):
        table.add_pod(p, i % n_nodes)
    return table


def cycle_seconds(p, table) -> float:
    fw = Framework("default", 0)
    result = fw.schedule(p, table, assume=False)
    return CycleCost(SchedulerConfig()).seconds(result.state.work)


ANTI = affinity(anti=[aff_term("app", "In", "kubernetes.io/hostname", "db")])


@pytest.mark.parametrize("kind", ["required anti-affinity", "preferred affinity"])
def test_cost_grows_with_existing_pods_holding_terms(kind):
    """Existing pods with required anti-affinity (checked against the incoming pod in PreFilter) or
    bound pods the incoming pod's preferred term must look at (PreScore): 0 < 100 < 1000 < 3000."""
    got = []
    for k in (0, 100, 1000, 3000):
        if kind == "required anti-affinity":
            existing = [pod(f"e{i}", labels={"app": "web"}, reqs=[{"cpu": 1}], affinity=ANTI) for i in range(k)]
            incoming = pod("p", labels={"app": "db"}, reqs=[{"cpu": 100}])
        else:
            existing = [pod(f"e{i}", labels={"app": "web"}, reqs=[{"cpu": 1}]) for i in range(k)]
            incoming = pod("p", reqs=[{"cpu": 100}], affinity=affinity(
                preferred=[(10, aff_term("app", "In", "topology.kubernetes.io/zone", "web"))]))
        got.append(cycle_seconds(incoming, cluster(1000, existing)))
    assert got == sorted(got) and len(set(got)) == 4, got


def test_cost_grows_with_spread_constraints_and_matching_pods():
    """PodTopologySpread: more hard constraints => slower, more bound pods to count => slower."""
    zone = spread(1, "topology.kubernetes.io/zone", "DoNotSchedule", {"matchLabels": {"app": "web"}})
    host = spread(1, "kubernetes.io/hostname", "DoNotSchedule", {"matchLabels": {"app": "web"}})
    by_constraints = [cycle_seconds(pod("p", labels={"app": "web"}, reqs=[{"cpu": 1}], topology_spread=c),
                                    cluster(1000, [])) for c in ([], [zone], [zone, host])]
    assert by_constraints[0] < by_constraints[1] < by_constraints[2], by_constraints
    by_pods = [cycle_seconds(pod("p", labels={"app": "web"}, reqs=[{"cpu": 1}], topology_spread=[zone]),
                             cluster(1000, [pod(f"e{i}", labels={"app": "web"}, reqs=[{"cpu": 1}]) for i in range(k)]))
               for k in (0, 1000, 5000)]
    assert by_pods[0] < by_pods[1] < by_pods[2], by_pods


def test_a_plain_pod_costs_the_same_with_or_without_bound_pods():
    """No affinity anywhere: InterPodAffinity and PodTopologySpread skip in O(1), so 3,000 bound
    plain pods cost nothing more than none."""
    p = pod("p", reqs=[{"cpu": 100}])
    empty = cycle_seconds(p, cluster(1000, []))
    full = cycle_seconds(p, cluster(1000, [pod(f"e{i}", reqs=[{"cpu": 1}]) for i in range(3000)]))
    assert full == pytest.approx(empty, rel=1e-9)


def test_cost_constants_are_named_once():
    """Every cost constant lives in SchedulerCostConfig (kbench/config/scheduler.py), with its source."""
    names = [f for f in SchedulerCostConfig.__dataclass_fields__ if f.endswith("_us")]
    text = (ROOT / "kbench" / "config" / "scheduler.py").read_text()
    for name in [*names, "scale"]:
        line = next(x for x in text.splitlines() if re.match(rf"\s+{name}: float = ", x))
        assert re.search(r"# (M\d|kbench default)", line), line
    pattern = re.compile(r"\b(" + "|".join(names) + r")\s*[:=]")
    for path in [*ROOT.joinpath("kbench").rglob("*.py"), *ROOT.joinpath("policies").rglob("*.py")]:
        if path.name == "scheduler.py" and path.parent.name == "config":
            continue
        assert not pattern.search(path.read_text()), path


def test_work_kinds_all_have_a_price():
    """Every work kind the framework and the default plugins report is priced."""
    price = SchedulerCostConfig().per_kind_s()
    p = pod("p", labels={"app": "db"}, reqs=[{"cpu": 100}], affinity=ANTI, ports=("TCP//80",),
            topology_spread=[spread(1, "topology.kubernetes.io/zone", "DoNotSchedule", {"matchLabels": {"app": "db"}})])
    table = cluster(200, [pod(f"e{i}", labels={"app": "web"}, reqs=[{"cpu": 1}], affinity=ANTI) for i in range(50)])
    result = Framework("default", 0).schedule(p, table, assume=False)
    assert set(result.state.work) <= set(price), set(result.state.work) - set(price)
    assert np.isfinite(CycleCost(SchedulerConfig()).seconds(result.state.work))
