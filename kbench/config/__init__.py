"""The scenario schema: one frozen dataclass per component section, and the loader.

A YAML file is read by :func:`load_scenario` (:mod:`kbench.config.scenario`): the short forms and
``$name`` parameters are resolved (:mod:`kbench.config.params`), then each section is built into
its dataclass by :mod:`kbench.config.loader` (units in field names, durations and quantities
parsed, unknown fields refused with "did you mean"). Sections: :mod:`~kbench.config.etcd`,
:mod:`~kbench.config.apiserver` (APF, watch cache), :mod:`~kbench.config.clients` (client
classes, sync strategies, the sync experiment), :mod:`~kbench.config.scheduler`,
:mod:`~kbench.config.kubelet` (and kube-proxy), :mod:`~kbench.config.controllers`,
:mod:`~kbench.config.workload` (nodes and workload), :mod:`~kbench.config.faults`.
Every default names its source fact in CALIBRATION.md (``# A1``) or says "kbench default".
"""

from kbench.config.apiserver import (
    ApiserverConfig,
    FlowControlConfig,
    FlowSchemaConfig,
    GzipConfig,
    MemoryConfig,
    PriorityLevelConfig,
    WatchCacheConfig,
)
from kbench.config.clients import ClientClassConfig, SyncConfig, SyncStrategy
from kbench.config.etcd import EtcdConfig
from kbench.config.scenario import MetricsConfig, Scenario, load_scenario, scenario_from_dict

__all__ = [
    "ApiserverConfig", "ClientClassConfig", "EtcdConfig", "FlowControlConfig", "FlowSchemaConfig",
    "GzipConfig", "MemoryConfig", "MetricsConfig", "PriorityLevelConfig", "Scenario", "SyncConfig", "SyncStrategy", "WatchCacheConfig",
    "load_scenario", "scenario_from_dict",
]
