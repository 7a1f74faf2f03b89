"""Reading a KubeSchedulerConfiguration (``kubescheduler.config.k8s.io/v1``) as a profile.

Only ``profiles[0]`` is used (kbench runs one scheduler profile); further profiles are listed in
the profile's ``notes``. Per profile: ``plugins`` (every extension point, ``multiPoint``,
``enabled`` with weights, ``disabled`` including ``{name: "*"}``), ``pluginConfig`` (args checked
by each plugin class) and ``percentageOfNodesToScore`` (overrides the top-level one). Top-level
``parallelism``, ``podInitialBackoffSeconds`` and ``podMaxBackoffSeconds`` are kept in
``Profile.settings`` for the simulated scheduler; connection, leader-election and extender settings
are accepted and ignored. Every error names its field path, e.g.
``profiles[0].pluginConfig[1].args.scoringStrategy.resources[0].weight``.
"""

from __future__ import annotations

from pathlib import Path

from kbench.config.loader import load_yaml
from kbench.errors import PolicyError, did_you_mean
from kbench.policy.api import EXTENSION_POINTS
from kbench.policy.profile import (
    DEFAULT_MULTI_POINT,
    NOT_BUILT,
    PluginRef,
    PointConfig,
    Profile,
    check_percentage,
    merge_multi_point,
)
from kbench.policy.registry import Registry

API_VERSION = "kubescheduler.config.k8s.io/v1"
_TOP = {"apiVersion", "kind", "parallelism", "leaderElection", "clientConnection", "healthzBindAddress",
        "metricsBindAddress", "enableProfiling", "enableContentionProfiling", "percentageOfNodesToScore",
        "podInitialBackoffSeconds", "podMaxBackoffSeconds", "profiles", "extenders",
        "delayCacheUntilActive"}
_PROFILE = {"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"}
_UNSUPPORTED_POINTS = {"preEnqueue", "preBind", "postBind"}
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


def parse_ksc(data: dict, source: str, registry: Registry) -> Profile:
    """Build the profile of ``profiles[0]`` of a parsed KubeSchedulerConfiguration.

    Raises:
        PolicyError: Wrong kind or version, unknown fields, unknown plugins or bad args, naming the
            field path.
    """
    if data.get("kind") != "KubeSchedulerConfiguration":
        raise PolicyError(f"expected kind KubeSchedulerConfiguration, got {data.get('kind')!r}",
                          source=source, where="kind")
    if data.get("apiVersion") != API_VERSION:
        raise PolicyError(f"expected apiVersion {API_VERSION}, got {data.get('apiVersion')!r}",
                          source=source, where="apiVersion")
    for key in data:
        if key not in _TOP:
            raise _unknown(key, _TOP, key, source)
    profiles = data.get("profiles") or [{}]
    if not isinstance(profiles, list) or not all(isinstance(p, dict) for p in profiles):
        raise PolicyError("expected a list of profiles", source=source, where="profiles")
    spec = profiles[0]
    prof = Profile(Path(source).name, origin="file", source=source, path_prefix="profiles[0].")
    prof.description = f"KubeSchedulerConfiguration {spec.get('schedulerName', 'default-scheduler')}"
    if len(profiles) > 1:
        names = [p.get("schedulerName", "?") for p in profiles[1:]]
        prof.notes.append(f"only profiles[0] is used; ignored {names}")
    for key in spec:
        if key not in _PROFILE:
            raise _unknown(key, _PROFILE, f"profiles[0].{key}", source)
    top = check_percentage(data.get("percentageOfNodesToScore"), "percentageOfNodesToScore", source)
    own = check_percentage(spec.get("percentageOfNodesToScore"), "profiles[0].percentageOfNodesToScore", source)
    prof.percentage_of_nodes_to_score = own if own is not None else top
    for key in ("parallelism", "podInitialBackoffSeconds", "podMaxBackoffSeconds"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise PolicyError(f"must be a whole number > 0, got {value!r}", source=source, where=key)
            prof.settings[key] = value

    multi = list(DEFAULT_MULTI_POINT)
    plugins = spec.get("plugins") or {}
    if not isinstance(plugins, dict):
        raise PolicyError("expected a mapping of extension points", source=source, where="profiles[0].plugins")
    for point, value in plugins.items():
        where = f"profiles[0].plugins.{point}"
        if point not in _POINTS:
            raise _unknown(point, _POINTS, where, source)
        if value is None:
            continue
        enabled, disabled = _plugin_set(value, where, source)
        if point == "multiPoint":
            multi = merge_multi_point(multi, enabled, disabled)
        elif point in _UNSUPPORTED_POINTS:
            if enabled:
                prof.notes.append(f"{point} plugins are not run by kbench: {[r.name for r in enabled]}")
        else:
            prof.points[point] = PointConfig(enabled, disabled)
    prof.multi_point = multi

    config = spec.get("pluginConfig") or []
    if not isinstance(config, list):
        raise PolicyError("expected a list of {name, args}", source=source, where="profiles[0].pluginConfig")
    for i, item in enumerate(config):
        where = f"profiles[0].pluginConfig[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise PolicyError("expected {name: PluginName, args: {...}}", source=source, where=where)
        for k in item:
            if k not in ("name", "args"):
                raise _unknown(k, {"name", "args"}, f"{where}.{k}", source)
        name = item["name"]
        if name in prof.plugin_config:
            raise PolicyError(f"duplicate pluginConfig for {name!r}", source=source, where=f"{where}.name")
        if name in NOT_BUILT and name not in registry.plugins:
            prof.notes.append(f"pluginConfig for {name} is ignored (not built in kbench)")
            continue
        prof._check_name(PluginRef(name, 0, f"{where}.name"), registry)
        args = item.get("args") or {}
        if not isinstance(args, dict):
            raise PolicyError("expected a mapping", source=source, where=f"{where}.args")
        args = {k: v for k, v in args.items() if k not in ("apiVersion", "kind")}
        prof.plugin_config[name] = args
        prof.arg_paths[name] = f"{where}.args"
    prof.expand(registry)
    prof.instantiate(registry)
    return prof


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
