"""The scenario schema: typed, frozen, with units in field names and defaults from CALIBRATION.md.

Each default names its source fact id (``# A1``) in a comment. Fields without a fact are documented
choices ("kbench default") and say so. ``load_scenario(path)`` reads a YAML file; the effective config
(every default resolved) is what :func:`kbench.config.loader.to_dict` returns, and it goes into every
run's manifest together with :func:`kbench.config.loader.config_hash`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbench.config.apiserver import ApiserverConfig
from kbench.config.calibration import CalibrationRecord, apply_calibration, load_calibration
from kbench.config.clients import ClientClassConfig, SyncConfig, SyncStrategy, default_client_classes
from kbench.config.cluster import ClusterConfig
from kbench.config.controllers import ControllersConfig
from kbench.config.etcd import EtcdConfig
from kbench.config.events import EventsConfig
from kbench.config.faults import FaultConfig
from kbench.config.features import DEFAULT_VERSION, resolve
from kbench.config.filekind import misplaced, read_docs
from kbench.config.kubelet import KubeletConfig, KubeProxyConfig
from kbench.config.loader import from_dict, load_yaml, to_dict
from kbench.config.params import prepare
from kbench.config.scheduler import SchedulerConfig
from kbench.config.workload import WorkloadConfig
from kbench.errors import ConfigError, KbenchError

# ------------------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class MetricsConfig:
    """Metric collection.

    Attributes:
        series_interval_s: Time-series sampling grid step, seconds.
        latency_buckets_s: Upper bounds of the request-latency histogram, seconds.
    """

    series_interval_s: float = 1.0
    latency_buckets_s: list[float] = field(default_factory=lambda: [
        0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0,
        8.0, 15.0, 30.0, 60.0])


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file.

    Attributes:
        version: Schema version of the file (1).
        name: Scenario name, used in run ids and reports.
        seed: Master seed of the seed tree.
        duration_s: Virtual time to simulate, seconds.
        warmup_s: Virtual time at the start excluded from steady-state figures, seconds.
        etcd: etcd.
        apiserver: kube-apiserver.
        clients: Client classes by name.
        sync: The List vs List-Watch experiment.
        metrics: Metric collection.
        cluster: Nodes (lifecycle runs).
        workload: Deployments, Jobs, pods, extra kinds (lifecycle runs).
        scheduler: kube-scheduler.
        kubelet: Kubelets.
        kubeproxy: kube-proxies.
        controllers: kube-controller-manager.
        events: Events: emitters, correlation, TTL, their etcd (J1-J8).
        sync_strategies: Per client class, ``list-watch`` (default) or ``poll:<period>``
            (``kubelet: poll:10s``); classes: scheduler, controller-manager, kubelet, kube-proxy,
            generic.
        faults: The fault timeline (``[{at_s, fault, params}]``, see :mod:`kbench.config.faults`).
        kubernetes_version: The release modelled (``"1.35"``); feature gate defaults follow it
            (:mod:`kbench.config.features`).
        feature_gates: Gate overrides (``{ConsistentListFromCache: false}``).
        gates: Every gate's resolved value (derived; printed in the effective config).
        calibration: The calibration file laid under this scenario (``--calibration``), recorded
            for the manifest; None without one. Not part of the config hash (the values it set are).
    """

    version: int = 1
    name: str = "scenario"
    seed: int = 1
    duration_s: float = 600.0
    warmup_s: float = 0.0
    etcd: EtcdConfig = field(default_factory=EtcdConfig)
    apiserver: ApiserverConfig = field(default_factory=ApiserverConfig)
    clients: dict[str, ClientClassConfig] = field(default_factory=default_client_classes)
    sync: SyncConfig = field(default_factory=SyncConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    kubelet: KubeletConfig = field(default_factory=KubeletConfig)
    kubeproxy: KubeProxyConfig = field(default_factory=KubeProxyConfig)
    controllers: ControllersConfig = field(default_factory=ControllersConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    sync_strategies: dict[str, str] = field(default_factory=dict)
    faults: list[FaultConfig] = field(default_factory=list)
    kubernetes_version: str = DEFAULT_VERSION  # newest release in CALIBRATION.md (A15: v1.35)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    gates: dict[str, bool] = field(init=False, default_factory=dict)
    calibration: CalibrationRecord | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "gates", resolve(self.kubernetes_version, self.feature_gates))
        if self.version != 1:
            raise ConfigError(f"unsupported version {self.version}: expected 1", where="version")
        if self.duration_s <= 0:
            raise ConfigError("must be > 0", where="duration_s")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"must be a whole number >= 0, got {self.seed!r}", where="seed")
        for cls, text in self.sync_strategies.items():
            SyncStrategy.parse(text, where=f"sync_strategies.{cls}")

    def sync_strategy(self, client_class: str):
        """The :class:`~kbench.cluster.clients.informer.SyncStrategy` of ``client_class``."""
        text = self.sync_strategies.get(client_class)
        return SyncStrategy.parse(text) if text else SyncStrategy()

    def client_class(self, name: str) -> ClientClassConfig:
        """The config of client class ``name`` (falling back to ``default``)."""
        return self.clients.get(name) or self.clients.get("default") or ClientClassConfig()


def load_scenario(path: str | Path, params: dict[str, Any] | None = None,
                  calibration: str | Path | None = None) -> Scenario:
    """Load and validate a scenario YAML file.

    The short forms at the top of the file are moved into ``workload`` and ``params`` merged over
    ``workload.params`` (:func:`kbench.config.params.prepare`); the scenario's folder is recorded as
    the parameter ``scenario_dir``, where relative paths are looked up first.

    Args:
        path: The scenario YAML.
        params: Parameter overrides (``--param``), merged over ``workload.params``.
        calibration: A calibration file (:mod:`kbench.config.calibration`) laid over the defaults,
            under the scenario's explicit values.

    Raises:
        KbenchError: The file is missing or malformed, or is another kind of file (a cluster dump,
            Kubernetes manifests, a ClusterLoader2 config...: the message says what it is and how
            to use it, :mod:`kbench.config.filekind`); the message names the file and field.
    """
    try:
        data = load_yaml(path)
    except ConfigError:
        docs = read_docs(path)
        message = misplaced(docs, "scenario") if docs is not None else None
        if message:
            raise ConfigError(message, source=str(path)) from None
        raise
    if any(key in data for key in ("apiVersion", "kind", "steps", "tuningSets")):
        message = misplaced([data], "scenario")
        if message:
            raise ConfigError(message, source=str(path))
    try:
        data = prepare(data, scenario_dir=str(Path(path).resolve().parent), params=params)
        return scenario_from_dict(data, calibration=calibration)
    except KbenchError as err:
        raise type(err)(err.message, source=err.source or str(path), where=err.where) from None


def scenario_from_dict(data: dict, calibration: str | Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from plain data (merging client classes over the defaults).

    Args:
        data: The scenario's plain data.
        calibration: A calibration file laid over the defaults, under ``data``'s own values.
    """
    data = dict(data)
    if "kube_proxy" in data:  # the spelling of the kubeproxy section
        if "kubeproxy" in data:
            raise ConfigError("given twice: kube_proxy and kubeproxy (the same section)", where="kube_proxy")
        data["kubeproxy"] = data.pop("kube_proxy")
    if calibration is not None:
        data, record = apply_calibration(data, load_calibration(calibration))
        data["calibration"] = to_dict(record)
    clients = data.get("clients")
    if isinstance(clients, dict):
        merged = {k: _client_dict(v) for k, v in default_client_classes().items()}
        for k, v in clients.items():
            merged[str(k)] = {**merged.get(str(k), {}), **(v or {})} if isinstance(v, dict) else v
        data["clients"] = merged
    return from_dict(Scenario, data)


def _client_dict(c: ClientClassConfig) -> dict:
    return to_dict(c)
