"""The fast paths of issue 8 give exactly what the plain computations give.

* :mod:`kbench.policy.fragmemo` (F and FGD scores by node state) against the vectorised functions
  of :mod:`kbench.policy.gpufrag` on the rows, bit for bit, while pods come and go;
* the node table's ``gpu_free_total`` and ``gpu_fit_count`` against sums over ``gpu_free_milli``;
* the filter log's failure counts and distinct reasons against the per-node arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.policy.api import CodedReasons, FilterResult
from kbench.policy.fragmemo import FragMemo
from kbench.policy.framework import Framework
from kbench.policy.gpufrag import (
    access_matrix,
    cpu_free,
    fgd_other_scores,
    fgd_share_scores,
    gpu_free,
    node_frag,
)
from kbench.policy.results import FilterLog
from kbench.policy.typical import typical_pods
from tests.policy.builders import table
from tests.policy.test_gpufrag import gpod, gpu_node

SHAPES = [(0, 0), (1, 250), (1, 500), (1, 800), (1, 1000), (2, 1000)]


def gpu_cluster(rng, n=30):
    nodes = [gpu_node(f"n{i}", int(rng.choice([1, 2, 4, 8])), cpu=int(rng.choice([16000, 32000, 64000])),
                      model=str(rng.choice(["T4", "V100"]))) for i in range(n)]
    typical = typical_pods([gpod(f"t{i}", int(rng.choice([1000, 4000, 8000, 16000])), *SHAPES[rng.integers(6)],
                                 model=[None, None, "T4", "V100|T4"][rng.integers(4)]) for i in range(60)])
    return table(nodes), typical


def direct_scores(nodes, typical, c_p, k, u):
    rows = np.arange(nodes.n)
    cpu, g, count = cpu_free(nodes, rows), gpu_free(nodes, rows), nodes.gpu_count
    access = access_matrix(nodes, rows, typical)
    if k == 1 and u < 1000:
        return fgd_share_scores(cpu, g, count, access, typical, c_p, u)
    return fgd_other_scores(cpu, g, count, access, typical, c_p, k, u), None


@pytest.mark.parametrize("seed", range(4))
def test_memo_matches_the_vectorised_functions_as_pods_come_and_go(seed):
    rng = np.random.default_rng(seed)
    nodes, typical = gpu_cluster(rng)
    memo = FragMemo(typical)
    placed = []
    for step in range(120):
        rows = np.arange(nodes.n)
        want_f = node_frag(cpu_free(nodes, rows), gpu_free(nodes, rows), access_matrix(nodes, rows, typical), typical)
        assert memo.node_values(nodes, rows).tolist() == want_f.tolist()  # bit for bit
        k, u = SHAPES[rng.integers(6)]
        c_p = int(rng.choice([500, 2000, 8000]))
        want, want_gpu = direct_scores(nodes, typical, c_p, k, u)
        assert memo.scores(nodes, rows, c_p, k, u).tolist() == want.tolist()
        sub = rows[rng.random(nodes.n) < 0.3]
        assert memo.scores(nodes, sub, c_p, k, u).tolist() == want[sub].tolist()
        if want_gpu is not None:
            assert [memo.share_choice(nodes, i, c_p, u) for i in rows.tolist()] == want_gpu.tolist()
        if placed and rng.random() < 0.3:  # a pod leaves
            p, i = placed.pop(int(rng.integers(len(placed))))
            nodes.remove_pod(p, i)
            continue
        p = gpod(f"p{step}", c_p, k, u)
        fits = np.flatnonzero((nodes.gpu_fit_count(u) >= k) & (cpu_free(nodes, rows) >= c_p))
        if fits.size:
            i = int(fits[rng.integers(fits.size)])
            nodes.add_pod(p, i)
            placed.append((p, i))
    assert memo.computed > 0


def test_table_gpu_columns_follow_binding():
    rng = np.random.default_rng(7)
    nodes, _ = gpu_cluster(rng, n=12)
    pods = []
    for step in range(80):
        g = nodes.gpu_free_milli
        assert nodes.gpu_free_total.tolist() == np.maximum(g, 0).sum(axis=1).tolist()
        for u in (1, 250, 1000):
            assert nodes.gpu_fit_count(u).tolist() == (g >= u).sum(axis=1).tolist()
        if pods and rng.random() < 0.4:
            p, i = pods.pop(int(rng.integers(len(pods))))
            nodes.remove_pod(p, i)
            continue
        k, u = SHAPES[1 + rng.integers(5)]
        fits = np.flatnonzero(nodes.gpu_fit_count(u) >= k)
        if fits.size:
            p = gpod(f"p{step}", 100, k, u)
            i = int(fits[rng.integers(fits.size)])
            nodes.add_pod(p, i)
            pods.append((p, i))



def test_recorder_totals_match_a_full_recomputation_as_pods_come_and_go():
    """FgdRecorder's incremental idle total and F sum equal a fresh sum over every row, event by event."""
    from types import SimpleNamespace

    from kbench.metrics.fgd import FgdRecorder
    from kbench.policy.gpufrag import node_frag_amount

    rng = np.random.default_rng(11)
    nodes, typical = gpu_cluster(rng, n=25)
    rec = FgdRecorder(SimpleNamespace(nodes=nodes, listeners=[]), typical)
    placed = []
    for step in range(150):
        if placed and rng.random() < 0.35:
            p, i = placed.pop(int(rng.integers(len(placed))))
            nodes.remove_pod(p, i)
        else:
            k, u = SHAPES[rng.integers(6)]
            p = gpod(f"p{step}", int(rng.choice([500, 2000])), k, u)
            fits = np.flatnonzero(nodes.gpu_fit_count(max(u, 1)) >= k) if k else np.arange(nodes.n)
            if fits.size:
                i = int(fits[rng.integers(fits.size)])
                nodes.add_pod(p, i)
                placed.append((p, i))
        rec.record(float(step))
        _, _, alloc, frag, idle = rec._rows[-1]
        assert idle == float(np.maximum(nodes.gpu_free_milli, 0).sum())
        assert alloc == rec.capacity_milli - idle
        assert frag == float(node_frag_amount(nodes, typical).sum())  # bit for bit


def test_model_column_is_cached_until_a_node_is_added():
    from kbench.policy.gpufrag import model_access, model_column

    nodes = table([gpu_node("a", 2, model="T4"), gpu_node("b", 2, model="V100")])
    col = model_column(nodes, "T4")
    assert col.tolist() == [True, False] and model_column(nodes, "T4") is col
    assert model_access(nodes, np.array([1, 0]), "V100|T4").tolist() == [True, True]
    nodes.add_node(gpu_node("c", 1, model="T4"))
    assert model_column(nodes, "T4").tolist() == [True, False, True]

def test_filter_log_counts_and_distinct_reasons_match_the_per_node_arrays():
    rng = np.random.default_rng(3)
    n = 200
    log = FilterLog(n, ["A", "B"])
    log.start, log.processed = 17, 150  # a window: rows 17..166 evaluated
    alive = (np.arange(n) + 17) % n
    texts = ["", "too small", "wrong model", "too small"]  # a repeated text counts as one reason
    codes = rng.integers(0, 4, alive.size)
    res_a = FilterResult(codes == 0, lambda: CodedReasons(codes, texts))
    log.records.append(("A", alive, res_a, res_a.ok))
    alive_b = alive[res_a.ok]
    why_b = np.array([f"r{x}" for x in rng.integers(0, 3, alive_b.size)], dtype=object)
    ok_b = rng.random(alive_b.size) < 0.5
    log.records.append(("B", alive_b, FilterResult(ok_b, why_b), ok_b))
    per_node = log.reasons()
    rows, _, _, whys = log.failures()
    counts, total, unresolvable = log.failure_counts()
    assert total == len(rows) and not unresolvable
    assert counts == {w: whys.count(w) for w in set(whys)}
    evaluated = np.zeros(n, dtype=bool)
    evaluated[(np.arange(150) + 17) % n] = True
    for name, values in log.distinct_reasons().items():
        vals = per_node[name][evaluated]
        bad = vals[(vals != None) & (vals != "Success")]  # noqa: E711 - elementwise
        assert values == list(dict.fromkeys(bad.tolist()))
    assert set(log.distinct_reasons()) == {"A", "B"}


def test_unschedulable_message_is_unchanged_by_counting_codes():
    from kbench.policy.results import FilterReasons
    nodes = table([gpu_node(f"n{i}", 2, cpu=4000) for i in range(6)],
                  [gpod(f"x{i}", 1000 if i < 3 else 100, 1, 1000, on=f"n{i}", gpus=[0]) for i in range(6)])
    fw = Framework("fgd", 0)
    res = fw.schedule(gpod("big", 3500, 2, 1000), nodes, assume=False)
    assert res.node is None
    assert res.status.message() == ("0/6 nodes are available: 3 Insufficient cpu, "
                                    "3 fewer than 2 GPUs with 1000 milli free")
    assert isinstance(res.filter_reasons, FilterReasons)
    assert res.filter_reasons.distinct() == {"NodeResourcesFit": ["Insufficient cpu"],
                                             "GpuShare": ["fewer than 2 GPUs with 1000 milli free"]}
