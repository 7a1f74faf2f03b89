"""The GPU-share profiles' cycle, fused (issue 21, item 4: the placement-only target).

The FGD study's six policies (``fgd``, ``best-fit``, ``packing``, ``clustering``, ``dot-prod``,
``random``) share one profile shape: NodeResourcesFit's PreFilter, the filters NodeResourcesFit then
GpuShare on every node (``percentageOfNodesToScore: 100``), one Score plugin, and Reserve plugins.
:meth:`Framework.schedule <kbench.policy.framework.Framework.schedule>` dispatches it generically
(the PreFilter loop, the pass checks, the window search, each verdict checked and recorded).
:class:`FusedGpuCycle` makes the same plugin calls in the same order without that machinery, on the
one window that every node makes from row 0 (the two filters are kbench's own, so their verdicts
need no checking). Scoring, tie-breaking, Reserve and PostFilter are the framework's own code. The
result is the generic one: the same node, GPUs, draws, statuses, filter log, reasons and work
counters (keys, order, values). ``tests/policy/test_fused_gpu_cycle.py`` runs both paths side by
side on random GPU clusters and pods, for each of the six profiles.

It applies to any profile of that shape whose NodeResourcesFit and GpuShare are kbench's own and
which does not batch (OpportunisticBatching off or never signing, as the default fused cycle).
"""

from __future__ import annotations

import numpy as np

from kbench.policy.api import CycleState
from kbench.policy.fusedcycle import never_batches, own_plugins
from kbench.policy.results import ScheduleResult

PRE_FILTERS = ["NodeResourcesFit"]
FILTERS = ["NodeResourcesFit", "GpuShare"]
_MODULES = {"NodeResourcesFit": "policies.noderesources", "GpuShare": "policies.gpushare"}


def fusable_gpu(fw) -> bool:
    """Whether ``fw`` has the GPU-share profiles' shape (see the module docstring)."""
    if fw.pre_filters != PRE_FILTERS or fw.filters != FILTERS or fw._pass_checks or fw.percentage != 100:
        return False
    return own_plugins(fw, _MODULES) and never_batches(fw)


class FusedGpuCycle:
    """The fused cycle of one GPU-share :class:`~kbench.policy.framework.Framework` (module docstring).

    Args:
        fw: The framework; :func:`fusable_gpu` must hold.
    """

    def __init__(self, fw):
        self.fw = fw
        self.fit, self.gpu_share = fw.plugins["NodeResourcesFit"], fw.plugins["GpuShare"]
        self.used = 0
        """Cycles the fused path ran."""

    def applies(self, pod, nodes) -> bool:
        """Every pod, on a non-empty table (the profile's plugins look at nothing else)."""
        return nodes.n > 0

    def run(self, pod, nodes, cycle: int | None, now: float) -> ScheduleResult | None:
        """:meth:`Framework.schedule` with ``assume`` and no nominated node (never None, which the
        fused cycles' contract allows for the generic path: this profile's every cycle fuses)."""
        fw = self.fw
        n = nodes.n  # percentage 100 (fusable_gpu, set once at init): every node is evaluated
        self.used += 1
        fw.handle.nodes = nodes
        state = CycleState()
        result = fw.new_result(n, state)
        log, work = result.log, state.work
        work["point_call"] += len(PRE_FILTERS)  # integers in a float: exact as the generic += 1
        try:
            self.fit.pre_filter(state, pod, nodes)  # SUCCESS, its request in the state (not recorded)
        except Exception as err:  # noqa: BLE001 - reported with context, as the generic path does
            raise fw._fail("NodeResourcesFit", "PreFilter", pod, err) from err
        # _filter_window with k = n: one chunk of every row from row 0
        rows = fw._ring(n)[0:n]
        records = log.records
        try:
            res = self.fit.filter_every_row(state, pod, nodes)
        except Exception as err:  # noqa: BLE001 - reported with context, as the generic path does
            raise fw._fail("NodeResourcesFit", "Filter", pod, err) from err
        ok = res.ok
        records.append(("NodeResourcesFit", rows, res, ok))
        alive, rejected = rows, False
        if np.count_nonzero(ok) != ok.size:
            alive, rejected = rows[ok], True
        if alive.size:
            try:
                res = self.gpu_share.filter(state, pod, nodes, alive)
            except Exception as err:  # noqa: BLE001 - reported with context, as the generic path does
                raise fw._fail("GpuShare", "Filter", pod, err) from err
            ok = res.ok
            records.append(("GpuShare", alive, res, ok))
            if np.count_nonzero(ok) != ok.size:
                alive = alive[ok]
                rejected = True
        result.span, result.alive = (0, n), alive
        work["filter_node"] = float(n)
        work["filter_call"] = float(log.rows_seen() if rejected else n * len(FILTERS))
        if alive.size == 0:
            return fw._post_filter(pod, nodes, result, log)
        out = fw._score_and_select(pod, nodes, result, alive, True, False)
        batch = fw.batch
        if cycle is not None and batch is not None and batch.enabled and out.node_idx is not None and out.status.ok:
            batch.store_unsigned(None, out.node_idx, alive.size > 1, cycle, nodes)
        return out
