"""Builders for table-driven policy tests: the object builders live in :mod:`kbench.validate.builders`
(shared with ``kbench validate``); this module adds the plugin runners ``scores`` and ``run_filter``.

Typical use::

    nodes = table([node("node1", cpu=4000, memory=10000)], [pod("e1", node="node1", reqs=[{"cpu": 1000}])])
    assert scores(LeastAllocated(), pod("p", reqs=[{"cpu": 1000, "memory": 2000}]), nodes) == [75]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kbench.cluster.objects import NodeTable, Pod
from kbench.policy.api import CycleState, FilterResult, Handle
from kbench.validate.builders import (  # noqa: F401  (re-exported for the tests)
    HOSTNAME,
    MB,
    ZONE,
    exists,
    node,
    pod,
    req,
    spread,
    table,
    taint,
    term,
    toleration,
)


def handle_for(nodes: NodeTable) -> Handle:
    """A handle whose ``all_nodes`` is ``nodes``."""
    return Handle(nodes=nodes)


def _candidates(nodes: NodeTable, names: Sequence[str] | None) -> np.ndarray:
    if names is None:
        return np.arange(nodes.n, dtype=np.int64)
    return np.array([nodes.index[n] for n in names], dtype=np.int64)


def scores(plugin, p: Pod, nodes: NodeTable, names: Sequence[str] | None = None,
           state: CycleState | None = None) -> list[int] | None:
    """Run PreScore (if any), Score and NormalizeScore (if any) over ``names`` (default: all rows).

    Returns:
        The final integer scores in candidate order, or None when PreScore returned SKIP.
    """
    state = CycleState() if state is None else state
    cands = _candidates(nodes, names)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, p, nodes, cands)
        if status.is_skip:
            return None
        assert status.ok, status
    raw = np.asarray(plugin.score(state, p, nodes, cands))
    assert raw.dtype == np.int64, raw.dtype
    if hasattr(plugin, "normalize_scores"):
        raw = np.asarray(plugin.normalize_scores(state, p, raw))
    return [int(x) for x in raw]


def run_filter(plugin, p: Pod, nodes: NodeTable, names: Sequence[str] | None = None,
               state: CycleState | None = None) -> list[tuple[bool, str, int]]:
    """Run PreFilter (if any) and Filter; ``(ok, reason, code)`` per candidate.

    A PreFilter SKIP means every candidate passes; a PreFilter rejection applies to every candidate.
    """
    state = CycleState() if state is None else state
    cands = _candidates(nodes, names)
    if hasattr(plugin, "pre_filter"):
        status = plugin.pre_filter(state, p, nodes)
        if status.is_skip:
            return [(True, "", 0)] * len(cands)
        if not status.ok:
            return [(False, status.message(), int(status.code))] * len(cands)
    res: FilterResult = plugin.filter(state, p, nodes, cands)
    codes = np.broadcast_to(np.asarray(res.code), (len(cands),))
    return [(bool(res.ok[i]), res.reason_at(i), 0 if res.ok[i] else int(codes[i])) for i in range(len(cands))]
