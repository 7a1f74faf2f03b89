"""Run one scheduler_perf workload in virtual time (``kbench run CONFIG --case C --workload W``).

As scheduler_perf (upstream ``scheduler_perf.go`` ``runWorkload`` and ``util.go``
``mustSetupCluster``, code index copies 115920075 and 1107281758), the scheduler is measured with
the apiserver out of the way and without kubelets:

* etcd and the apiserver are simulated as in any run (bindings still cost one write each), but the
  scheduler's client has QPS and burst 5000 (upstream's kubeconfig) and the driver that creates and
  deletes objects is in ``system:masters`` (exempt from APF) with no client-side limit;
* no kubelets, kube-proxies or controllers: pods are bound, never started; nodes stay Ready;
* ops run one after another: ``createNodes`` before the first pod-creating op are the initial
  state (no API cost, as a cluster set up before measuring), later ones are API creates;
  ``createPods`` creates all its pods at once and, unless ``skipWaitToCompletion``, waits (polling
  every second, kbench default) until all are bound; with ``collectMetrics`` a
  :class:`~kbench.workload.schedperf.collector.ThroughputCollector` runs from before the first
  create to the end of the wait; ``steadyState`` deletes each bound pod and creates another until
  ``duration``; ``barrier``, ``deletePods``, ``churn`` (Node, Pod and Service templates), ``sleep``,
  ``start/stopCollectingMetrics``, ``createNamespaces`` (listed for namespace selectors) and
  ``createAny`` (Namespace, Service, PriorityClass) are supported;
* nodes without a template are upstream's base node (4 CPU, 32Gi, 110 pods), each labelled
  ``kubernetes.io/hostname=<name>``; ``labelNodePrepareStrategy`` values go round-robin, a
  ``uniqueNodeLabelStrategy`` key gets the node's name; pods without a template are upstream's
  base pod, taken as a pause container requesting 100m / 500Mi (kbench default, as pod-default);
* a workload has 30 virtual minutes (upstream's per-test timeout).

What cannot be run exits 2 naming it (:class:`~kbench.workload.schedperf.config.NotModelled`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from kbench.cluster.objects import Node
from kbench.cluster.objects.manifest import SnapshotError, parse_node, parse_pod
from kbench.cluster.objects.stored import PodObj
from kbench.config.features import FeatureGates
from kbench.errors import ConfigError, KbenchError
from kbench.workload.schedperf.collector import ThroughputCollector
from kbench.workload.schedperf.config import NotModelled, Params, PerfConfig, load_template

HOSTNAME = "kubernetes.io/hostname"
TIMEOUT_S = 1800.0
POLL_S = 1.0
BASE_NODE = {"kind": "Node", "metadata": {"generateName": "scheduler-perf-"},
             "status": {"capacity": {"pods": "110", "cpu": "4", "memory": "32Gi"}}}
BASE_POD = {"kind": "Pod", "metadata": {"generateName": "pod-"},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}
GROUPS = ("system:masters", "system:authenticated")


class _Run:
    """One workload's state while it runs (built by :func:`run_workload`)."""

    def __init__(self, cfg: PerfConfig, case, wl, seed: int, scheduler: dict | None = None):
        from kbench.cluster.objects.clusterobjects import ClusterObjects
        from kbench.cluster.world import World
        from kbench.config import scenario_from_dict

        self.cfg, self.case, self.wl, self.base = cfg, case, wl, cfg.path.parent
        gates = {**case.feature_gates, **wl.feature_gates}
        self.gates = FeatureGates(gates)
        policy = str(case.scheduler_config) if case.scheduler_config else "default"
        self.world = World(scenario_from_dict({
            "name": f"{case.name}/{wl.name}", "seed": seed, "duration_s": TIMEOUT_S,
            "clients": {"scheduler": {"qps": 5000, "burst": 5000}},
            "scheduler": {"policy": policy, "feature_gates": gates, **(scheduler or {})}}))
        self.world.objects = ClusterObjects()
        self.env = self.world.env
        self.pods: dict[str, PodObj] = {}
        self.bound: dict[str, int] = {}  # namespace -> pods seen bound
        self.bound_keys: set[str] = set()
        self.collectors: list[ThroughputCollector] = []
        self.finished: list[ThroughputCollector] = []
        self.node_count = 0
        self.priority_classes: dict[str, int] = {}
        self.ignored: list[str] = list(case.extras)

    # ----- templates ------------------------------------------------------------------------------
    def node_specs(self, op: dict, count: int, where: str, raw: dict | None = None) -> list[Node]:
        if op.get("nodeAllocatableStrategy"):
            raise NotModelled("createNodes.nodeAllocatableStrategy (CSI volume limits) is not modelled", where=where)
        if raw is None:
            raw = load_template(self.base / op["nodeTemplatePath"], where) if op.get("nodeTemplatePath") else BASE_NODE
        prefix = (raw.get("metadata") or {}).get("generateName") or "node-"
        label = op.get("labelNodePrepareStrategy") or {}
        unique = (op.get("uniqueNodeLabelStrategy") or {}).get("labelKey")
        out = []
        for i in range(count):
            name = f"{prefix}{self.node_count:05d}"
            self.node_count += 1
            obj = {**raw, "metadata": {**(raw.get("metadata") or {}), "name": name}}
            try:
                node = parse_node(obj, where)
            except SnapshotError as err:
                raise ConfigError(err.message, where=err.where) from None
            labels = {**node.labels, HOSTNAME: name}
            if label:
                values = list(label.get("labelValues") or [])
                labels[str(label["labelKey"])] = str(values[i % len(values)])
            if unique:
                labels[str(unique)] = name
            out.append(replace(node, labels=labels))
        return out

    def pod_template(self, op: dict, where: str) -> dict:
        path = op.get("podTemplatePath") or self.case.default_pod_template
        raw = load_template(self.base / path if op.get("podTemplatePath") else path, where) if path else BASE_POD
        spec = raw.get("spec") or {}
        if any(v.get("persistentVolumeClaim") for v in spec.get("volumes") or [] if isinstance(v, dict)):
            raise NotModelled("pods with PersistentVolumeClaims are not modelled (volume plugins not built)",
                              where=where)
        return raw

    def make_pods(self, raw: dict, namespace: str, count: int, tag: str, where: str) -> list[PodObj]:
        meta = raw.get("metadata") or {}
        prefix = meta.get("generateName") or meta.get("name") or "pod-"
        obj = {**raw, "metadata": {**meta, "name": "template", "namespace": namespace}}
        try:
            proto = parse_pod(obj, where, self.gates["MatchLabelKeysInPodAffinity"])
        except SnapshotError as err:
            raise ConfigError(err.message, where=err.where) from None
        if proto.priority_class_name and not proto.priority:
            proto = replace(proto, priority=self.priority_classes.get(proto.priority_class_name, 0))
        out = []
        for i in range(count):
            name = f"{prefix}{tag}-{i}"
            key = f"{namespace}/{name}"
            spec = replace(proto, name=name, annotations=dict(proto.annotations))
            out.append(PodObj(key, self.world.pod_uid(key, "Pod"), spec))
        return out

    # ----- observing ------------------------------------------------------------------------------
    def on_bound(self, pod, now: float) -> None:
        if pod.key in self.bound_keys:
            return
        self.bound_keys.add(pod.key)
        ns = pod.spec.namespace
        self.bound[ns] = self.bound.get(ns, 0) + 1
        for c in self.collectors:
            c.observe(pod)


def run_workload(cfg: PerfConfig, case_name: str, workload_name: str, seed: int = 1,
                 scheduler: dict | None = None) -> dict:
    """Run one workload; the result dict ``kbench run -o json`` prints (see CLI.md).

    ``scheduler``: extra fields of the scenario's ``scheduler`` section (e.g. ``{"cost": {"scale": 1}}``).

    Raises:
        ConfigError: A bad case, workload, parameter or template; NotModelled for what kbench cannot run.
    """
    from kbench.cluster.scheduler.scheduler import Scheduler
    from kbench.workload.schedperf.ops import OpDriver

    case = cfg.case(case_name)
    wl = next((w for w in case.workloads if w.name == workload_name), None)
    if wl is None:
        from kbench.errors import did_you_mean
        raise ConfigError(f"no workload {workload_name!r} in {case.name}"
                          f"{did_you_mean(workload_name, [w.name for w in case.workloads])}", where="--workload")
    params = Params(wl.params, f"{case.name}/{wl.name}.params")
    driver = OpDriver(case.ops, params)  # resolves every op's parameters before anything runs
    params.check_all_used()
    wall0 = time.perf_counter()
    run = _Run(cfg, case, wl, seed, scheduler)
    try:
        driver.preload(run)
        sched = Scheduler(run.world)
    except KbenchError:
        raise
    sched.bound_observers.append(run.on_bound)
    run.world.plane.start()
    sched.start()
    client = run.world.client("scheduler-perf", "workload", "system:serviceaccount:default:scheduler-perf", GROUPS)
    client.limiter.qps = 0
    done = run.env.process(driver.run(run, sched, client))
    run.env.run(until=run.env.any_of([done, run.env.timeout(TIMEOUT_S)]))
    if not done.processed:
        raise ConfigError(f"the workload did not finish within {TIMEOUT_S:g} virtual seconds", where=wl.name)
    return _result(cfg, case, wl, seed, run, sched, time.perf_counter() - wall0)


def _result(cfg, case, wl, seed, run: _Run, sched, wall_s: float) -> dict:
    from kbench.workload.schedperf.collector import throughput_stats

    samples = [s for c in run.finished for s in c.samples]
    tput = throughput_stats(samples)
    measured = [k for c in run.finished for k in c.measured]
    tl = run.world.timeline
    attempts = [int(tl.attempts[run.pods[k].uid]) for k in measured if k in run.pods]
    duration = sum((c.end_s or c.start_s) - c.start_s for c in run.finished)
    average = tput["average"]
    ignored = [*sched.ignored, *run.ignored, *(f"thresholdMetricSelector {wl.threshold_metric} is not measured"
                                                for _ in [0] if wl.threshold_metric != "SchedulingThroughput")]
    return {
        "kind": "scheduler_perf", "config": str(cfg.path), "config_sha256": cfg.sha256, "case": case.name,
        "workload": wl.name, "seed": seed, "labels": sorted({*case.labels, *wl.labels}), "params": wl.params,
        "feature_gates": {**case.feature_gates, **wl.feature_gates}, "ignored": ignored,
        "scheduling": {"throughput_pods_per_s": tput,
                       "attempts_per_pod": round(sum(attempts) / len(attempts), 4) if attempts else None,
                       "measured_pods": len(measured), "measure_duration_s": round(duration, 6),
                       "time_share": sched.cost.shares(), "attempts": int(run.world.counters["scheduling_attempts"]),
                       "bound": sched.bound},
        "upstream_threshold": wl.threshold or None,
        "vs_threshold": round(average / wl.threshold, 4) if average and wl.threshold else None,
        "sim": {"virtual_s": round(float(run.env.now), 6), "wall_s": round(wall_s, 3)},
    }


def write_run(result: dict, cfg: PerfConfig, out: Path) -> Path:
    """Write a run folder (manifest with the config's content and hash, summary.json)."""
    from kbench.results.store import RunWriter, new_run_id

    writer = RunWriter(out, new_run_id(f"{result['case']}-{result['workload']}", result["seed"], "schedperf"),
                       {"kind": "scheduler_perf", "scenario": f"{result['case']}/{result['workload']}",
                        "policy": "scheduler_perf", "seed": result["seed"], "config": {"path": str(cfg.path)},
                        "config_hash": cfg.sha256,
                        "perf_config": {"path": str(cfg.path), "sha256": cfg.sha256, "content": cfg.content},
                        "ignored": result["ignored"]})
    writer.json("summary", {k: v for k, v in result.items() if k != "sim"} | {
        "sim": {"virtual_s": result["sim"]["virtual_s"]}})
    return writer.finish("complete", wall_s=result["sim"]["wall_s"])


def list_cases(cfg: PerfConfig) -> list[dict]:
    """One row per case/workload: labels, threshold, and whether kbench can run it."""
    from kbench.workload.schedperf.ops import OpDriver

    rows = []
    for case in cfg.cases:
        for wl in case.workloads:
            status = "runnable"
            try:
                params = Params(wl.params, f"{case.name}/{wl.name}")
                OpDriver(case.ops, params)
                params.check_all_used()
            except NotModelled as err:
                status = f"not runnable: {err.message}"
            except ConfigError as err:
                status = f"invalid: {err.message}"
            rows.append({"case": case.name, "workload": wl.name, "labels": sorted({*case.labels, *wl.labels}),
                         "threshold": wl.threshold or None, "status": status})
    return rows

