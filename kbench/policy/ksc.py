"""Reading a KubeSchedulerConfiguration (``kubescheduler.config.k8s.io/v1``): every profile.

:func:`load_scheduler_config` returns a :class:`SchedulerConfiguration` with one
:class:`~kbench.policy.profile.Profile` per entry of ``profiles`` (by ``schedulerName``; upstream
refuses duplicate names and profiles whose queueSort differs, and so does kbench), the file's text
and hash, and the list of what kbench accepts but does not model (``ignored``): plugins it does not
build, their pluginConfig, preBind/postBind plugins, extenders, leader election, client connection
and the other process settings. Per profile: ``plugins`` (every extension point, ``multiPoint``,
``enabled`` with weights, ``disabled`` including ``{name: "*"}``), ``pluginConfig`` (args checked
by each plugin class) and ``percentageOfNodesToScore`` (overrides the top-level one). Top-level
``podInitialBackoffSeconds`` and ``podMaxBackoffSeconds`` are kept in ``settings`` for the
simulated scheduler. :func:`load_ksc` (``--policy FILE.yaml``) returns the first profile. Every
error names its field path, e.g. ``profiles[0].pluginConfig[1].args.scoringStrategy.resources[0].weight``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from kbench.config.loader import load_yaml
from kbench.errors import PolicyError, did_you_mean
from kbench.policy.api import EXTENSION_POINTS
from kbench.policy.profile import (
    DEFAULT_MULTI_POINT,
    NOT_BUILT,
    VOLUME_PHANTOMS,
    PluginRef,
    PointConfig,
    Profile,
    check_percentage,
    merge_multi_point,
    remaining_phantoms,
)
from kbench.policy.registry import Registry

API_VERSION = "kubescheduler.config.k8s.io/v1"
_TOP = {"apiVersion", "kind", "parallelism", "leaderElection", "clientConnection", "healthzBindAddress",
        "metricsBindAddress", "enableProfiling", "enableContentionProfiling", "percentageOfNodesToScore",
        "podInitialBackoffSeconds", "podMaxBackoffSeconds", "profiles", "extenders",
        "delayCacheUntilActive"}
_PROFILE = {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
_UNSUPPORTED_POINTS = {"preBind", "postBind"}
_NOT_MODELLED_TOP = ("parallelism", "leaderElection", "clientConnection", "healthzBindAddress", "metricsBindAddress",
                     "enableProfiling", "enableContentionProfiling", "delayCacheUntilActive")
"""Top-level fields accepted but not modelled (the cycle cost's constants are for parallelism 16, D5)."""


@dataclass
class SchedulerConfiguration:
    """A KubeSchedulerConfiguration read for a run.

    Attributes:
        profiles: One profile per ``profiles`` entry, in file order.
        ignored: What kbench accepts but does not model (one line each, for warnings).
        source: The file path.
        content: The file's text (for the run's manifest).
        sha256: Hex SHA-256 of ``content``.
        settings: Top-level scheduler settings kbench models (backoff seconds).
    """

    profiles: list[Profile]
    ignored: list[str] = field(default_factory=list)
    source: str = ""
    content: str = ""
    sha256: str = ""
    settings: dict = field(default_factory=dict)

    def by_name(self) -> dict[str, Profile]:
        """schedulerName → profile."""
        return {p.scheduler_name: p for p in self.profiles}
_POINTS = {*EXTENSION_POINTS, "multiPoint", *_UNSUPPORTED_POINTS}


def _unknown(key: str, known: set[str], where: str, source: str) -> PolicyError:
    return PolicyError(f"unknown field {key!r}{did_you_mean(key, known)}", source=source, where=where)


def _plugin_set(value, where: str, source: str):
    """Parse ``{enabled: [{name, weight}], disabled: [{name}]}``."""
    if not isinstance(value, dict):
        raise PolicyError("expected a mapping with enabled / disabled", source=source, where=where)
    out = {"enabled": [], "disabled": []}
    for key, items in value.items():
        if key not in out:
            raise _unknown(key, set(out), f"{where}.{key}", source)
        if items is None:
            continue
        if not isinstance(items, list):
            raise PolicyError("expected a list of {name: ...}", source=source, where=f"{where}.{key}")
        for i, item in enumerate(items):
            at = f"{where}.{key}[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise PolicyError("expected {name: PluginName}", source=source, where=at)
            for k in item:
                if k not in ("name", "weight"):
                    raise _unknown(k, {"name", "weight"}, f"{at}.{k}", source)
            weight = item.get("weight", 0)
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise PolicyError(f"weight must be a whole number >= 0, got {weight!r}", source=source,
                                  where=f"{at}.weight")
            out[key].append(PluginRef(item["name"], int(weight), f"{at}.name"))
    return out["enabled"], out["disabled"]


def _top(data: dict, source: str) -> tuple[int | None, dict, list[str]]:
    if data.get("kind") != "KubeSchedulerConfiguration":
        raise PolicyError(f"expected kind KubeSchedulerConfiguration, got {data.get('kind')!r}",
                          source=source, where="kind")
    if data.get("apiVersion") != API_VERSION:
        raise PolicyError(f"expected apiVersion {API_VERSION}, got {data.get('apiVersion')!r}",
                          source=source, where="apiVersion")
    for key in data:
        if key not in _TOP:
            raise _unknown(key, _TOP, key, source)
    top = check_percentage(data.get("percentageOfNodesToScore"), "percentageOfNodesToScore", source)
    settings: dict = {}
    for key in ("parallelism", "podInitialBackoffSeconds", "podMaxBackoffSeconds"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise PolicyError(f"must be a whole number > 0, got {value!r}", source=source, where=key)
            settings[key] = value
    ignored = [f"{key} is not modelled" for key in _NOT_MODELLED_TOP if data.get(key) not in (None, {}, [], "")]
    if data.get("extenders"):
        ignored.append(f"extenders are not modelled: {len(data['extenders'])} extender(s) ignored")
    return top, settings, ignored


def _parse_profile(spec: dict, i: int, top: int | None, settings: dict, source: str, registry: Registry) -> Profile:
    at = f"profiles[{i}]"
    name = spec.get("schedulerName", "default-scheduler")
    if not isinstance(name, str) or not name:
        raise PolicyError("schedulerName must be a non-empty string", source=source, where=f"{at}.schedulerName")
    prof = Profile(Path(source).name if i == 0 else f"{Path(source).name}:{name}", origin="file", source=source,
                   path_prefix=f"{at}.", scheduler_name=name)
    prof.description = f"KubeSchedulerConfiguration {name}"
    prof.settings = dict(settings)
    for key in spec:
        if key not in _PROFILE:
            raise _unknown(key, _PROFILE, f"{at}.{key}", source)
    own = check_percentage(spec.get("percentageOfNodesToScore"), f"{at}.percentageOfNodesToScore", source)
    prof.percentage_of_nodes_to_score = own if own is not None else top

    multi = list(DEFAULT_MULTI_POINT)
    phantoms = list(VOLUME_PHANTOMS)
    plugins = spec.get("plugins") or {}
    if not isinstance(plugins, dict):
        raise PolicyError("expected a mapping of extension points", source=source, where=f"{at}.plugins")
    for point, value in plugins.items():
        where = f"{at}.plugins.{point}"
        if point not in _POINTS:
            raise _unknown(point, _POINTS, where, source)
        if value is None:
            continue
        enabled, disabled = _plugin_set(value, where, source)
        if point == "multiPoint":
            multi = merge_multi_point(multi, enabled, disabled)
            phantoms = remaining_phantoms(phantoms, disabled)
        elif point in _UNSUPPORTED_POINTS:
            if enabled:
                prof.notes.append(f"{point} plugins are not run by kbench: {[r.name for r in enabled]}")
        else:
            prof.points[point] = PointConfig(enabled, disabled)
    prof.multi_point = multi
    prof.phantoms = phantoms

    config = spec.get("pluginConfig") or []
    if not isinstance(config, list):
        raise PolicyError("expected a list of {name, args}", source=source, where=f"{at}.pluginConfig")
    for j, item in enumerate(config):
        where = f"{at}.pluginConfig[{j}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise PolicyError("expected {name: PluginName, args: {...}}", source=source, where=where)
        for k in item:
            if k not in ("name", "args"):
                raise _unknown(k, {"name", "args"}, f"{where}.{k}", source)
        plugin = item["name"]
        if plugin in prof.plugin_config:
            raise PolicyError(f"duplicate pluginConfig for {plugin!r}", source=source, where=f"{where}.name")
        if plugin in NOT_BUILT and plugin not in registry.plugins:
            prof.notes.append(f"pluginConfig for {plugin} is ignored (not built in kbench)")
            continue
        prof._check_name(PluginRef(plugin, 0, f"{where}.name"), registry)
        args = item.get("args") or {}
        if not isinstance(args, dict):
            raise PolicyError("expected a mapping", source=source, where=f"{where}.args")
        args = {k: v for k, v in args.items() if k not in ("apiVersion", "kind")}
        prof.plugin_config[plugin] = args
        prof.arg_paths[plugin] = f"{where}.args"
    prof.expand(registry)
    prof.instantiate(registry)
    return prof


def parse_scheduler_config(data: dict, source: str, registry: Registry, content: str = "") -> SchedulerConfiguration:
    """Every profile of a parsed KubeSchedulerConfiguration (module docstring).

    Raises:
        PolicyError: Wrong kind or version, unknown fields, unknown plugins or bad args, duplicate
            schedulerNames or differing queueSort plugins, naming the field path.
    """
    top, settings, ignored = _top(data, source)
    specs = data.get("profiles") or [{}]
    if not isinstance(specs, list) or not all(isinstance(p, dict) for p in specs):
        raise PolicyError("expected a list of profiles", source=source, where="profiles")
    profiles: list[Profile] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        prof = _parse_profile(spec, i, top, settings, source, registry)
        if prof.scheduler_name in seen:
            raise PolicyError(f"duplicate schedulerName {prof.scheduler_name!r} (also profiles[{seen[prof.scheduler_name]}])",
                              source=source, where=f"profiles[{i}].schedulerName")
        seen[prof.scheduler_name] = i
        profiles.append(prof)
    sorts = [tuple(p.expand(registry)[0]["queueSort"]) for p in profiles]
    for i, sort in enumerate(sorts[1:], start=1):
        if sort != sorts[0]:
            raise PolicyError(f"every profile must use the same queueSort plugin: {list(sorts[0])} in profiles[0], "
                              f"{list(sort)} here", source=source, where=f"profiles[{i}].plugins.queueSort")
    for prof in profiles:
        for note in prof.notes:
            line = f"{prof.scheduler_name}: {note}"
            if line not in ignored:
                ignored.append(line)
    digest = hashlib.sha256(content.encode()).hexdigest() if content else ""
    modelled = {k: v for k, v in settings.items() if k != "parallelism"}
    return SchedulerConfiguration(profiles, ignored, source, content, digest, modelled)


def parse_ksc(data: dict, source: str, registry: Registry) -> Profile:
    """The first profile of a parsed KubeSchedulerConfiguration (the others noted in its ``notes``).

    Raises:
        PolicyError: As :func:`parse_scheduler_config`.
    """
    cfg = parse_scheduler_config(data, source, registry)
    prof = cfg.profiles[0]
    if len(cfg.profiles) > 1:
        names = [p.scheduler_name for p in cfg.profiles[1:]]
        prof.notes.append(f"explain uses the profile of the pod's schedulerName; other profiles: {names}")
    return prof


def load_scheduler_config(path: str | Path, registry: Registry) -> SchedulerConfiguration:
    """Read a KubeSchedulerConfiguration file with every profile (:func:`parse_scheduler_config`).

    Raises:
        PolicyError: As :func:`parse_scheduler_config`, or the file cannot be read.
    """
    try:
        data = load_yaml(path)
        content = Path(path).read_text()
    except PolicyError:
        raise
    except Exception as err:  # KbenchError subclasses from kbench.config.loader
        raise PolicyError(getattr(err, "message", str(err)), source=str(path),
                          where=getattr(err, "where", None)) from None
    return parse_scheduler_config(data, str(path), registry, content)


def load_ksc(path: str | Path, registry: Registry) -> Profile:
    """Read a KubeSchedulerConfiguration file and validate it against ``registry``.

    Raises:
        PolicyError: As :func:`parse_ksc`, or the file cannot be read.
    """
    try:
        data = load_yaml(path)
    except PolicyError:
        raise
    except Exception as err:  # KbenchError subclasses from kbench.config.loader
        raise PolicyError(getattr(err, "message", str(err)), source=str(path),
                          where=getattr(err, "where", None)) from None
    return parse_ksc(data, str(path), registry)
