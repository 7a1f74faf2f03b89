"""The GPU-share profiles' fused cycle (kbench/policy/fusedgpu.py) gives exactly the generic cycle's results.

For each of the FGD study's six profiles, two frameworks with the same seed, each on its own copy of
a random GPU cluster (GPU models, counts, CPU sizes, nodes without GPUs), schedule the same random
sequence of pods (GPU-sharing, whole-GPU, multi-GPU, CPU-only, model-constrained, too large to fit)
through deletions and added nodes; after every cycle everything a cycle records is compared (node,
GPUs, statuses, arrays, filter log and reasons, scores, work counters), and the random streams.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.policy.api import Handle
from kbench.policy.framework import Framework
from kbench.policy.fusedcycle import FusedCycle
from kbench.policy.fusedgpu import FusedGpuCycle, fusable_gpu
from kbench.policy.profile import profile_from_dict
from kbench.policy.typical import TypicalPods
from tests.policy.builders import MB, node, pod, table
from tests.policy.test_fused_cycle import _same

PROFILES = ["fgd", "best-fit", "packing", "clustering", "dot-prod", "random"]
TYPICAL = TypicalPods.from_records([
    {"cpuMilli": 4000, "gpuMilli": 0, "gpuCount": 0, "gpuModel": "", "weight": 0.2},
    {"cpuMilli": 8000, "gpuMilli": 1000, "gpuCount": 1, "gpuModel": "", "weight": 0.3},
    {"cpuMilli": 2000, "gpuMilli": 500, "gpuCount": 1, "gpuModel": "", "weight": 0.3},
    {"cpuMilli": 16000, "gpuMilli": 1000, "gpuCount": 4, "gpuModel": "V100", "weight": 0.2},
], where="test")


def _node(name: str, rng: np.random.Generator):
    n = node(name, cpu=float(rng.choice([16000, 32000, 64000])), memory=float(rng.choice([64000, 256000])) * MB,
             pods=int(rng.choice([8, 110])))
    if rng.random() < 0.85:
        n.gpu_count, n.gpu_model = int(rng.choice([1, 2, 4, 8])), str(rng.choice(["T4", "V100", "P100"]))
    return n


def _pod(j: int, rng: np.random.Generator):
    kind = rng.choice(["share"] * 4 + ["whole"] * 3 + ["multi", "cpu", "model", "big"])
    cpu = float(rng.choice([1000, 4000, 8000, 12000]))
    share, multi = int(rng.choice([250, 500, 700])), int(rng.choice([2, 4, 8]))
    k, u = {"share": (1, share), "multi": (multi, 1000), "cpu": (0, 0)}.get(kind, (1, 1000))
    model = None
    if kind == "model":
        model = str(rng.choice(["V100", "T4|P100"]))
    if kind == "big":
        cpu = 100000.0
    return pod(f"{kind}-{j}", reqs=[{"cpu": cpu, "memory": 1000 * MB}], gpu_count=k, gpu_milli=u, gpu_model=model)


def _framework(profile: str, seed: int, fused: bool) -> Framework:
    handle = Handle(rng=np.random.default_rng(seed), extra={"typical_pods": TYPICAL})
    return Framework(profile, np.random.default_rng(seed + 1), handle=handle, fused=fused)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("profile", PROFILES)
def test_fused_gpu_cycle_equals_generic(profile, seed):
    rng = np.random.default_rng(seed)
    nodes = [_node(f"n{i:03d}", rng) for i in range(40)]
    tables = (table(nodes), table(nodes))
    fws = (_framework(profile, seed, fused=True), _framework(profile, seed, fused=False))
    assert isinstance(fws[0].fused, FusedGpuCycle) and fws[1].fused is None
    placed: list[tuple] = []
    outcomes = {"placed": 0, "failed": 0}
    for j in range(400):
        r = rng.random()
        if r < 0.1 and placed:  # a deletion (the scheduler's unassume)
            p, row = placed.pop(int(rng.integers(len(placed))))
            for fw, t in zip(fws, tables, strict=True):
                fw.unassume(p, t, row)
            continue
        if r < 0.12:  # a node added
            extra = _node(f"x{j}", rng)
            for t in tables:
                t.add_node(extra)
            continue
        p = _pod(j, rng)
        a, b = (fw.schedule(p, t, assume=True, cycle=j, now=j * 0.01) for fw, t in zip(fws, tables, strict=True))
        _same(a, b)
        assert a.status.message() == b.status.message()
        assert np.array_equal(tables[0].gpu_free_milli, tables[1].gpu_free_milli)
        if a.node_idx is not None:
            placed.append((p, a.node_idx))
        outcomes["placed" if a.node_idx is not None else "failed"] += 1
        assert fws[0].rng.bit_generator.state == fws[1].rng.bit_generator.state
        assert fws[0].handle.rng.bit_generator.state == fws[1].handle.rng.bit_generator.state
        if fws[0].batch is not None:
            assert (fws[0].batch._last, fws[0].batch.flushed) == (fws[1].batch._last, fws[1].batch.flushed)
    assert fws[0].fused.used == sum(outcomes.values())
    assert outcomes["placed"] > 100 and outcomes["failed"] > 30, outcomes  # the cluster fills: both outcomes


def test_fused_gpu_cycle_only_for_that_shape():
    for name in PROFILES:
        assert isinstance(Framework(name, 0).fused, FusedGpuCycle), name
    assert not fusable_gpu(Framework("default", 0, fused=False))
    assert isinstance(Framework("default", 0).fused, FusedCycle)
    assert Framework("fgd", 0, fused=False).fused is None
    # another filter, or less than every node evaluated: the generic path
    same = {"plugins": {"filter": ["NodeResourcesFit", "GpuShare"], "score": [["Fgd", 1]], "reserve": ["Fgd", "GpuShare"]},
            "percentageOfNodesToScore": 100}
    assert isinstance(Framework(profile_from_dict("same", same), 0).fused, FusedGpuCycle)
    more = {**same, "plugins": {**same["plugins"], "filter": ["NodeResourcesFit", "GpuShare", "NodeUnschedulable"]}}
    assert Framework(profile_from_dict("more", more), 0).fused is None
    assert Framework(profile_from_dict("sampled", {**same, "percentageOfNodesToScore": 50}), 0).fused is None


@pytest.mark.parametrize("plugin, method", [("NodeResourcesFit", "pre_filter"), ("NodeResourcesFit", "filter"),
                                            ("GpuShare", "filter")])
def test_a_plugin_error_is_reported_as_on_the_generic_path(plugin, method, monkeypatch):
    gpu_node = node("n0", cpu=32000.0, memory=64000 * MB)
    gpu_node.gpu_count, gpu_node.gpu_model = 2, "T4"
    share = pod("p", reqs=[{"cpu": 1000.0, "memory": 1000 * MB}], gpu_count=1, gpu_milli=500)
    messages = []
    for fused in (True, False):
        fw = _framework("fgd", 1, fused=fused)
        target = fw.plugins[plugin]

        def boom(*args, **kwargs):
            raise ValueError("boom")
        monkeypatch.setattr(target, method, boom)
        if (plugin, method) == ("NodeResourcesFit", "filter"):
            monkeypatch.setattr(target, "filter_every_row", boom)
        fw._filter_fns[plugin] = target.filter
        fw._pre_filter_fns = [(n, fw.plugins[n].pre_filter) for n, _ in fw._pre_filter_fns]
        with pytest.raises(PolicyError) as err:
            fw.schedule(share, table([gpu_node]), assume=True, cycle=0)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "boom" in messages[0]
