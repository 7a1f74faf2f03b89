"""Trace replay: replay controls, FGD-style inflation and the replay driver (``workload.traces``).

A :class:`~kbench.config.workload.TraceReplaySpec` names a pod trace and/or a node list (read with
:func:`~kbench.workload.traces.loader.load_trace` into the normalized tables of
docs/TRACE_CONTRACT.md). The controls apply in this order:

1. nodes: ``gpu_nodes_only``, ``max_nodes`` (first N), ``sample_nodes`` (seeded Bernoulli);
2. pods: ``window_s`` [a, b) (times shift by -a; pods present before the window start at 0),
   ``sample_pods`` (seeded Bernoulli), ``max_pods`` (first N), ``cap_duration_s`` (on the lifetime,
   deletion - arrival, or on the duration), then ``compress`` (every time and duration divided).
   The result is the **original** pod list: FGD's typical pods come from it (FGD.md §2.8);
3. ``shuffle``: sort by name, then a seeded permutation (FGD.md §1.2 step 1);
4. ``inflate_to_pct``: exactly the FGD simulator's ``TunePodsByNodeTotalResource`` (FGD.md §1.2
   step 2): with R the requests of the list and T = pct % of the cluster capacity, if R < T, draw
   pods uniformly *with replacement from the original list* and append copies (named
   ``<name>-tuned-<i>``) after the shuffled list, stopping at the first draw for which R + r > T,
   where r is the draw's *per-GPU* milli (the quirk: R itself grows by k × u); if R > T, remove
   uniformly drawn pods until R <= T. The same stream draws the shuffle and the inflation.

Streams of the run's seed tree (DESIGN.md decision 6): ``workload/trace/<name>/nodes`` (node
sampling), ``.../pods`` (pod sampling), ``.../order`` (shuffle, then inflation) and
``workload/node-order`` (the tie-break order). None depends on the policy, so every policy sees the
same pod sequence and node order within a seed (common random numbers).

Replay (:class:`TraceReplay`): pods are created through the apiserver by the workload-driver
client. Timed replay creates each pod at ``start_s + arrival_s`` and, with ``departures``, deletes
it at its deletion time (gracefully when bound, at once when not) or lets it finish after its
duration when the trace has no deletion time. Sequential replay (``sequential: true``) ignores
arrival times: it creates the next pod once the scheduler reports the previous one bound or its
attempt failed (:attr:`Scheduler.listeners <kbench.cluster.scheduler.scheduler.Scheduler>`), as the FGD
simulator feeds its scheduler. :attr:`TraceReplay.done` triggers ``linger_s`` after the last
arrival and departure; the runner ends the run there when ``end_when_done``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from kbench.cluster.objects import Node
from kbench.cluster.objects.stored import POD_BYTES, PodObj
from kbench.config.workload import TraceReplaySpec
from kbench.errors import ConfigError
from kbench.policy.typical import MILLI

TraceLoader = Callable[..., object]
TYPICAL_COLUMNS = ("cpu_milli", "gpu_count", "gpu_milli", "gpu_model")
"""The pods-table columns typical pods depend on (:mod:`kbench.policy.typical`: CPU, GPU count and
share, GPU model; not memory)."""


def _load(path: str, fmt: str, skip_bad_rows: bool, loader: TraceLoader | None):
    if loader is not None:
        return loader(path, fmt or None, skip_bad_rows=skip_bad_rows)
    from kbench.workload.traces.loader import load_trace
    return load_trace(path, fmt or None, skip_bad_rows=skip_bad_rows)


# ------------------------------------------------------------------------------- the controls

def select_nodes(df: pd.DataFrame, spec: TraceReplaySpec, rng: np.random.Generator) -> pd.DataFrame:
    """The node rows kept: GPU nodes only, the first ``max_nodes``, a seeded sample."""
    if spec.gpu_nodes_only:
        df = df[df["gpu_count"] > 0]
    if spec.max_nodes:
        df = df.iloc[: spec.max_nodes]
    if spec.sample_nodes < 1:
        df = df[rng.random(len(df)) < spec.sample_nodes]
    return df.reset_index(drop=True)


def original_pods(df: pd.DataFrame, spec: TraceReplaySpec, rng: np.random.Generator) -> pd.DataFrame:
    """Steps 2 of the module docstring: window, sampling, ``max_pods``, duration cap, compression.

    Returns:
        The original pod list (a copy), in arrival order, times in virtual seconds from the
        replay's start (before ``start_s``).
    """
    df = df.copy()
    arrival = df["arrival_s"].to_numpy(dtype=np.float64)
    if spec.window_s:
        a, b = spec.window_s
        deletion = df["deletion_s"].to_numpy(dtype=np.float64)
        present = np.isnan(arrival) & ~(deletion < a)
        before = (arrival < a) & ~(deletion < a)  # arrived earlier, still there: present at the start
        keep = ((arrival >= a) & (arrival < b)) | present | before
        df = df[keep].copy()
        df["arrival_s"] = np.maximum(df["arrival_s"].fillna(a) - a, 0.0)
        df["deletion_s"] = df["deletion_s"] - a
    else:
        df["arrival_s"] = df["arrival_s"].fillna(0.0)
    if spec.sample_pods < 1:
        df = df[rng.random(len(df)) < spec.sample_pods]
    df = df.sort_values("arrival_s", kind="stable")
    if spec.max_pods:
        df = df.iloc[: spec.max_pods]
    df = df.reset_index(drop=True)
    if spec.cap_duration_s:
        cap = spec.cap_duration_s
        df["duration_s"] = df["duration_s"].clip(upper=cap)
        df["deletion_s"] = np.minimum(df["deletion_s"], df["arrival_s"] + cap)
    for col in ("arrival_s", "deletion_s", "duration_s"):
        df[col] = df[col] / spec.compress
    return df


def requests_milli(df: pd.DataFrame, resource: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pod: (total request, the amount the inflation's overshoot test uses), in milli.

    GPU: (k × u, u) with u the per-GPU milli (0 for CPU-only pods; shares above 1000 capped);
    CPU: (cpu_milli, cpu_milli).
    """
    if resource == "cpu":
        c = df["cpu_milli"].to_numpy(dtype=np.float64)
        return c, c
    k = df["gpu_count"].to_numpy(dtype=np.int64)
    u = np.where(k > 0, np.clip(df["gpu_milli"].to_numpy(dtype=np.int64), 0, MILLI), 0)
    u = np.where((k > 0) & (u == 0), MILLI, u)
    return (k * u).astype(np.float64), u.astype(np.float64)


def shuffle_pods(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Sort by name, then apply a seeded permutation (FGD.md §1.2 step 1)."""
    df = df.sort_values("name", kind="stable").reset_index(drop=True)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def inflate(seq: pd.DataFrame, original: pd.DataFrame, target_milli: float, rng: np.random.Generator,
            resource: str = "gpu") -> pd.DataFrame:
    """Tune the pod list's total request to ``target_milli`` (FGD.md §1.2 step 2, module docstring).

    Args:
        seq: The (shuffled) pod list.
        original: The original pod list the samples are drawn from.
        target_milli: Target total request, milli (e.g. 1.3 × 6,212,000 milli-GPU).
        rng: The replay's ``order`` stream.
        resource: ``gpu`` or ``cpu``.

    Returns:
        The tuned list: ``seq`` followed by the appended copies, or ``seq`` with pods removed.

    Raises:
        ConfigError: The original pods request none of ``resource``.
    """
    total_req, _ = requests_milli(seq, resource)
    total = float(total_req.sum())
    if total > target_milli:
        keep = np.ones(len(seq), dtype=bool)
        alive = list(range(len(seq)))
        while total > target_milli and alive:
            j = alive.pop(int(rng.integers(len(alive))))
            keep[j] = False
            total -= total_req[j]
        return seq[keep].reset_index(drop=True)
    orig_total, orig_test = requests_milli(original, resource)
    if orig_total.sum() <= 0:
        raise ConfigError(f"cannot inflate: the pods request no {resource}", where="inflate_to_pct")
    n = len(original)
    picks: list[int] = []
    while True:  # do-while, as tuneUpPods
        idx = int(rng.integers(n))
        if total + orig_test[idx] > target_milli:
            break
        total += orig_total[idx]
        picks.append(idx)
    if not picks:
        return seq
    extra = original.iloc[picks].copy()
    extra["name"] = [f"{name}-tuned-{i}" for i, name in enumerate(extra["name"])]
    return pd.concat([seq, extra], ignore_index=True)


def node_order(names: list[str], rng: np.random.Generator) -> list[str]:
    """The fixed tie-break order (FGD.md §1.2 step 3): nodes sorted by name, node i given rank
    ``perm[i]`` of a seeded permutation (the simulator's ``%04d-`` name prefix), then ordered by rank."""
    names = sorted(names)
    perm = rng.permutation(len(names))
    return [names[i] for i in np.argsort(perm, kind="stable")]


def capacity_milli(nodes: list[Node], resource: str) -> float:
    """Cluster capacity of ``gpu`` (GPUs × 1000) or ``cpu`` (allocatable millicores)."""
    if resource == "cpu":
        return float(sum(n.allocatable.get("cpu", 0.0) for n in nodes))
    return float(sum(n.gpu_count for n in nodes)) * MILLI


# -------------------------------------------------------------------------------- the driver

class TraceReplay:
    """Loads one trace replay at build time and plays it into the cluster at run time.

    Args:
        world: The run's world.
        spec: The replay.
        loader: ``loader(path, format, skip_bad_rows=...) -> Trace`` (default: ``load_trace``).

    Attributes:
        nodes: Node specs to add to the cluster.
        original: The original pod list (DataFrame; see the module docstring).
        sequence: The pod list in replay order (after shuffle and inflation; set by
            :meth:`build_sequence`).
        done: Triggered ``linger_s`` after the last arrival and departure.
    """

    def __init__(self, world, spec: TraceReplaySpec, loader: TraceLoader | None = None):
        self.world = world
        self.env = world.env
        self.spec = spec
        self.nodes: list[Node] = []
        self.original: pd.DataFrame | None = None
        self.sequence: pd.DataFrame | None = None
        self.bad_rows = 0
        stream = f"workload/trace/{spec.name}"
        if spec.nodes_file:
            from kbench.workload.traces.topods import nodes_from_trace
            trace = _load(spec.nodes_file, spec.nodes_format, spec.skip_bad_rows, loader)
            table = trace.nodes if trace.nodes is not None else None
            if table is None:
                raise ConfigError(f"{spec.nodes_file} has no node table (format {trace.format})",
                                  where=f"workload.traces[{spec.name}].nodes_file")
            self.bad_rows += trace.bad_rows
            self.nodes = nodes_from_trace(select_nodes(table, spec, world.stream(f"{stream}/nodes")))
        if spec.file:
            trace = _load(spec.file, spec.format, spec.skip_bad_rows, loader)
            self.bad_rows += trace.bad_rows
            self.original = original_pods(trace.pods, spec, world.stream(f"{stream}/pods"))
        self._rng = world.stream(f"{stream}/order")
        from kbench.workload.driver import GROUPS, USER
        self.client = world.client(f"trace-replay-{spec.name}", "workload", USER, GROUPS)
        self.client.limiter.qps = 0  # a test harness: no client-side limit (as the workload driver)
        self.done = self.env.event()
        self.scheduler = None
        self.pod_informer = None
        self._waiting: dict[str, object] = {}

    def build_sequence(self, cluster_nodes: list[Node]) -> pd.DataFrame | None:
        """Shuffle and inflate against the whole cluster's capacity (call once, after every node
        group and node list is known)."""
        if self.original is None:
            return None
        seq = shuffle_pods(self.original, self._rng) if self.spec.shuffle else self.original
        if self.spec.inflate_to_pct > 0:
            cap = capacity_milli(cluster_nodes, self.spec.inflate_resource)
            if cap <= 0:
                raise ConfigError(f"cannot inflate: the cluster has no {self.spec.inflate_resource}",
                                  where="workload.traces.inflate_to_pct")
            seq = inflate(seq, self.original, self.spec.inflate_to_pct / 100.0 * cap, self._rng,
                          self.spec.inflate_resource)
        self.sequence = seq
        return seq

    def original_pod_specs(self) -> list:
        """Pod specs of the original list, in row order, for typical pods: rows alike in what typical
        pods read (CPU, GPU count, GPU share, GPU model) share one spec, so a list of 8,000 pods
        builds a few hundred (about 10 us each). Read them only; they are not the trace's pods."""
        from kbench.workload.traces.topods import pods_from_trace
        df = self.original
        if df is None:
            return []
        keys = list(zip(*(df[c].tolist() for c in TYPICAL_COLUMNS), strict=True))
        first: dict[tuple, int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        specs = dict(zip(first, pods_from_trace(df.iloc[list(first.values())]), strict=True))
        return [specs[key] for key in keys]

    def attach(self, scheduler, pod_informer) -> None:
        """Wire the scheduler (outcomes, for sequential replay) and an informer of all pods (the
        current version of a pod to delete)."""
        self.scheduler = scheduler
        self.pod_informer = pod_informer
        if self.spec.sequential and scheduler is not None:
            scheduler.listeners.append(self._on_outcome)

    def start(self) -> None:
        """Start the replay process."""
        if self.sequence is None or len(self.sequence) == 0:
            self.env.process(self._finish())
        elif self.spec.sequential:
            self.env.process(self._sequential())
        else:
            self.env.process(self._timed())

    # ----- processes ------------------------------------------------------------------------
    def _specs(self):
        from kbench.workload.traces.topods import pods_from_trace

        spec = self.spec
        pods = pods_from_trace(self.sequence, namespace=spec.namespace)
        deletion = self.sequence["deletion_s"].to_numpy(dtype=np.float64)
        for i, pod in enumerate(pods):
            if spec.image:
                pod.containers[0].image = spec.image
            if not spec.departures or not np.isnan(deletion[i]):
                pod.duration_s = None  # runs until deleted (by us at its deletion time, or never)
        return pods

    def _create(self, spec_pod):
        w = self.world
        key = f"{spec_pod.namespace}/{spec_pod.name}"
        resp = yield from w.create_pod(self.client, PodObj(key, w.pod_uid(key, "Pod"), spec_pod))
        w.counters["pods_created" if resp.ok else "replay_create_errors"] += 1
        return resp.ok

    def _sequential(self):
        env, spec = self.env, self.spec
        for pod in self._specs():
            key = pod.key
            ev = self._waiting[key] = env.event()
            ok = yield from self._create(pod)
            if ok and not ev.triggered:
                res = yield ev | env.timeout(spec.sequential_timeout_s)
                if ev not in res:
                    self.world.counters["replay_timeouts"] += 1
            self._waiting.pop(key, None)
        yield from self._finish()

    def _on_outcome(self, event: str, pod, now: float) -> None:
        if event in ("bound", "unschedulable"):
            ev = self._waiting.get(pod.key)
            if ev is not None and not ev.triggered:
                ev.succeed()

    def _timed(self):
        spec, env = self.spec, self.env
        pods = self._specs()
        seq = self.sequence
        arrival = seq["arrival_s"].to_numpy(dtype=np.float64) + spec.start_s
        deletion = seq["deletion_s"].to_numpy(dtype=np.float64) + spec.start_s
        events = [(arrival[i], 0, i) for i in range(len(pods))]
        if spec.departures:
            events += [(max(deletion[i], arrival[i]), 1, i) for i in range(len(pods)) if not np.isnan(deletion[i])]
        events.sort()
        for t, kind, i in events:
            if t > env.now:
                yield env.timeout(t - env.now)
            if kind == 0:
                env.process(self._create(pods[i]))
            else:
                env.process(self._delete(pods[i].key))
        yield from self._finish()

    def _delete(self, key: str, attempts: int = 5):
        """Delete a pod at its trace deletion time: gracefully when bound, at once when not."""
        w, env = self.world, self.env
        for _ in range(attempts):
            cur = self.pod_informer.cache.get(key) if self.pod_informer is not None else None
            if cur is None:
                yield env.timeout(0.5)  # not delivered yet (just created), or its create failed
                continue
            if cur.deleting or cur.finished:
                return  # already going (a finished bare pod is reaped by the workload driver)
            if cur.node_name is None:
                # the world marks the removal (timeline, pods_deleted) when etcd commits it
                resp = yield from w.write(self.client, "delete", "pods", key, size_bytes=POD_BYTES,
                                          precondition=lambda c: c is not None and c.node_name is None)
            else:
                # graceful: the apiserver stores the deletion mark, the kubelet the final DELETE
                resp = yield from w.write(self.client, "delete", "pods", key,
                                          size_bytes=POD_BYTES, partition=cur.node_name,
                                          precondition=lambda c, uid=cur.uid: c is not None and c.uid == uid)
            if resp.ok:
                w.counters["replay_departures"] += 1
                return
            yield env.timeout(0.5)  # 409: bound meanwhile (or gone); try the fresh version
        w.counters["replay_delete_failures"] += 1

    def _finish(self):
        if self.spec.linger_s:
            yield self.env.timeout(self.spec.linger_s)
        if not self.done.triggered:
            self.done.succeed()

