"""kube-scheduler settings (section ``scheduler:`` of a scenario) and the scheduling-cycle cost model."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from kbench.errors import ConfigError


@dataclass(frozen=True)
class SchedulerCostConfig:
    """What one scheduling cycle costs, per unit of the work it does (``scheduler.cost``).

    A cycle's virtual duration is ``scale x sum(constant_k x work_k) x 1e-6`` s, the work counted
    by the framework and the plugins (:mod:`kbench.cluster.scheduler.cost` lists the kinds). The
    *shape* follows upstream's loops (CALIBRATION M3-M7); the constants are effective wall-clock
    costs with upstream's 16 filter/score workers (D5), in microseconds of a reference machine;
    only their ratios matter, since ``scale`` is solved from one figure: scheduler_perf's
    SchedulingBasic/5000Nodes_10000Pods at 680 pods/s (M1). No constant is fitted to any other
    workload; their throughputs are predictions (docs/VALIDATION.md).

    Attributes:
        cycle_us: Per cycle: pop, snapshot update, cycle state, host selection, assume, metrics.
            M2 (2022: a 3.0 ms Basic cycle at 5,000 nodes: Filter ~0.7 ms, Score ~1.5 ms, the rest
            ~0.8 ms); the split of that rest between this and ``point_call_us`` is kbench's.
        point_call_us: Per extension-point call (PreEnqueue, PreFilter, PreScore, Reserve, Permit,
            Bind), Skip included; the not-built volume plugins' calls count too. M2 remainder.
        filter_node_us: Per node evaluated (status bookkeeping, the feasible counter). M2 Filter:
            ~11 filters ran on ~500 nodes in 0.7 ms: 0.5 + 11 x 0.08 = 1.4 us a node.
        filter_call_us: Per (Filter plugin, node evaluated). M2, as above.
        filter_op_us: Per elementary check inside a Filter (an affinity term, a spread constraint, a
            host port). kbench default.
        score_node_us: Per node scored (weighted sum, the per-node slice). M2 Score: ~7 plugins on
            ~500 nodes in ~1.25 ms: 0.6 + 7 x 0.27 = 2.5 us a node.
        score_call_us: Per (Score plugin, node scored). M2, as above.
        score_op_us: Per elementary lookup inside a Score (a topology key). kbench default.
        normalize_us: Per (plugin, node) of NormalizeScore. M2, as above.
        pre_node_us: Per node visited by a cluster-wide PreFilter / PreScore loop (PodTopologySpread,
            InterPodAffinity). M7: PodTopologySpread's filter and default-spreading score benchmarks
            both give ~0.95 us per node at 10 pods a node (PR #108175: 0.97 ms for 1,000 nodes;
            PR #89487: 1.86 ms for two passes over 1,000 nodes / 10,000 pods); split as
            ``pre_node = 2.5 x pod_term`` (kbench's reading: a node costs a few pod checks).
        pod_term_us: Per (bound pod, term or constraint) checked in those loops. M7, as above.
        match_record_us: Per matching (pod, term) recorded in a per-node list and merged. PR
            #129427 (maps to slices: up to +25 % on affinity workloads) puts it at the order of a
            match; kbench default.
        lister_us: Per lister call (PodTopologySpread's default selector: Services, RCs, RSs,
            StatefulSets). kbench default.
        queue_op_us: Per queue add, pop or requeue. kbench default.
        event_scan_us: Per unschedulable pod a cluster event visits (upstream scans the whole pool).
            kbench default.
        hint_us: Per QueueingHint call. kbench default.
        preemption_node_us: Per node evaluated, when PostFilter (preemption) ran: the dry run.
            kbench default (10 x a filtered node), not calibrated.
        scale: Multiplies every constant. M1: solved by ``python -m kbench.validate.calibrate`` on
            SchedulingBasic/5000Nodes_10000Pods (680 pods/s, misc/performance-config.yaml @
            fde22c3f; a CI minimum over 250 runs, PR #136276, not a mean): 473.6 pods/s at scale 1
            gives 0.6964, and 679.5 pods/s with it (seed 1).
    """

    cycle_us: float = 600.0  # M2 (split: kbench default)
    point_call_us: float = 15.0  # M2 (split: kbench default)
    filter_node_us: float = 0.5  # M2
    filter_call_us: float = 0.08  # M2
    filter_op_us: float = 0.01  # kbench default
    score_node_us: float = 0.6  # M2
    score_call_us: float = 0.25  # M2
    score_op_us: float = 0.01  # kbench default
    normalize_us: float = 0.02  # M2
    pre_node_us: float = 0.19  # M7 (split: kbench default)
    pod_term_us: float = 0.076  # M7
    match_record_us: float = 0.15  # kbench default (PR #129427)
    lister_us: float = 5.0  # kbench default
    queue_op_us: float = 2.0  # kbench default
    event_scan_us: float = 0.05  # kbench default
    hint_us: float = 0.5  # kbench default
    preemption_node_us: float = 20.0  # kbench default, not calibrated
    scale: float = 0.6964  # M1: `python -m kbench.validate.calibrate` (seed 1: 473.6 pods/s at scale 1 -> 679.5)

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ConfigError("must be >= 0", where=f.name)

    def per_kind_s(self) -> dict[str, float]:
        """Work kind → virtual seconds per unit (``scale`` applied)."""
        k = self.scale * 1e-6
        return {f.name[:-3]: getattr(self, f.name) * k for f in fields(self) if f.name.endswith("_us")}


@dataclass(frozen=True)
class SchedulerConfig:
    """kube-scheduler in time: queue timings, gates and the scheduling-cycle cost model.

    Cycle cost (virtual seconds per scheduling cycle, one cycle at a time as upstream): with
    ``cost_model: work`` (the default) the work the cycle did, priced by :class:`SchedulerCostConfig`
    (``cost``), plus the queue's work since the previous cycle. ``cost_model: linear`` keeps the
    earlier model for old scenarios::

        cycle_base_s + filter_node_s x nodes evaluated + score_node_s x nodes scored
        (+ preemption_node_s x nodes evaluated when PostFilter ran)

    whose defaults were solved from D8's 270 pods/s at 5,000 nodes (10 % of the nodes evaluated,
    D3: 1/270 s = 0.7 ms + 500 x 2 us + 500 x 4 us).

    Attributes:
        policy: Policy name or file (``default``, ``fgd``, ``my_policy.py``...).
        pod_initial_backoff_s: Backoff after a pod's first failed attempt (D1: 1 s).
        pod_max_backoff_s: Backoff cap; the backoff doubles per attempt up to it (D1: 10 s).
        pod_max_in_unschedulable_s: Longest stay in the unschedulable pool before a flush moves
            the pod back (D2: 5 min).
        backoff_flush_period_s: Period of the loop moving pods whose backoff ended to activeQ
            (D2: 1 s).
        unschedulable_flush_period_s: Period of the check for unschedulable leftovers (D2: 30 s).
        cost_model: ``work`` (per-plugin work, :class:`SchedulerCostConfig`) or ``linear``.
        cost: The work model's constants.
        feature_gates: Scheduler feature gates (``Name: bool``; upstream defaults for the others,
            :mod:`kbench.config.features`).
        cycle_base_s: ``linear`` model: fixed cost of one scheduling cycle, seconds (D8 derivation above).
        filter_node_s: ``linear`` model: cost per node evaluated by the filters, seconds (D8).
        score_node_s: ``linear`` model: cost per node scored, seconds (D8).
        preemption_node_s: ``linear`` model: extra cost per node evaluated when PostFilter
            (preemption) runs, seconds. kbench default (10 x a filter); not calibrated.
        report_unschedulable: Write the pod's ``PodScheduled=False`` condition through the
            apiserver when an attempt fails with a new message (upstream ``updatePod`` in
            ``handleSchedulingFailure``), as API load.
        retry_unschedulable: Requeue a pod whose attempt found no node (upstream behaviour). False
            gives the pod up after its first failed attempt, as the FGD simulator does (FGD.md
            §1.2): it leaves the queue, is counted (``scheduling.given_up``) and never retried; the
            pod object stays Pending. kbench option, not an upstream setting.
    """

    policy: str = "default"
    pod_initial_backoff_s: float = 1.0  # D1
    pod_max_backoff_s: float = 10.0  # D1
    pod_max_in_unschedulable_s: float = 300.0  # D2
    backoff_flush_period_s: float = 1.0  # D2
    unschedulable_flush_period_s: float = 30.0  # D2
    cost_model: str = "work"
    cost: SchedulerCostConfig = field(default_factory=SchedulerCostConfig)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    cycle_base_s: float = 0.0007  # D8 (see class docstring)
    filter_node_s: float = 2e-6  # D8 (see class docstring)
    score_node_s: float = 4e-6  # D8 (see class docstring)
    preemption_node_s: float = 2e-5  # kbench default, not calibrated
    report_unschedulable: bool = True
    retry_unschedulable: bool = True

    def __post_init__(self) -> None:
        if not self.policy:
            raise ConfigError("must name a policy", where="policy")
        if self.cost_model not in ("work", "linear"):
            raise ConfigError(f"must be work or linear, got {self.cost_model!r}", where="cost_model")
        if self.pod_initial_backoff_s <= 0:
            raise ConfigError("must be > 0", where="pod_initial_backoff_s")
        if self.pod_max_backoff_s < self.pod_initial_backoff_s:
            raise ConfigError("must be >= pod_initial_backoff_s", where="pod_max_backoff_s")
        for name in ("backoff_flush_period_s", "unschedulable_flush_period_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=name)
        for name in ("pod_max_in_unschedulable_s", "cycle_base_s", "filter_node_s", "score_node_s",
                     "preemption_node_s"):
            if getattr(self, name) < 0:
                raise ConfigError("must be >= 0", where=name)
