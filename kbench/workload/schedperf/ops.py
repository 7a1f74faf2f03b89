"""scheduler_perf's ops in virtual time: each op resolved up front, then run one after another
(see :mod:`kbench.workload.schedperf.runner` for what each op does)."""

from __future__ import annotations

from kbench.cluster.objects.stored import NODE_BYTES, POD_BYTES, GenericObj, NodeObj
from kbench.errors import ConfigError
from kbench.workload.schedperf.config import NotModelled, Params, load_template

_PODISH = ("createPods", "createPodSets", "churn", "createAny", "barrier", "deletePods", "sleep",
           "startCollectingMetrics")


class OpDriver:
    """The ops of one workload with their parameters resolved.

    Args:
        ops: The test case's ``workloadTemplate`` (parsed by :mod:`kbench.workload.schedperf.config`).
        params: The workload's parameters (their use is recorded).

    Raises:
        ConfigError / NotModelled: A bad or unsupported op, naming it.
    """

    def __init__(self, ops: list[dict], params: Params):
        self.ops: list[tuple[int, dict]] = []
        for i, op in enumerate(ops):
            where = f"op {i} ({op['opcode']})"
            if op.get("_not_modelled"):
                raise NotModelled(op["_not_modelled"], where=op["_where"])
            op = dict(op)
            code = op["opcode"]
            if code in ("createNodes", "createNamespaces", "createPods", "createAny"):
                op["_count"] = params.count(op, where) if ("count" in op or "countParam" in op) else 1
            if code in ("createPods", "sleep"):
                op["_duration"] = params.duration_s(op, where)
            if code == "createPods":
                self._check_pods(op, where)
            if code == "createPodSets":
                inner = dict(op["createPodsOp"])
                inner["_count"] = params.count(inner, f"{where}.createPodsOp")
                self._check_pods(inner, f"{where}.createPodsOp")
                for k in range(params.count(op, where)):
                    self.ops.append((i, {**inner, "namespace": f"{op.get('namespacePrefix')}-{k}",
                                         "_duration": params.duration_s(inner, where)}))
                continue
            self.ops.append((i, op))

    @staticmethod
    def _check_pods(op: dict, where: str) -> None:
        if op.get("persistentVolumeTemplatePath") or op.get("persistentVolumeClaimTemplatePath"):
            raise NotModelled("createPods with persistent volumes is not modelled (volume plugins not built)",
                              where=where)
        if op.get("steadyState") and not op.get("_duration"):
            raise ConfigError("steadyState needs a duration", where=where)

    def preload(self, run) -> None:
        """Nodes created before the first pod op are the initial state (no API cost); namespaces
        before it are listed too."""
        rest = []
        loading = True
        for i, op in self.ops:
            code = op["opcode"]
            if loading and code == "createNodes":
                run.world.add_nodes(run.node_specs(op, op["_count"], f"op {i}"))
            elif loading and code == "createNamespaces":
                self._namespaces(run, op, f"op {i}")
            else:
                loading = loading and code not in _PODISH
                rest.append((i, op))
        self.ops = rest

    def run(self, run, sched, client):
        """The ops, one after another (a SimPy process)."""
        for i, op in self.ops:
            yield from getattr(self, "_" + op["opcode"])(run, sched, client, op, i)

    # ----- ops ------------------------------------------------------------------------------------
    def _createNodes(self, run, sched, client, op, i):
        w = run.world
        for node in run.node_specs(op, op["_count"], f"op {i}"):
            w.node_specs[node.name] = node
            yield from w.write(client, "create", "nodes", node.name, NodeObj(node.name, node, ready=True),
                               size_bytes=NODE_BYTES)

    def _namespaces(self, run, op, where):
        labels = {}
        if op.get("namespaceTemplatePath"):
            meta = load_template(run.base / op["namespaceTemplatePath"], where).get("metadata") or {}
            labels = dict(meta.get("labels") or {})
        for k in range(op["_count"]):
            run.world.objects.add_namespace(f"{op.get('prefix')}-{k}", labels)

    def _createNamespaces(self, run, sched, client, op, i):
        self._namespaces(run, op, f"op {i}")
        yield run.env.timeout(0)

    def _createPods(self, run, sched, client, op, i):
        env, w = run.env, run.world
        ns = op.get("namespace") or f"namespace-{i}"
        if not run.world.objects.has_namespace(ns):
            run.world.objects.add_namespace(ns)
        raw = run.pod_template(op, f"op {i}")
        collector = None
        if op.get("collectMetrics"):
            from kbench.workload.schedperf.collector import ThroughputCollector
            collector = ThroughputCollector(env, [ns])
            run.collectors.append(collector)
        pods = run.make_pods(raw, ns, op["_count"], f"{i}", f"op {i}")
        for p in pods:
            run.pods[p.key] = p
            env.process(w.create_pod(client, p))
        target = run.bound.get(ns, 0) + len(pods)
        if op.get("steadyState"):
            yield from self._steady(run, client, op, i, raw, ns, pods)
        elif not op.get("skipWaitToCompletion"):
            while run.bound.get(ns, 0) < target:
                yield env.timeout(1.0)  # upstream polls every second
        if collector is not None:
            collector.stop()
            run.collectors.remove(collector)
            run.finished.append(collector)

    def _steady(self, run, client, op, i, raw, ns, pods):
        """Keep ``count`` pods: each bound pod is deleted and replaced, until ``duration``."""
        env, w = run.env, run.world
        end = env.now + op["_duration"]
        live = {p.key for p in pods}
        serial = 0
        while env.now < end:
            yield env.timeout(0.1)
            for key in [k for k in live if k in run.bound_keys]:
                live.discard(key)
                env.process(w.write(client, "delete", "pods", key, size_bytes=POD_BYTES))
                serial += 1
                new, = run.make_pods(raw, ns, 1, f"{i}-s{serial}", f"op {i}")
                run.pods[new.key] = new
                live.add(new.key)
                env.process(w.create_pod(client, new))

    def _barrier(self, run, sched, client, op, i):
        spaces = set(op.get("namespaces") or [])
        labels = op.get("labelSelector") or {}
        attempted = (op.get("stageRequirement") or "Scheduled") == "Attempted"
        tl = run.world.timeline

        def waiting():
            for key, p in run.pods.items():
                if spaces and p.spec.namespace not in spaces:
                    continue
                if any(p.spec.labels.get(k) != v for k, v in labels.items()):
                    continue
                if attempted:
                    info = sched.queue.get(key)
                    if tl.attempts[p.uid] == 0 and not (info is not None and info.where == "gated"):
                        return True
                elif key not in run.bound_keys:
                    return True
            return False

        while waiting():
            yield run.env.timeout(0.1)

    def _deletePods(self, run, sched, client, op, i):
        ns, labels = op.get("namespace"), op.get("labelSelector") or {}
        victims = [k for k, p in run.pods.items() if (ns is None or p.spec.namespace == ns)
                   and all(p.spec.labels.get(a) == b for a, b in labels.items())]
        rate = int(op.get("deletePodsPerSecond") or 0)
        procs = []
        for key in victims:
            procs.append(run.env.process(run.world.write(client, "delete", "pods", key, size_bytes=POD_BYTES)))
            run.pods.pop(key, None)
            if rate:
                yield run.env.timeout(1.0 / rate)
        if procs and not op.get("skipWaitToCompletion"):
            yield run.env.all_of(procs)

    def _sleep(self, run, sched, client, op, i):
        yield run.env.timeout(op["_duration"])

    def _startCollectingMetrics(self, run, sched, client, op, i):
        from kbench.workload.schedperf.collector import ThroughputCollector
        run.collectors.append(ThroughputCollector(run.env, list(op.get("namespaces") or []),
                                                  op.get("labelSelector") or {}))
        yield run.env.timeout(0)

    def _stopCollectingMetrics(self, run, sched, client, op, i):
        for c in run.collectors:
            c.stop()
            run.finished.append(c)
        run.collectors.clear()
        yield run.env.timeout(0)

    def _createAny(self, run, sched, client, op, i):
        raw = load_template(run.base / op["templatePath"], f"op {i}")
        yield from self._create_object(run, client, raw, op.get("namespace") or "default", f"op {i}")

    def _create_object(self, run, client, raw: dict, ns: str, where: str, serial: int = 0):
        kind = raw.get("kind")
        meta = raw.get("metadata") or {}
        name = (meta.get("name") or meta.get("generateName") or kind.lower()) + (f"-{serial}" if serial else "")
        if kind == "Namespace":
            run.world.objects.add_namespace(name, dict(meta.get("labels") or {}))
        elif kind == "Service":
            sel = (raw.get("spec") or {}).get("selector")
            run.world.objects.add_service(ns, name, None if sel is None else dict(sel))
            yield from run.world.write(client, "create", "services", f"{ns}/{name}",
                                       GenericObj(f"{ns}/{name}", {"selector": sel}), size_bytes=1024)
        elif kind == "PriorityClass":
            run.priority_classes[name] = int(raw.get("value") or 0)
        elif kind == "Node":
            node, = run.node_specs({}, 1, where, raw)
            run.world.node_specs[node.name] = node
            yield from run.world.write(client, "create", "nodes", node.name, NodeObj(node.name, node, ready=True),
                                       size_bytes=NODE_BYTES)
        elif kind == "Pod":
            pod, = run.make_pods(raw, ns, 1, f"churn{serial}", where)
            run.pods[pod.key] = pod
            yield from run.world.create_pod(client, pod)
        else:
            raise NotModelled(f"createAny/churn of kind {kind} is not modelled", where=where)

    def _churn(self, run, sched, client, op, i):
        templates = [load_template(run.base / p, f"op {i}") for p in op.get("templatePaths") or []]
        for t in templates:
            if t.get("kind") not in ("Node", "Pod", "Service"):
                raise NotModelled(f"churn of kind {t.get('kind')} is not modelled", where=f"op {i}")
        run.env.process(self._churning(run, client, op, i, templates))
        yield run.env.timeout(0)

    def _churning(self, run, client, op, i, templates):
        interval = (op.get("intervalMilliseconds") or 500) / 1000.0
        number = int(op.get("number") or 0)
        ns = op.get("namespace") or f"namespace-{i}"
        serial = 0
        while number == 0 or serial < number:
            serial += 1
            for t in templates:
                yield from self._create_object(run, client, t, ns, f"op {i}", serial)
            yield run.env.timeout(interval)
