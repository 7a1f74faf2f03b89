"""The virtual duration of a scheduling cycle from the work it did (Build 3 of issue 17).

The framework counts, per cycle (``result.state.work``): ``cycle`` (1), ``point_call`` (PreFilter,
PreScore, Reserve, Permit and Bind calls, and the not-built volume plugins' calls), ``filter_node``
(nodes evaluated), ``filter_call`` (filter plugin x node pairs), ``score_node``, ``score_call`` and
``normalize`` (nodes scored, plugin x node pairs); plugins add what their cluster-wide loops and
per-node checks do (``pre_node``, ``pod_term``, ``match_record``, ``lister``, ``filter_op``,
``score_op``: policies/interpodaffinity.py, policies/podtopologyspread.py, policies/nodeports.py);
the queue adds ``queue_op``, ``event_scan``, ``hint`` and its PreEnqueue ``point_call`` between
cycles. :class:`CycleCost` prices each kind with :class:`~kbench.config.scheduler.SchedulerCostConfig`
and keeps the seconds spent per kind (the run summary's ``scheduling.time_share``). A kind with no
constant (a research plugin's own) costs nothing.
"""

from __future__ import annotations

from kbench.config.scheduler import SchedulerConfig


class CycleCost:
    """Prices work (see the module docstring).

    Args:
        cfg: The scheduler settings (``cost_model``, ``cost``, and the ``linear`` fields).

    Attributes:
        seconds_by_kind: Virtual seconds charged per work kind so far.
    """

    def __init__(self, cfg: SchedulerConfig):
        self.cfg = cfg
        self.linear = cfg.cost_model == "linear"
        self.price = cfg.cost.per_kind_s()
        self.seconds_by_kind: dict[str, float] = {}

    def seconds(self, work: dict[str, float], preempted: bool = False) -> float:
        """The virtual seconds of ``work`` (one cycle plus the queue work since the last);
        ``preempted``: PostFilter ran (its dry run costs ``preemption_node`` per node evaluated)."""
        if self.linear:
            cfg = self.cfg
            evaluated = work.get("filter_node", 0.0)
            cost = cfg.cycle_base_s + cfg.filter_node_s * evaluated + cfg.score_node_s * work.get("score_node", 0.0)
            if preempted:
                cost += cfg.preemption_node_s * evaluated
            return cost
        if preempted:
            work = {**work, "preemption_node": work.get("filter_node", 0.0)}
        price, spent = self.price, self.seconds_by_kind
        total = 0.0
        for kind, amount in work.items():
            p = price.get(kind)
            if p is not None and amount:
                s = p * amount
                total += s
                spent[kind] = spent.get(kind, 0.0) + s
        return total

    def shares(self) -> dict[str, float]:
        """Work kind → fraction of all cycle seconds charged so far."""
        total = sum(self.seconds_by_kind.values())
        return {k: round(v / total, 6) for k, v in sorted(self.seconds_by_kind.items())} if total > 0 else {}
