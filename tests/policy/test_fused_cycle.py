"""The default profile's fused cycle (kbench/policy/fusedcycle.py) gives exactly the generic cycle's results.

Two frameworks with the same seed, each on its own copy of a random cluster, schedule the same
random sequence of pods (Deployment-like pods that the fused cycle takes, and pods with tolerations,
node selectors, host ports, pod anti-affinity, no owner, or too large to fit, several of which it
must leave to the generic path) through random node changes (taints, cordons, labels, new nodes)
and deletions; after every cycle everything a cycle records is compared, and after every step
the start index, the random stream and the batching state.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.policy.api import Handle
from kbench.policy.framework import Framework
from kbench.policy.fusedcycle import FusedCycle, fusable
from kbench.policy.profile import profile_from_dict
from kbench.validate.builders import aff_term, affinity
from tests.policy.builders import HOSTNAME, MB, ZONE, node, pod, table, taint, toleration

IMAGE = "registry.example.com/app:1.0"


def _node(i: int, rng: np.random.Generator, kind: str):
    taints, images, cordoned = [], {}, False
    if kind == "uniform":  # every node alike: TaintToleration's and ImageLocality's scores are uniform
        taints, images = [taint("spot", "true", "PreferNoSchedule")], {IMAGE: 500 * MB}
    elif kind == "mixed":
        if rng.random() < 0.1:
            taints.append(taint("spot", "true", "PreferNoSchedule"))
        if rng.random() < 0.05:
            taints.append(taint("gpu", "yes", "NoSchedule"))
        images = {IMAGE: 500 * MB} if rng.random() < 0.3 else {}
        cordoned = bool(rng.random() < 0.03)
    return node(f"n{i:03d}", cpu=float(rng.choice([2000, 4000, 8000])), memory=float(rng.choice([4000, 16000])) * MB,
                pods=int(rng.choice([4, 110])), labels={HOSTNAME: f"n{i:03d}", ZONE: f"z{i % 3}"},
                taints=taints, images=images, unschedulable=cordoned)


def _pod(j: int, rng: np.random.Generator):
    kind = rng.choice(["web"] * 8 + ["api", "api", "tolerant", "bare", "big", "extended", "selector", "anti", "ports"])
    cpu = float(rng.choice([100, 250, 1000]))
    common = dict(reqs=[{"cpu": cpu, "memory": 64 * MB}], labels={"app": "web"}, owner="ReplicaSet/web")
    if kind == "web":
        return pod(f"web-{j}", images=[IMAGE] if rng.random() < 0.5 else [], **common)
    if kind == "api":
        return pod(f"api-{j}", reqs=[{"cpu": cpu}], labels={"app": "api"}, owner="ReplicaSet/api")
    if kind == "tolerant":
        return pod(f"tol-{j}", tolerations=[toleration("spot", "true", "PreferNoSchedule"),
                                            toleration("gpu", "yes", "NoSchedule")], **common)
    if kind == "bare":
        return pod(f"bare-{j}", reqs=[{"cpu": cpu}])
    if kind == "big":
        return pod(f"big-{j}", reqs=[{"cpu": 64000.0}], labels={"app": "web"}, owner="ReplicaSet/web")
    if kind == "extended":  # no node has the resource: Insufficient everywhere
        return pod(f"ext-{j}", reqs=[{"cpu": cpu, "example.com/foo": 1.0}], labels={"app": "web"}, owner="ReplicaSet/web")
    if kind == "selector":
        return pod(f"sel-{j}", node_selector={ZONE: "z1"}, **common)
    if kind == "anti":
        return pod(f"anti-{j}", reqs=[{"cpu": cpu}], labels={"app": "anti"},
                   affinity=affinity(anti=[aff_term("app", "In", HOSTNAME, "anti")]))
    return pod(f"ports-{j}", ports=["TCP/0.0.0.0/8080"], **common)


def _framework(seed: int, fused: bool) -> Framework:
    objects = ClusterObjects()
    objects.add_controller("ReplicaSet", "default", "web", {"matchLabels": {"app": "web"}})
    objects.add_controller("ReplicaSet", "default", "api", {"matchLabels": {"app": "api"}})
    return Framework("default", seed, handle=Handle(objects=objects), fused=fused)


def _same(a, b) -> None:
    assert (a.node, a.node_idx, a.status, a.gpus, a.nominated_node) == (b.node, b.node_idx, b.status, b.gpus,
                                                                      b.nominated_node)
    for field in ("feasible", "evaluated", "scored", "total"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.weights == b.weights and a.pre_filter == b.pre_filter and a.pre_score == b.pre_score
    assert list(a.state.work.items()) == list(b.state.work.items())  # the priced cost sums in this order
    assert list(a.state) == list(b.state)
    assert (a.log.start, a.log.processed, a.rejectors()) == (b.log.start, b.log.processed, b.rejectors())
    assert list(a.filter_reasons) == list(b.filter_reasons)
    for name in a.filter_reasons:
        assert a.filter_reasons[name].tolist() == b.filter_reasons[name].tolist(), name
    assert a.filter_reasons.distinct() == b.filter_reasons.distinct()
    assert list(a.scores) == list(b.scores)
    for name in a.scores:
        x, y = a.scores[name], b.scores[name]
        assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), name


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("n_nodes", [30, 180])
@pytest.mark.parametrize("kind", ["plain", "uniform", "mixed"])
def test_fused_cycle_equals_generic(kind, seed, n_nodes):
    rng = np.random.default_rng(seed)
    nodes = [_node(i, rng, kind) for i in range(n_nodes)]
    tables = (table(nodes), table(nodes))
    fws = (_framework(seed, fused=True), _framework(seed, fused=False))
    assert fws[0].fused is not None and fws[1].fused is None
    placed: list[tuple] = []
    undo = None
    generic_only = 0
    for j in range(300):
        r = rng.random()
        anti = [i for i, (p, _) in enumerate(placed) if p.pod_affinity is not None]
        if (r < 0.08 and placed) or (anti and r < 0.3):  # a deletion (the scheduler's unassume)
            p, row = placed.pop(anti[0] if anti else int(rng.integers(len(placed))))
            for fw, t in zip(fws, tables, strict=True):
                fw.unassume(p, t, row)
            continue
        if r < 0.11:  # a node change, undone at the next one (the fused case comes back)
            if undo is not None:
                undo()
                undo = None
                continue
            row, what = int(rng.integers(tables[0].n)), rng.choice(["taint", "cordon", "label", "add"])
            if what == "taint":
                old = [list(t.taints[row]) for t in tables]
                effect = str(rng.choice(["PreferNoSchedule", "NoSchedule"]))
                for t in tables:
                    t.set_taints(row, [*t.taints[row], taint("extra", "x", effect)])
                undo = lambda row=row, old=old: [t.set_taints(row, o) for t, o in zip(tables, old, strict=True)]  # noqa: E731
            elif what == "cordon":
                for t in tables:
                    t.set_unschedulable(row, True)
                undo = lambda row=row: [t.set_unschedulable(row, False) for t in tables]  # noqa: E731
            elif what == "label":
                for t in tables:
                    t.set_labels(row, {**t.labels[row], ZONE: "z9"})
            else:
                for t in tables:
                    t.add_node(node(f"x{j}", cpu=4000.0, memory=8000 * MB, labels={HOSTNAME: f"x{j}", ZONE: "z0"},
                                    taints=list(tables[0].taints[0]), images=dict(nodes[0].images)))
            continue
        p = _pod(j, rng)
        before = fws[0].fused.used
        a, b = (fw.schedule(p, t, assume=True, cycle=j, now=j * 0.01) for fw, t in zip(fws, tables, strict=True))
        generic_only += fws[0].fused.used == before
        _same(a, b)
        if a.node_idx is not None:
            placed.append((p, a.node_idx))
        assert fws[0].rotation == fws[1].rotation
        assert fws[0].rng.bit_generator.state == fws[1].rng.bit_generator.state
        if fws[0].batch is not None:
            assert (fws[0].batch._last, fws[0].batch.flushed) == (fws[1].batch._last, fws[1].batch.flushed)
    # both paths were exercised (a mixed cluster's cordoned and NoSchedule nodes keep most pods generic)
    assert generic_only > 15 and (kind == "mixed" or fws[0].fused.used > 70), (generic_only, fws[0].fused.used)


def test_fused_cycle_only_for_the_default_profile():
    assert fusable(Framework("default", 0, fused=False))
    assert not isinstance(Framework("fgd", 0).fused, FusedCycle)
    assert Framework("least-allocated", 0).fused is None
    custom = {"base": "default", "plugins": {"multiPoint": {"disabled": ["ImageLocality"]}}}
    assert Framework(profile_from_dict("custom", custom), 0).fused is None
    assert isinstance(Framework("default", 0).fused, FusedCycle)
