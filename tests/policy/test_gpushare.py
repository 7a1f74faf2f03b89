"""Open-Gpu-Share filter and Reserve GPU choice (FGD.md §2.1; open_gpu_share.go, gpunodeinfo.go)."""

from __future__ import annotations

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle
from policies.gpushare import GpuShare, select_gpus
from tests.policy.builders import node, pod, run_filter, table


def gpu_node(name, gpus, model="T4"):
    n = node(name, cpu=32000, memory=64e9)
    n.gpu_count, n.gpu_model = gpus, model
    return n


def gpod(name, k=0, u=0, model=None, on=None, gpus=()):
    return pod(name, reqs=[{"cpu": 1000}], gpu_count=k, gpu_milli=u, gpu_model=model, node=on,
               gpu_indices=tuple(gpus))


@pytest.fixture
def nodes():
    # n0: 2 idle T4; n1: 2 T4, free [1000, 700]; n2: 1 V100, free [600]; n3: no GPU.
    return table(
        [gpu_node("n0", 2), gpu_node("n1", 2), gpu_node("n2", 1, "V100"), node("n3", cpu=32000, memory=64e9)],
        [gpod("b1", 1, 300, on="n1", gpus=[1]), gpod("b2", 1, 400, on="n2", gpus=[0])],
    )


def verdicts(p, nodes):
    return [(ok, reason) for ok, reason, _ in run_filter(GpuShare(), p, nodes)]


def test_cpu_only_pod_passes_every_node(nodes):
    assert [ok for ok, _ in verdicts(gpod("p"), nodes)] == [True] * 4


def test_share_fit_on_one_gpu(nodes):
    # 500: n0 (1000), n1 (1000 or 700), n2 (600) fit; n3 has no GPU.
    assert verdicts(gpod("p", 1, 500), nodes) == [(True, ""), (True, ""), (True, ""), (False, "node has no GPU")]
    # 800: n2's only GPU has 600 free.
    assert [ok for ok, _ in verdicts(gpod("p", 1, 800), nodes)] == [True, True, False, False]
    assert verdicts(gpod("p", 1, 800), nodes)[2] == (False, "no GPU with 800 milli free")


def test_gpu_model_must_match(nodes):
    assert verdicts(gpod("p", 1, 500, model="V100"), nodes) == [
        (False, "GPU model is not V100"), (False, "GPU model is not V100"), (True, ""), (False, "node has no GPU")]
    assert [ok for ok, _ in verdicts(gpod("p", 1, 500, model="T4|V100"), nodes)] == [True, True, True, False]


def test_k_whole_gpus_need_k_fully_free(nodes):
    # 2 x 1000: only n0 has two fully free GPUs (n1 has one, n2 has one GPU).
    got = verdicts(gpod("p", 2, 1000), nodes)
    assert [ok for ok, _ in got] == [True, False, False, False]
    assert got[1] == (False, "fewer than 2 GPUs with 1000 milli free")
    # 1 x 1000: n1's GPU 0 is fully free.
    assert [ok for ok, _ in verdicts(gpod("p", 1, 1000), nodes)] == [True, True, False, False]


def reserve(plugin, p, nodes, name, state=None):
    state = CycleState() if state is None else state
    status = plugin.reserve(state, p, nodes, nodes.index[name])
    return status, state.get("gpus")


def test_reserve_best_fit_gpu(nodes):
    share = GpuShare()
    # n1 free [1000, 700]: a 500 pod takes the tightest fit, GPU 1; n0 ties -> lowest index.
    assert reserve(share, gpod("p", 1, 500), nodes, "n1")[1] == (1,)
    assert reserve(share, gpod("p", 1, 500), nodes, "n0")[1] == (0,)
    # 800 does not fit GPU 1 (700): GPU 0.
    assert reserve(share, gpod("p", 1, 800), nodes, "n1")[1] == (0,)
    # Whole GPUs: the lowest-indexed fully free ones.
    assert reserve(share, gpod("p", 2, 1000), nodes, "n0")[1] == (0, 1)
    assert reserve(share, gpod("p", 1, 1000), nodes, "n1")[1] == (0,)
    # CPU-only pods get no GPU; a choice already made (by FGD's Reserve) is kept.
    assert reserve(share, gpod("p"), nodes, "n0")[1] is None
    assert reserve(share, gpod("p", 1, 500), nodes, "n1", CycleState(gpus=(0,)))[1] == (0,)
    status, _ = reserve(share, gpod("p", 1, 800), nodes, "n2")
    assert not status.ok


def test_reserve_random_draws_from_the_seeded_stream(nodes):
    # n0 has two fitting GPUs: the choice is the seeded draw, the same for the same seed.
    def picks(seed):
        plugin = GpuShare({"gpuSelMethod": "random"}, Handle(rng=np.random.default_rng(seed)))
        return [reserve(plugin, gpod("p", 1, 500), nodes, "n0")[1][0] for _ in range(20)]

    assert picks(7) == picks(7)
    rng = np.random.default_rng(7)
    assert picks(7) == [int(rng.integers(2)) for _ in range(20)]
    assert set(picks(7)) == {0, 1}


def test_select_gpus_methods():
    free = np.array([300, 1000, 600, 1000])
    assert select_gpus(free, 1, 250, "best") == (0,)
    assert select_gpus(free, 1, 250, "worst") == (1,)
    assert select_gpus(free, 2, 1000) == (1, 3)
    assert select_gpus(free, 3, 1000) == ()
    assert select_gpus(free, 0, 0) == ()


def test_bad_args_name_the_field():
    with pytest.raises(PolicyError, match=r"args\.gpuSelMethod"):
        GpuShare({"gpuSelMethod": "fastest"})
    with pytest.raises(PolicyError, match=r"args\.bogus"):
        GpuShare({"bogus": 1})
