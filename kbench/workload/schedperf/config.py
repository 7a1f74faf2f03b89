"""scheduler_perf's ``performance-config.yaml``, read as upstream's runner reads it.

Upstream: kubernetes/kubernetes ``test/integration/scheduler_perf/scheduler_perf.go`` (code index
copy 115920075: ``testCase``, ``workload``, ``params``, the op structs and their ``isValid`` /
``patchParams``). The file is a list of test cases::

    - name: SchedulingBasic
      featureGates: {Gate: bool}           # optional; a workload's own gates win
      schedulerConfigPath: path             # optional KubeSchedulerConfiguration
      defaultPodTemplatePath: path          # optional
      labels: [...]
      workloadTemplate: [op, ...]
      workloads:
      - {name, params: {name: value}, labels, threshold, featureGates, thresholdMetricSelector}

Paths are relative to the config file. Field names match case-insensitively (Go's JSON decoder)
and an unknown field of an op is an error (upstream decodes ops strictly). ``countParam: $name`` /
``durationParam: $name`` take a workload parameter; an undefined parameter, and a parameter a
workload defines but no op uses, are errors (upstream ``unusedParams``). ``createPodSets`` is
unrolled into one ``createPods`` per namespace ``<namespacePrefix>-<i>``.

Every problem is a :class:`~kbench.errors.ConfigError` naming the case, workload and op; ops kbench
cannot run (DRA, volumes, ``updateAny``, node allocatable strategies) raise
:class:`NotModelled` naming the opcode when a workload of their case runs (the rest of the file
stays usable; ``--list`` marks such workloads "not runnable").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kbench.errors import ConfigError

OPS: dict[str, tuple[str, ...]] = {
    "createNodes": ("count", "countParam", "nodeTemplatePath", "nodeAllocatableStrategy", "labelNodePrepareStrategy",
                    "uniqueNodeLabelStrategy"),
    "createNamespaces": ("prefix", "count", "countParam", "namespaceTemplatePath"),
    "createPods": ("count", "countParam", "steadyState", "duration", "durationParam", "collectMetrics", "namespace",
                   "podTemplatePath", "skipWaitToCompletion", "persistentVolumeTemplatePath",
                   "persistentVolumeClaimTemplatePath"),
    "createPodSets": ("count", "countParam", "namespacePrefix", "createPodsOp"),
    "deletePods": ("namespace", "labelSelector", "skipWaitToCompletion", "deletePodsPerSecond"),
    "churn": ("mode", "number", "intervalMilliseconds", "namespace", "templatePaths"),
    "barrier": ("namespaces", "labelSelector", "stageRequirement"),
    "sleep": ("duration", "durationParam"),
    "startCollectingMetrics": ("name", "namespaces", "labelSelector"),
    "stopCollectingMetrics": (),
    "createAny": ("templatePath", "namespace", "count", "countParam"),
}
"""Opcode → its fields (besides ``opcode``), as upstream's op structs."""
UNSUPPORTED = ("updateAny", "createResourceClaims", "createResourceDriver", "allocResourceClaims")
"""Upstream opcodes kbench cannot run (DRA objects, arbitrary updates)."""
_CASE = ("name", "featureGates", "metricsCollectorConfig", "workloadTemplate", "workloads", "schedulerConfigPath",
         "defaultPodTemplatePath", "labels", "defaultThresholdMetricSelector")
_WORKLOAD = ("name", "params", "labels", "threshold", "thresholdMetricSelector", "featureGates")


class NotModelled(ConfigError):
    """An op or option kbench does not model (exit 2, naming it)."""


@dataclass
class Workload:
    """One workload of a test case (``params`` already overridden by ``--param``)."""

    name: str
    params: dict
    labels: list[str] = field(default_factory=list)
    threshold: float = 0.0
    feature_gates: dict[str, bool] = field(default_factory=dict)
    threshold_metric: str = "SchedulingThroughput"


@dataclass
class TestCase:
    """One test case: its ops template (raw mappings, keys canonical) and workloads."""

    name: str
    ops: list[dict]
    workloads: list[Workload]
    labels: list[str] = field(default_factory=list)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    scheduler_config: Path | None = None
    default_pod_template: Path | None = None
    extras: list[str] = field(default_factory=list)


@dataclass
class PerfConfig:
    """A parsed performance-config.yaml."""

    path: Path
    content: str
    sha256: str
    cases: list[TestCase]

    def case(self, name: str) -> TestCase:
        for c in self.cases:
            if c.name == name:
                return c
        from kbench.errors import did_you_mean
        raise ConfigError(f"no test case {name!r}{did_you_mean(name, [c.name for c in self.cases])}", where="--case")


def looks_like_perf_config(data) -> bool:
    """A scheduler_perf file: a list whose items have ``workloadTemplate``."""
    return isinstance(data, list) and bool(data) and all(isinstance(x, dict) and "workloadTemplate" in x for x in data)


def _canon(obj: dict, known: tuple[str, ...], where: str) -> dict:
    """Keys matched case-insensitively to ``known``; an unknown key is an error."""
    lower = {k.lower(): k for k in (*known, "opcode")}
    out = {}
    for k, v in obj.items():
        name = lower.get(str(k).lower())
        if name is None:
            raise ConfigError(f"unknown field {k!r} (known: {', '.join(known)})", where=where)
        out[name] = v
    return out


def _op(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping", where=where)
    opcode = next((v for k, v in raw.items() if str(k).lower() == "opcode"), None)
    if opcode in UNSUPPORTED:  # refused when a workload of this case runs (--list shows it)
        return {"opcode": opcode, "_not_modelled": f"opcode {opcode} is not modelled by kbench", "_where": where}
    if opcode not in OPS:
        raise ConfigError(f"unknown opcode {opcode!r}", where=where)
    op = _canon(raw, OPS[opcode], where)
    if op.get("collectMetrics") and op.get("skipWaitToCompletion"):
        raise ConfigError("collectMetrics and skipWaitToCompletion cannot be true at the same time", where=where)
    if opcode == "createPodSets":
        op["createPodsOp"] = _op(op.get("createPodsOp") or {}, f"{where}.createPodsOp")
    return op


def load_perf_config(path: str | Path, overrides: dict | None = None) -> PerfConfig:
    """Read and check a performance-config.yaml (``overrides``: ``--param`` values for every workload).

    Raises:
        ConfigError: A malformed file (the field path named).
    """
    path = Path(path)
    try:
        content = path.read_text()
        data = yaml.safe_load(content)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read: {err}", source=str(path)) from None
    if not looks_like_perf_config(data):
        raise ConfigError("not a scheduler_perf config (a list of test cases with workloadTemplate)", source=str(path))
    base = path.parent
    cases = []
    for i, raw in enumerate(data):
        where = f"[{i}]"
        raw = _canon(raw, _CASE, where)
        name = str(raw.get("name") or "")
        ops = [_op(o, f"{name}.workloadTemplate[{j}]") for j, o in enumerate(raw.get("workloadTemplate") or [])]
        workloads = []
        for j, w in enumerate(raw.get("workloads") or []):
            w = _canon(w, _WORKLOAD, f"{name}.workloads[{j}]")
            params = {**(w.get("params") or {}), **(overrides or {})}
            metric = (w.get("thresholdMetricSelector") or raw.get("defaultThresholdMetricSelector") or {}).get(
                "name", "SchedulingThroughput")
            workloads.append(Workload(str(w.get("name")), params, list(w.get("labels") or []),
                                      float(w.get("threshold") or 0.0), dict(w.get("featureGates") or {}), metric))
        extras = ["metricsCollectorConfig is not modelled (kbench measures SchedulingThroughput)"] \
            if raw.get("metricsCollectorConfig") else []
        cases.append(TestCase(name, ops, workloads, list(raw.get("labels") or []), dict(raw.get("featureGates") or {}),
                              base / raw["schedulerConfigPath"] if raw.get("schedulerConfigPath") else None,
                              base / raw["defaultPodTemplatePath"] if raw.get("defaultPodTemplatePath") else None,
                              extras))
    return PerfConfig(path, content, hashlib.sha256(content.encode()).hexdigest(), cases)


# ----- parameters -------------------------------------------------------------------------------------

class Params:
    """A workload's parameters, recording which ones the ops use (upstream ``params.isUsed``)."""

    def __init__(self, values: dict, where: str):
        self.values, self.where, self.used = dict(values), where, set()

    def count(self, op: dict, where: str) -> int:
        if op.get("countParam"):
            return int(self._get(op["countParam"], where))
        count = op.get("count", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"invalid Count={count!r}", where=where)
        return count

    def duration_s(self, op: dict, where: str) -> float:
        from kbench.quantity import parse_duration

        if op.get("durationParam"):
            return parse_duration(str(self._get(op["durationParam"], where)), where=where)
        return parse_duration(str(op["duration"]), where=where) if op.get("duration") else 0.0

    def _get(self, ref, where: str):
        if not isinstance(ref, str) or not ref.startswith("$"):
            raise ConfigError(f"a parameter reference must start with $, got {ref!r}", where=where)
        name = ref[1:]
        self.used.add(name)
        if name not in self.values:
            raise ConfigError(f"parameter {name} is undefined", where=where)
        return self.values[name]

    def check_all_used(self) -> None:
        """Upstream refuses a workload whose parameters are not all used."""
        unused = sorted(set(self.values) - self.used)
        if unused:
            raise ConfigError(f"the parameters {unused} are defined on the workload, but unused", where=self.where)


def load_template(path: Path, where: str) -> dict:
    """A Kubernetes object template (node, pod, namespace, service...) from a YAML file.

    Raises:
        ConfigError: The file cannot be read or is not a mapping.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read template {path}: {err}", where=where) from None
    if not isinstance(data, dict):
        raise ConfigError(f"template {path} is not a Kubernetes object", where=where)
    return data
