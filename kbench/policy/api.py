"""The policy API, after the kube-scheduler framework (DESIGN.md decision 4, STYLE habits 6-8).

Slightly over the ~400-line guide on purpose: this is the one contract a plugin author reads
(extension points, Status, filter results, the handle), so it stays in one file.

A plugin is a class with a ``NAME`` (the upstream name where it mirrors one, e.g.
``"NodeResourcesFit"``), an ``__init__(args=None, handle=None)`` that validates its args, and any
subset of the extension-point methods below; the framework looks for them with ``hasattr``.
Filter and Score see the pod and *all* candidate nodes at once (row numbers into a
:class:`~kbench.cluster.objects.NodeTable`) and return arrays:

==============  ====================================================================  ==================
point           method                                                                returns
==============  ====================================================================  ==================
PreEnqueue      ``pre_enqueue(pod)``                                                  Status
QueueSort       ``less(a, b)``                                                        bool
PreFilter       ``pre_filter(state, pod, nodes)``                                     Status
Filter          ``filter(state, pod, nodes, candidates)``                             FilterResult
PostFilter      ``post_filter(state, pod, nodes, statuses)``                          (Status, node|None)
PreScore        ``pre_score(state, pod, nodes, candidates)``                          Status (SKIP = no score)
Score           ``score(state, pod, nodes, candidates)``                              int64 array
NormalizeScore  ``normalize_scores(state, pod, scores)``                              int64 array, 0..100
Reserve         ``reserve(state, pod, nodes, node_idx)`` / ``unreserve(...)``         Status / None
Permit          ``permit(state, pod, nodes, node_idx)``                               Status
Bind            ``bind(state, pod, nodes, node_idx)``                                 Status
==============  ====================================================================  ==================

Two optional shortcuts (kbench's, not upstream's) let a plugin spare the per-node work when its
answer is the same for every node; the results are exactly those of the full calls:

* ``passes_all(state, pod, nodes) -> bool``, asked once per cycle after PreFilter: True when Filter
  would pass every node of the table. The framework then records the candidates it would have
  shown the filter as passing ("Success") without calling ``filter``;
* ``uniform_score(state, pod, nodes) -> int | None``, asked once per cycle after PreScore: the
  normalized score (0..100) Score + NormalizeScore would give every node, or None when it varies.
  The framework then records that score for every candidate without calling ``score``.

A plugin that can reject pods may also say which cluster events can make them schedulable again,
with ``events_to_register() -> [(ClusterEvent, hint or None)]`` (:mod:`kbench.policy.events`); the
scheduling queue then moves a rejected pod only on those events (QueueingHints).

Plugins whose work depends on the cluster (cluster-wide loops in PreFilter / PreScore) report it
with ``state.add_work(kind, amount)`` (kinds in :mod:`kbench.cluster.scheduler.cost`); the scheduler
turns the cycle's work into its virtual duration.

A Reserve plugin may put the GPUs it chose in ``state["gpus"]`` (a tuple of GPU indices on the
chosen node); the framework passes them to ``NodeTable.add_pod``.

For a quick prototype, subclass :class:`ScalarPlugin` and write ``score_one`` / ``filter_one`` for
one node at a time. It is slow (a Python call per node; about 1000× the numpy cost at 5,000 nodes),
so port it to arrays before running large scenarios::

    class PreferLabelled(ScalarPlugin):
        NAME = "PreferLabelled"

        def score_one(self, pod, node):
            return 100 if node.labels.get("tier") == "fast" else 0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.config.features import FeatureGates

if TYPE_CHECKING:
    from kbench.cluster.objects import NodeTable, Pod, Taint

MAX_NODE_SCORE = 100
"""E1: the highest score a plugin may give after NormalizeScore."""
MIN_NODE_SCORE = 0
"""E1: the lowest score."""

EXTENSION_POINTS: dict[str, str] = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "bind": "bind",
}
"""KubeSchedulerConfiguration extension-point key → the plugin method that implements it."""


class Code(IntEnum):
    """What a plugin's verdict means for the pod (upstream ``framework.Code``)."""

    SUCCESS = 0
    """Go on to the next plugin / extension point."""
    ERROR = 1
    """An internal error: the attempt fails and the pod goes to the backoff queue (retry after
    1-10 s, CALIBRATION D1). The framework turns a plugin exception into a PolicyError instead."""
    UNSCHEDULABLE = 2
    """This node does not fit now, but preemption (PostFilter) or a cluster change might help:
    the pod goes to the unschedulable pool and is retried on a relevant event (or after 5 min, D2)."""
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    """This node cannot fit whatever happens (e.g. node affinity mismatch): preemption skips the
    node; the pod is retried only when the cluster changes."""
    WAIT = 4
    """Permit only: hold the pod in the waiting area until allowed, rejected or timed out."""
    SKIP = 5
    """PreFilter / PreScore: this plugin has nothing to do for this pod; its Filter / Score is not
    run (explain shows ``null`` for its score)."""
    PENDING = 6
    """The pod waits for something outside the scheduler; retried when that happens (no backoff)."""

    @property
    def text(self) -> str:
        """Upstream's spelling (``Success``, ``UnschedulableAndUnresolvable``...), as explain prints it."""
        return _CODE_TEXT[self]


_CODE_TEXT = {Code.SUCCESS: "Success", Code.ERROR: "Error", Code.UNSCHEDULABLE: "Unschedulable",
              Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable", Code.WAIT: "Wait",
              Code.SKIP: "Skip", Code.PENDING: "Pending"}


@dataclass(frozen=True)
class Status:
    """A plugin verdict.

    Args:
        code: What happens next (see :class:`Code`).
        reasons: Human-readable reasons (e.g. ``("Insufficient cpu",)``).
        plugin: Name of the plugin that produced it (filled in by the framework if empty).
        node_names: PreFilter only, with SUCCESS: upstream's ``PreFilterResult.NodeNames``, the
            only nodes worth filtering (None: every node). The framework intersects the sets of
            all PreFilter plugins and filters only those nodes (see :meth:`Status.only`).
    """

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    node_names: frozenset[str] | None = None

    @property
    def ok(self) -> bool:
        """True only for SUCCESS."""
        return self.code == Code.SUCCESS

    @property
    def is_skip(self) -> bool:
        """True for SKIP."""
        return self.code == Code.SKIP

    @property
    def is_rejected(self) -> bool:
        """True for UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE and PENDING."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING)

    def message(self) -> str:
        """The reasons joined with ", " (``"Success"`` when there are none and the code is SUCCESS)."""
        if not self.reasons:
            return "Success" if self.ok else self.code.name.title().replace("_", "")
        return ", ".join(self.reasons)

    @staticmethod
    def success() -> Status:
        """A SUCCESS status."""
        return _SUCCESS

    @staticmethod
    def only(node_names) -> Status:
        """A PreFilter SUCCESS that restricts the cycle to ``node_names`` (upstream
        ``&framework.PreFilterResult{NodeNames: ...}``): the other nodes are not filtered and count
        as UnschedulableAndUnresolvable "node(s) didn't satisfy plugin(s) [<plugin>]"."""
        return Status(Code.SUCCESS, node_names=frozenset(node_names))

    @staticmethod
    def skip() -> Status:
        """A SKIP status."""
        return _SKIP

    @staticmethod
    def unschedulable(*reasons: str, unresolvable: bool = False) -> Status:
        """An UNSCHEDULABLE (or UNSCHEDULABLE_AND_UNRESOLVABLE) status."""
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return Status(code, tuple(reasons))

    @staticmethod
    def error(reason: str) -> Status:
        """An ERROR status."""
        return Status(Code.ERROR, (reason,))


_SUCCESS = Status()
_SKIP = Status(Code.SKIP)


class CycleState(dict):
    """Per-pod scratch space shared by the plugins of one scheduling cycle (a plain dict).

    Keys by convention are ``"<PluginName>/<what>"``; ``"gpus"`` is reserved for the GPU choice
    a Reserve plugin makes (see the module docstring).

    Attributes:
        work: Work done in this cycle by kind (``pre_node``, ``pod_term``...), for the cycle cost.
    """

    __slots__ = ("work",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.work: dict[str, float] = {}

    def add_work(self, kind: str, amount: float) -> None:
        """Count ``amount`` units of work of ``kind`` (a no-op for 0)."""
        if amount:
            work = self.work
            work[kind] = work.get(kind, 0.0) + amount


@dataclass(frozen=True)
class CodedReasons:
    """Per-candidate reasons as small integer codes into a table of texts: cheap to build and to
    count (the framework counts codes for an unschedulable pod's message instead of strings).

    Attributes:
        codes: ``int`` array aligned with the candidates (entries of passing candidates are ignored).
        texts: Code → reason text.
    """

    codes: np.ndarray
    texts: Sequence[str | None]

    def materialize(self) -> np.ndarray:
        """The reasons as an object array aligned with the candidates."""
        table = np.empty(len(self.texts), dtype=object)
        table[:] = list(self.texts)
        return table[self.codes]


class FilterResult:
    """The verdict of one Filter plugin for every candidate.

    Args:
        ok: ``bool`` array aligned with the candidates (True = passes); None only in the
            framework's own record of a filter whose ``passes_all`` held.
        reasons: One reason for every failing candidate, an object array aligned with the
            candidates (entries for passing candidates are ignored), a :class:`CodedReasons`, or a
            function of no arguments returning one of these; the framework calls it only when the
            reasons are read (an unschedulable pod, explain), so a cycle that places its pod never
            builds them.
        code: The code of failing candidates (UNSCHEDULABLE, or UNSCHEDULABLE_AND_UNRESOLVABLE
            when nothing, not even preemption, can make them fit); a scalar or an int array.
    """

    __slots__ = ("ok", "_reasons", "code")

    def __init__(self, ok: np.ndarray,
                 reasons: str | np.ndarray | CodedReasons | Callable[[], str | np.ndarray | CodedReasons] = "",
                 code: int | np.ndarray = Code.UNSCHEDULABLE):
        self.ok = ok
        self._reasons = reasons
        self.code = code

    def coded(self) -> CodedReasons | None:
        """The reasons as given in :class:`CodedReasons` form, or None when given otherwise."""
        r = self._reasons
        if callable(r):
            r = self._reasons = r()
        return r if isinstance(r, CodedReasons) else None

    @property
    def reasons(self) -> str | np.ndarray:
        """The reasons, a string or an object array (a deferred function is called once, here)."""
        r = self._reasons
        if callable(r):
            r = self._reasons = r()
        return r.materialize() if isinstance(r, CodedReasons) else r

    def __repr__(self) -> str:
        return f"FilterResult(ok={self.ok!r}, reasons={self.reasons!r}, code={self.code!r})"

    def reason_at(self, i: int) -> str:
        """The reason for candidate ``i`` ("" if it passed)."""
        if self.ok[i]:
            return ""
        coded = self.coded()
        if coded is not None:
            return str(coded.texts[int(coded.codes[i])])
        reasons = self.reasons
        if isinstance(reasons, str):
            return reasons
        return str(reasons[i])

    @staticmethod
    def all_pass(n: int) -> FilterResult:
        """Every one of ``n`` candidates passes."""
        return FilterResult(np.ones(n, dtype=bool), "")


@dataclass
class Handle:
    """What the framework gives plugins beyond the pod and nodes.

    Attributes:
        rng: The policy's random stream (numpy Generator from the seed tree's ``policy`` stream).
            Plugins must draw randomness only from here.
        nodes: The full node table of the current cycle (set by the framework before each cycle).
        profile: Name of the profile the plugin runs in.
        extra: Free-form shared data (e.g. typical pods for FGD), set by whoever builds the run.
        objects: Namespaces, Services and controllers (the listers of InterPodAffinity's namespace
            selectors and PodTopologySpread's default selector).
        features: The feature gates in force.
    """

    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    nodes: NodeTable | None = None
    profile: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    objects: ClusterObjects = field(default_factory=ClusterObjects)
    features: FeatureGates = field(default_factory=FeatureGates)

    @property
    def all_nodes(self) -> NodeTable | None:
        """The full node table (not only the candidates)."""
        return self.nodes


class Plugin:
    """Optional base class: stores ``args`` and ``handle``; subclasses set ``NAME``.

    Attributes:
        NAME: Plugin name (upstream spelling where it mirrors an upstream plugin).
        DESCRIPTION: One line for ``kbench policies`` (else the docstring's first line is used).
    """

    NAME: str = ""
    DESCRIPTION: str = ""

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        self.args = dict(args or {})
        self.handle = handle if handle is not None else Handle()


def describe(obj: object) -> str:
    """One-line description of a plugin class: ``DESCRIPTION`` or the docstring's first line."""
    text = getattr(obj, "DESCRIPTION", "") or (getattr(obj, "__doc__", "") or "").strip()
    return text.splitlines()[0].strip() if text else ""


@runtime_checkable
class FilterPlugin(Protocol):
    """A Filter plugin (see the module table)."""

    NAME: str

    def filter(self, state: CycleState, pod: Pod, nodes: NodeTable, candidates: np.ndarray) -> FilterResult:
        """Check every candidate row at once."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    """A Score plugin: raw int64 scores aligned with ``candidates``; 0..100 after normalisation."""

    NAME: str

    def score(self, state: CycleState, pod: Pod, nodes: NodeTable, candidates: np.ndarray) -> np.ndarray:
        """Score every candidate row at once."""
        ...


@runtime_checkable
class QueueSortPlugin(Protocol):
    """A QueueSort plugin: ``less(a, b)`` is True when ``a`` should be scheduled before ``b``."""

    NAME: str

    def less(self, a: Pod, b: Pod) -> bool:
        """Order two pods."""
        ...


@dataclass
class NodeView:
    """One node's state, for :class:`ScalarPlugin` (units as in the node table).

    Attributes:
        idx: Row in the node table.
        name, labels, taints, unschedulable: As on the node.
        allocatable, requested, free: Per-resource dicts (``free = allocatable - requested``).
        pod_count: Bound pods. ``pods``: the bound pods.
        gpu_model: GPU model or None. ``gpu_free_milli``: free thousandths per GPU (list).
    """

    idx: int
    name: str
    labels: dict[str, str]
    taints: list[Taint]
    unschedulable: bool
    allocatable: dict[str, float]
    requested: dict[str, float]
    free: dict[str, float]
    pod_count: int
    pods: list[Pod]
    gpu_model: str | None
    gpu_free_milli: list[int]

    @staticmethod
    def of(nodes: NodeTable, idx: int) -> NodeView:
        """The view of row ``idx``."""
        alloc = dict(zip(nodes.resources, nodes.allocatable[idx].tolist(), strict=True))
        req = dict(zip(nodes.resources, nodes.requested[idx].tolist(), strict=True))
        g = int(nodes.gpu_count[idx])
        return NodeView(idx, nodes.names[idx], nodes.labels[idx], nodes.taints[idx],
                        bool(nodes.unschedulable[idx]), alloc, req,
                        {r: alloc[r] - req[r] for r in alloc}, int(nodes.pod_count[idx]),
                        nodes.pods[idx], nodes.gpu_model[idx], nodes.gpu_free_milli[idx, :g].tolist())


class ScalarPlugin(Plugin):
    """Per-node adapter for quick prototypes (slow: one Python call per node).

    Define ``score_one(pod, node: NodeView) -> int`` (0..100) and/or
    ``filter_one(pod, node: NodeView) -> bool | str`` (True passes; False or a reason string
    fails). Only the extension points whose ``*_one`` method is defined are exposed.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "score_one") and "score" not in cls.__dict__:
            cls.score = ScalarPlugin._score  # type: ignore[attr-defined]
        if hasattr(cls, "filter_one") and "filter" not in cls.__dict__:
            cls.filter = ScalarPlugin._filter  # type: ignore[attr-defined]

    def _score(self, state: CycleState, pod: Pod, nodes: NodeTable, candidates: np.ndarray) -> np.ndarray:
        return np.array([int(self.score_one(pod, NodeView.of(nodes, int(i)))) for i in candidates],  # type: ignore[attr-defined]
                        dtype=np.int64)

    def _filter(self, state: CycleState, pod: Pod, nodes: NodeTable, candidates: np.ndarray) -> FilterResult:
        ok = np.zeros(len(candidates), dtype=bool)
        reasons = np.full(len(candidates), "", dtype=object)
        for k, i in enumerate(candidates):
            verdict = self.filter_one(pod, NodeView.of(nodes, int(i)))  # type: ignore[attr-defined]
            ok[k] = verdict is True
            if not ok[k]:
                reasons[k] = verdict if isinstance(verdict, str) and verdict else f"rejected by {self.NAME}"
        return FilterResult(ok, reasons)


def function_plugin(name: str, *, score_one=None, filter_one=None, less=None, description: str = "") -> type:
    """Wrap plain functions into a plugin class (STYLE habit 7).

    Args:
        name: The plugin's ``NAME``.
        score_one: ``f(pod, node: NodeView) -> int`` for Score.
        filter_one: ``f(pod, node: NodeView) -> bool | str`` for Filter.
        less: ``f(a: Pod, b: Pod) -> bool`` for QueueSort.
        description: One line for ``kbench policies``.

    Returns:
        A plugin class.
    """
    body: dict[str, Any] = {"NAME": name, "DESCRIPTION": description}
    if score_one is not None:
        body["score_one"] = lambda self, pod, node: score_one(pod, node)
    if filter_one is not None:
        body["filter_one"] = lambda self, pod, node: filter_one(pod, node)
    if less is not None:
        body["less"] = lambda self, a, b: less(a, b)
    return type(name, (ScalarPlugin,), body)
