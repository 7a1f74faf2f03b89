"""Workload spec files (scheduler_perf style, STYLE habit 9) and how scenarios reference them.

A *workload spec* is a YAML file with ``version: 1``, named ``params`` (defaults), ``labels`` and a
list of ``ops``::

    version: 1
    labels: [performance, gpu]
    params: {nodes: 500, pods: 5000, rate: 100}
    ops:
      - {op: createNodes, count: $nodes, cpu_cores: 32, memory_bytes: 128Gi, gpus: 8, gpu_model: A100}
      - {op: createPods, name: warm, count: 1000, arrival: {kind: poisson, rate_per_s: $rate}}
      - {op: barrier, until: scheduled}
      - op: createPods
        name: measured
        count: $pods
        measure: true
        arrival: {kind: diurnal, rate_per_s: $rate, period_s: 1h}
        template: {cpu_cores: {kind: lognormal, median: 500m, p99: 4}, gpus: [0, 0, 1],
                   duration_s: {kind: exponential, mean: 10m}}

**How a scenario uses it (the least invasive design).** Everything lives in the scenario's
existing ``workload:`` section, so the ``Scenario`` schema and ``kbench run`` are unchanged:
``workload.spec: path/to/spec.yaml`` references a spec file, ``workload.ops: [...]`` inlines ops,
and ``workload.params`` overrides the spec's parameter defaults. They are compiled at build time
(:func:`compile_workload`, called by the runner with the run's seed) into the lists the model
already runs: ``cluster.nodes``, ``workload.deployments`` / ``jobs`` / ``pods`` / ``generic`` /
``traces`` and ``workload.barriers``. :func:`kbench.config.load_scenario` additionally accepts the short forms
at the top of a scenario (``workload_spec:``, ``ops:``, ``params:``, ``labels:``), moves them into
``workload``, records the scenario's folder as the parameter ``scenario_dir`` and applies CLI
parameter overrides (``kbench run --param pods=openb_pod_list_gpushare40.csv``).

**Ops.** ``createNodes`` (→ a node group: count, cpu_cores, memory_bytes, pods, gpus, gpu_model,
labels, taints, zones, images; nodes are the initial state, so it must come before any barrier),
``createPods`` (→ a bare pod group; ``arrival`` is an :class:`~kbench.config.workload.ArrivalSpec`,
template fields may be distributions, drawn per pod), ``createDeployment`` / ``createJob`` (``count``
objects; distributions in their templates and in replicas / completions / parallelism are drawn
per object), ``churn`` (pods: ``count`` pods at ``rate_per_s`` living ``lifetime_s`` each; any other
``resource``: objects updated at ``changes_per_s`` with ``watchers``, from time zero),
``replayTrace`` (→ a trace replay, the fields of :class:`~kbench.config.workload.TraceReplaySpec`),
``barrier`` and ``wait``. Issue 18 added ``createNamespace`` (``count`` namespaces ``<name>-1..``),
``createService``, ``createDaemonSet``, ``createStatefulSet``, ``scaleDeployment`` and ``rollout``
(→ :class:`~kbench.config.workload.UpdateSpec`), ``deleteDeployment``, ``deleteDaemonSet``,
``deleteStatefulSet``, ``deleteService``, ``deleteJob``, ``deleteNamespace`` (→
:class:`~kbench.config.workload.DeleteSpec`); ``createDeployment`` and ``createService`` take
``per_namespace: k`` (k copies ``<name>-<i>`` in every namespace of the last ``createNamespace``)
and ``spread_s``; ``createService`` takes ``select_prefix`` (copy i selects the Deployment copy i).

**Barriers in virtual time.** Ops start together at the current *sync point* (time zero at first),
each after its own ``at_s``. ``barrier`` makes a new sync point released when every item since the
previous one has finished creating its objects (a pod group: its last create sent; a Deployment
or Job: created) and, with ``until: scheduled``, when every pod created so far is bound or given
up (checked every virtual second; ``timeout_s`` releases it anyway). ``wait: {duration_s: 30s}`` is
a barrier released 30 virtual seconds after that creation point. Nothing is measured in wall time.

**Measured phase.** Ops with ``measure: true`` form the measured phase; it starts when the first
of them starts (a virtual time known only at run time when barriers precede it). Everything before
is warm-up: the summary's ``measured`` block (and ``warmup_s``) cover only the pods created from
then on.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from kbench.config.cluster import NodeGroup
from kbench.config.loader import from_dict, load_yaml
from kbench.config.params import resolve_path, substitute
from kbench.config.workload import (
    BarrierSpec,
    DaemonSetSpec,
    DeleteSpec,
    DeploymentSpec,
    GenericKindSpec,
    JobSpec,
    NamespaceSpec,
    PodGroupSpec,
    ServiceSpec,
    StatefulSetSpec,
    TraceReplaySpec,
    UpdateSpec,
)
from kbench.dist import KINDS as DIST_KINDS
from kbench.errors import ConfigError, KbenchError, did_you_mean
from kbench.rng import SeedTree
from kbench.workload.appops import AppOps

SPEC_VERSION = 1
SPEC_KEYS = ("version", "name", "description", "params", "labels", "ops")
VARYING = ("cpu_cores", "memory_bytes", "image", "image_bytes", "duration_s", "priority", "gpus",
           "gpu_milli", "gpu_model", "fail_probability")
"""Template fields that may be distributions (drawn per pod, or per object for controllers)."""
_TEXT = ("image", "gpu_model")


# ---------------------------------------------------------------------------------- compiling

def compile_workload(scenario, *, loader=None):
    """Compile ``workload.spec`` / ``workload.ops`` and resolve trace paths (see module docstring).

    Args:
        scenario: The effective :class:`~kbench.config.Scenario` (its seed is the run's).
        loader: ``loader(path, format) -> Trace`` for empirical distributions (tests).

    Returns:
        A scenario with the ops compiled into ``cluster`` and ``workload`` (``spec`` and ``ops``
        emptied, ``params`` kept), trace paths absolute. The scenario itself when there is nothing
        to do.
    """
    wl = scenario.workload
    if not (wl.spec or wl.ops or wl.traces or any(g.arrival or g.vary for g in wl.pods)):
        return scenario
    params = dict(wl.params)
    scenario_dir = params.get("scenario_dir")
    ops: list[tuple[dict, str, str | None, str | None]] = []
    labels = list(wl.labels)
    if wl.spec:
        spec_path = resolve_path(str(substitute(wl.spec, params, "workload.spec")), scenario_dir,
                                 where="workload.spec")
        doc = load_yaml(spec_path)
        params = _spec_params(doc, spec_path, params)
        labels += [str(x) for x in doc.get("labels") or []]
        for i, op in enumerate(doc.get("ops") or []):
            ops.append((op, f"ops[{i}]", spec_path, str(Path(spec_path).parent)))
    for i, op in enumerate(wl.ops):
        ops.append((op, f"workload.ops[{i}]", None, scenario_dir))
    c = _Compiler(scenario.seed, params, loader)
    for op, where, source, base in ops:
        try:
            c.op(op, where, base)
        except KbenchError as err:
            raise type(err)(err.message, source=source or err.source, where=err.where) from None
    traces = [c.trace({f.name: getattr(t, f.name) for f in fields(t)}, f"workload.traces[{i}]", scenario_dir,
                      typed=t) for i, t in enumerate(wl.traces)] + c.traces
    pods = [c.resolve_group(g, f"workload.pods[{i}]", scenario_dir) for i, g in enumerate(wl.pods)] + c.pods
    new_wl = replace(wl, spec="", ops=[], params=params, labels=list(dict.fromkeys(labels)),
                     deployments=wl.deployments + c.deployments, jobs=wl.jobs + c.jobs, pods=pods,
                     generic=wl.generic + c.generic, barriers=wl.barriers + c.barriers, traces=traces,
                     namespaces=wl.namespaces + c.namespaces, services=wl.services + c.services,
                     daemonsets=wl.daemonsets + c.daemonsets, statefulsets=wl.statefulsets + c.statefulsets,
                     updates=wl.updates + c.updates, deletes=wl.deletes + c.deletes)
    cluster = replace(scenario.cluster, nodes=scenario.cluster.nodes + c.nodes) if c.nodes else scenario.cluster
    return replace(scenario, workload=new_wl, cluster=cluster)


def _spec_params(doc: dict, source: str, overrides: dict) -> dict:
    for key in (k for k in doc if k not in SPEC_KEYS):
        raise ConfigError(f"unknown field '{key}'{did_you_mean(str(key), SPEC_KEYS)}", source=source, where=key)
    if doc.get("version") != SPEC_VERSION:
        raise ConfigError(f"unsupported version {doc.get('version')!r}: expected {SPEC_VERSION}", source=source,
                          where="version")
    defaults = doc.get("params") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("expected a mapping", source=source, where="params")
    if not isinstance(doc.get("ops") or [], list):
        raise ConfigError("expected a list of ops", source=source, where="ops")
    return {**defaults, **overrides}


class _Compiler(AppOps):
    """Turns ops into config items, keeping the current sync point (barrier) and the item names."""

    OPS = ("createNodes", "createPods", "createDeployment", "createJob", "churn", "replayTrace",
           "barrier", "wait", "createNamespace", "createService", "createDaemonSet", "createStatefulSet",
           "scaleDeployment", "rollout", "deleteDeployment", "deleteDaemonSet", "deleteStatefulSet",
           "deleteService", "deleteJob", "deleteNamespace")

    def __init__(self, seed: int, params: dict[str, Any], loader):
        self.seeds = SeedTree(seed)
        self.params = params
        self.loader = loader
        self.nodes: list[NodeGroup] = []
        self.pods: list[PodGroupSpec] = []
        self.deployments: list[DeploymentSpec] = []
        self.jobs: list[JobSpec] = []
        self.generic: list[GenericKindSpec] = []
        self.traces: list[TraceReplaySpec] = []
        self.barriers: list[BarrierSpec] = []
        self.namespaces: list[NamespaceSpec] = []
        self.services: list[ServiceSpec] = []
        self.daemonsets: list[DaemonSetSpec] = []
        self.statefulsets: list[StatefulSetSpec] = []
        self.updates: list[UpdateSpec] = []
        self.deletes: list[DeleteSpec] = []
        self.last_namespaces: list[str] = []  # of the last createNamespace (per_namespace)
        self.after = ""  # the current sync point
        self.since: list[str] = []  # items started at it
        self.names: set[str] = set()

    def _name(self, raw: Any, default: str, where: str) -> str:
        name = str(raw) if raw else default
        if name in self.names:
            raise ConfigError(f"duplicate name {name!r}", where=f"{where}.name")
        self.names.add(name)
        return name

    def op(self, raw: Any, where: str, base: str | None) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(f"expected a mapping, got {type(raw).__name__}", where=where)
        raw = substitute(raw, self.params, where)
        op = dict(raw)
        kind = op.pop("op", None) or op.pop("opcode", None)
        if kind not in self.OPS:
            raise ConfigError(f"unknown op {kind!r}{did_you_mean(str(kind), self.OPS)}: expected one of "
                              f"{', '.join(self.OPS)}", where=f"{where}.op")
        getattr(self, "_" + kind)(op, where, base)

    # ----- ops ----------------------------------------------------------------------------
    def _createNodes(self, op: dict, where: str, base) -> None:  # noqa: N802 - op names
        if self.after:
            raise ConfigError("createNodes must come before the first barrier or wait (nodes are the "
                              "initial state)", where=where)
        op.setdefault("name_prefix", op.pop("name", None) or ("node" if not self.nodes else f"node{len(self.nodes)}"))
        self.nodes.append(from_dict(NodeGroup, op, where))

    def _createPods(self, op: dict, where: str, base) -> None:  # noqa: N802
        name = self._name(op.pop("name", None), f"pods-{len(self.pods)}", where)
        template, vary = self._template(op.pop("template", {}) or {}, f"{where}.template")
        arrival = op.get("arrival")
        if isinstance(arrival, dict) and arrival.get("trace"):
            op["arrival"] = {**arrival, "trace": resolve_path(str(arrival["trace"]), base,
                                                               where=f"{where}.arrival.trace")}
        vary = {**(op.pop("vary", None) or {}), **vary}
        vary = {k: self._resolve_dist(v, base, f"{where}.template.{k}") for k, v in vary.items()}
        _check_vary(vary, f"{where}.template", self.loader)
        group = from_dict(PodGroupSpec, {**op, "name": name, "template": template, "after": self.after}, where)
        self.pods.append(replace(group, vary=vary))
        self.since.append(name)

    def _controller(self, op: dict, where: str, cls, counters: tuple[str, ...], out: list) -> None:
        base_name = self._name(op.pop("name", None), f"{cls.__name__[:-4].lower()}-{len(out)}", where)
        count = int(op.pop("count", 1))
        rng = self.seeds.stream(f"workload/spec/{base_name}")
        raw_template = op.pop("template", {}) or {}
        from kbench.workload.synth import parse_dist
        for j in range(count):
            name = base_name if count == 1 else f"{base_name}-{j}"
            if count > 1:
                self.names.add(name)
            obj = dict(op)
            for key in counters:
                if isinstance(obj.get(key), dict | list):
                    obj[key] = max(0, int(round(float(parse_dist(obj[key], f"{where}.{key}").sample(rng, 1)[0]))))
            template, vary = self._template(raw_template, f"{where}.template")
            for key, raw in vary.items():
                d = parse_dist(raw, f"{where}.template.{key}", unit="s" if key.endswith("_s") else "",
                               text=key in _TEXT, loader=self.loader)
                v = d.sample(rng, 1)[0]
                template[key] = str(v) if key in _TEXT else (int(round(float(v))) if key in (
                    "priority", "gpus", "gpu_milli") else float(v))
            out.append(from_dict(cls, {**obj, "name": name, "template": template, "after": self.after}, where))
            self.since.append(name)

    def _createDeployment(self, op: dict, where: str, base) -> None:  # noqa: N802
        if "per_namespace" in op:
            self._per_namespace(op, where, DeploymentSpec, self.deployments)
            return
        self._controller(op, where, DeploymentSpec, ("replicas",), self.deployments)

    def _createJob(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._controller(op, where, JobSpec, ("completions", "parallelism"), self.jobs)

    def _churn(self, op: dict, where: str, base) -> None:
        resource = str(op.pop("resource", "pods"))
        if resource != "pods":
            keys = {"objects": op.pop("count", op.pop("objects", 100))}
            keys.update({k: op.pop(k) for k in ("object_bytes", "changes_per_s", "watchers", "sync") if k in op})
            op.pop("name", None)
            if op:
                key = next(iter(op))
                raise ConfigError(f"unknown field '{key}' for churn of {resource}", where=f"{where}.{key}")
            self.generic.append(from_dict(GenericKindSpec, {"resource": resource, **keys}, where))
            return
        lifetime = op.pop("lifetime_s", "30s")
        template = dict(op.pop("template", {}) or {})
        template["duration_s"] = lifetime
        op["template"] = template
        op.setdefault("name", f"churn-{len(self.pods)}")
        self._createPods(op, where, base)

    def _replayTrace(self, op: dict, where: str, base) -> None:  # noqa: N802
        self.traces.append(self.trace(op, where, base))

    def _barrier(self, op: dict, where: str, base, delay: Any = 0.0) -> None:
        name = self._name(op.pop("name", None), f"barrier-{len(self.barriers)}", where)
        after = ([self.after] if self.after else []) + self.since
        self.barriers.append(from_dict(BarrierSpec, {**op, "name": name, "after": after, "delay_s": delay}, where))
        self.after, self.since = name, []

    def _wait(self, op: dict, where: str, base) -> None:
        if "duration_s" not in op:
            raise ConfigError("wait needs duration_s", where=where)
        delay = op.pop("duration_s")
        self._barrier({**op, "until": "created"}, where, base, delay)

    # ----- helpers ------------------------------------------------------------------------
    def _template(self, raw: Any, where: str) -> tuple[dict, dict]:
        """Split a template into constant fields and per-pod distributions (``vary``)."""
        if not isinstance(raw, dict):
            raise ConfigError(f"expected a mapping, got {type(raw).__name__}", where=where)
        template, vary = {}, {}
        for key, value in raw.items():
            dist_like = isinstance(value, list) or (isinstance(value, dict) and "kind" in value)
            as_dist = key == "duration_s" and isinstance(value, dict) and value.get("kind") in DIST_KINDS
            if key in VARYING and dist_like and not as_dist:  # a Dist duration stays in the template
                vary[key] = value
            else:
                template[key] = value
        return template, vary

    def _resolve_dist(self, raw: Any, base: str | None, where: str) -> Any:
        if isinstance(raw, dict) and raw.get("trace"):
            return {**raw, "trace": resolve_path(str(raw["trace"]), base, where=f"{where}.trace")}
        return raw

    def trace(self, raw: dict, where: str, base: str | None, typed: TraceReplaySpec | None = None) -> TraceReplaySpec:
        """A trace replay with parameters filled in and paths resolved."""
        data = dict(raw)
        for key in ("name", "file", "format", "nodes_file", "nodes_format", "namespace", "image"):
            if isinstance(data.get(key), str):
                data[key] = substitute(data[key], self.params, f"{where}.{key}")
        for key in ("file", "nodes_file"):
            if data.get(key):
                data[key] = resolve_path(str(data[key]), base, where=f"{where}.{key}")
        return replace(typed, **data) if typed is not None else from_dict(TraceReplaySpec, data, where)

    def resolve_group(self, g: PodGroupSpec, where: str, base: str | None) -> PodGroupSpec:
        """A scenario-level pod group with its trace paths resolved."""
        if g.arrival is not None and g.arrival.trace:
            g = replace(g, arrival=replace(g.arrival, trace=resolve_path(g.arrival.trace, base,
                                                                         where=f"{where}.arrival.trace")))
        if g.vary:
            g = replace(g, vary={k: self._resolve_dist(v, base, f"{where}.vary.{k}") for k, v in g.vary.items()})
            _check_vary(g.vary, f"{where}.vary", self.loader)
        return g


def _check_vary(vary: dict[str, Any], where: str, loader) -> None:
    """Validate per-pod distributions (errors name the field)."""
    from kbench.workload.synth import parse_dist

    for key, raw in vary.items():
        if key not in VARYING:
            raise ConfigError(f"cannot vary '{key}'{did_you_mean(key, VARYING)}: expected one of "
                              f"{', '.join(VARYING)}", where=f"{where}.{key}")
        parse_dist(raw, f"{where}.{key}", unit="s" if key.endswith("_s") else "", text=key in _TEXT, loader=loader)
