"""Profiles: which plugins run at each extension point, with weights and args.

A profile is what kube-scheduler calls a scheduling profile: plugins enabled per extension point
(with ``multiPoint`` expansion), score weights, ``pluginConfig`` args, ``percentageOfNodesToScore``,
plus kbench's ``tieBreak`` (``"random"``: a seeded random choice among the best nodes, E1;
``"first"``: the first of them in a fixed seeded node order, FGD.md §2.1).

Sources of a profile:

* a **profile dict** (named profiles in ``PROFILES`` of a ``policies`` module, and kbench's own
  :data:`BUILTIN_PROFILES`)::

      {"base": "default",                       # optional: start from kube-scheduler's defaults
       "plugins": {"filter": ["NodeResourcesFit", "GpuShare"],       # a list = enabled plugins
                   "score": {"disabled": ["*"], "enabled": [["Fgd", 1000]]},
                   "multiPoint": [...]},        # enabled at every point the plugin implements
       "pluginConfig": {"NodeResourcesFit": {...args...}},
       "percentageOfNodesToScore": 100, "tieBreak": "first", "description": "one line"}

  Entries are ``"Name"``, ``["Name", weight]`` or ``{"name": ..., "weight": ...}``. Without
  ``base`` only the listed plugins run, and when ``reserve`` is not listed every listed plugin
  that implements Reserve is enabled there too;
* a **KubeSchedulerConfiguration** file (:mod:`kbench.policy.ksc`).

Rules shared by both (kbench's reading of upstream ``expandMultiPointPlugins``): at each point,
``disabled: ["*"]`` drops every multiPoint plugin there; otherwise multiPoint plugins that
implement the point are enabled unless disabled there or re-enabled there explicitly (which sets
their weight). A plugin's PreFilter runs when its Filter runs, and its PreScore when its Score
runs. A zero or missing score weight is 1.

The ``default`` profile is kube-scheduler's, in upstream's order (M3, E2, E3): SchedulingGates
(PreEnqueue), PrioritySort; filters NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity; DefaultPreemption; scores
TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1
(LeastAllocated, cpu and memory weight 1), NodeResourcesBalancedAllocation 1, ImageLocality 1;
DefaultBinder. The volume plugins (VolumeRestrictions, NodeVolumeLimits, VolumeBinding, VolumeZone)
are not built: kbench pods have no volumes, for which upstream's plugins return Skip at PreFilter,
so every verdict and score is the same; the cycle cost still charges their calls
(:attr:`Profile.phantoms`). Naming them, or another plugin kbench does not build (DynamicResources,
NodeDeclaredFeatures, the legacy *Limits plugins), in a configuration is accepted and noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.errors import PolicyError, did_you_mean
from kbench.policy.api import EXTENSION_POINTS, Handle
from kbench.policy.registry import Registry

NOT_BUILT = frozenset({
    "VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone", "EBSLimits", "GCEPDLimits",
    "AzureDiskLimits", "CinderLimits", "DynamicResources", "NodeDeclaredFeatures",
})
"""Upstream plugin names kbench accepts in configurations but does not build (see module doc)."""

VOLUME_PHANTOMS: dict[str, int] = {"VolumeRestrictions": 1, "NodeVolumeLimits": 1, "VolumeBinding": 3,
                                   "VolumeZone": 1}
"""Default volume plugins not built, and the extension-point calls each makes for a pod without
volumes (PreFilter returning Skip; VolumeBinding also PreScore and Reserve): charged by the cycle
cost (M3, M4; the call counts are kbench's reading of the plugins' extension points)."""


@dataclass(frozen=True)
class PluginRef:
    """A plugin named in a configuration: ``weight`` 0 means unset; ``path`` locates it for errors."""

    name: str
    weight: int = 0
    path: str = ""


DEFAULT_MULTI_POINT: tuple[PluginRef, ...] = (
    PluginRef("SchedulingGates"), PluginRef("PrioritySort"), PluginRef("NodeUnschedulable"), PluginRef("NodeName"),
    PluginRef("TaintToleration", 3), PluginRef("NodeAffinity", 2), PluginRef("NodePorts"),
    PluginRef("NodeResourcesFit", 1), PluginRef("PodTopologySpread", 2), PluginRef("InterPodAffinity", 2),
    PluginRef("DefaultPreemption"), PluginRef("NodeResourcesBalancedAllocation", 1), PluginRef("ImageLocality", 1),
    PluginRef("DefaultBinder"),
)
"""kube-scheduler's default multiPoint plugins that kbench builds, in upstream order (M3, E2); the
volume plugins sit between NodeResourcesFit and PodTopologySpread upstream (:data:`VOLUME_PHANTOMS`)."""


@dataclass
class PointConfig:
    """One extension point's ``enabled`` and ``disabled`` lists."""

    enabled: list[PluginRef] = field(default_factory=list)
    disabled: list[PluginRef] = field(default_factory=list)

    @property
    def disabled_names(self) -> set[str]:
        """Names in ``disabled`` ("*" = every multiPoint plugin)."""
        return {r.name for r in self.disabled}


@dataclass
class Profile:
    """A scheduling profile (see module docstring).

    Attributes:
        name: Policy name (the named profile, or the file).
        multi_point: multiPoint plugins after merging with the defaults (when based on them).
        points: Per extension point (configuration key) enabled/disabled lists.
        plugin_config: Plugin name → args.
        arg_paths: Plugin name → field path of its args (for error messages).
        percentage_of_nodes_to_score: 0..100; None or 0 = adaptive (D3).
        tie_break: ``"random"`` or ``"first"``.
        description, origin, source: For ``kbench policies`` and errors.
        notes: Things accepted but ignored (not-built plugins, extra profiles).
        settings: Other scheduler settings read from a configuration (e.g. podMaxBackoffSeconds).
        phantoms: Upstream default plugins enabled in this profile that kbench does not build
            because they would Skip every kbench pod (the volume plugins): charged by the cycle cost.
        scheduler_name: The ``schedulerName`` pods name to be scheduled by this profile.
    """

    name: str
    multi_point: list[PluginRef] = field(default_factory=list)
    points: dict[str, PointConfig] = field(default_factory=dict)
    plugin_config: dict[str, dict] = field(default_factory=dict)
    arg_paths: dict[str, str] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None
    tie_break: str = "random"
    description: str = ""
    origin: str = "built-in"
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    auto_reserve: bool = False
    phantoms: list[str] = field(default_factory=list)
    scheduler_name: str = "default-scheduler"
    path_prefix: str = ""
    """Field path of the profile inside its file (``profiles[0].``), for errors."""

    def _err(self, message: str, where: str | None) -> PolicyError:
        return PolicyError(message, source=self.source, where=where)

    def _check_name(self, ref: PluginRef, registry: Registry) -> bool:
        """True if ``ref`` names a built plugin; False (noted) for not-built upstream ones."""
        if ref.name in registry.plugins:
            return True
        if ref.name in NOT_BUILT:
            note = f"{ref.name} is not built in kbench and is ignored"
            if note not in self.notes:
                self.notes.append(note)
            return False
        try:
            registry.plugin(ref.name)
            return True
        except PolicyError:
            known = [*registry.plugins, *NOT_BUILT]
            raise self._err(f"unknown plugin {ref.name!r}{did_you_mean(ref.name, known)}",
                            ref.path or None) from None

    def expand(self, registry: Registry) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Enabled plugin names per extension point, and score weights.

        Raises:
            PolicyError: Unknown plugin (naming its field path), a plugin enabled at a point it
                does not implement, or more than one QueueSort plugin.
        """
        mp = [r for r in self.multi_point if self._check_name(r, registry)]
        mp_names = {r.name for r in mp}
        plugins: dict[str, list[str]] = {}
        weights: dict[str, int] = {}
        for point, method in EXTENSION_POINTS.items():
            pc = self.points.get(point, PointConfig())
            disabled = pc.disabled_names
            for ref in pc.disabled:
                if ref.name != "*":
                    self._check_name(ref, registry)
            specific: list[PluginRef] = []
            for ref in pc.enabled:
                if not self._check_name(ref, registry):
                    continue
                if not hasattr(registry.plugin(ref.name).cls, method):
                    raise self._err(f"plugin {ref.name!r} does not implement {point} (no {method} method)",
                                    ref.path or None)
                if ref.name not in {s.name for s in specific}:
                    specific.append(ref)
            if "*" in disabled:
                chosen = specific
            else:
                names = {s.name for s in specific}
                from_mp = [r for r in mp if r.name not in disabled and r.name not in names
                           and hasattr(registry.plugin(r.name).cls, method)]
                chosen = ([s for s in specific if s.name in mp_names] + from_mp
                          + [s for s in specific if s.name not in mp_names])
            plugins[point] = [r.name for r in chosen]
            if point == "score":
                weights = {r.name: int(r.weight) or 1 for r in chosen}
        if self.auto_reserve and "reserve" not in self.points:
            listed = [r.name for pc in self.points.values() for r in pc.enabled] + [r.name for r in mp]
            for name in dict.fromkeys(listed):
                if name in registry.plugins and hasattr(registry.plugins[name].cls, "reserve") \
                        and name not in plugins["reserve"]:
                    plugins["reserve"].append(name)
        if len(plugins["queueSort"]) > 1:
            raise self._err(f"only one queueSort plugin may be enabled, got {plugins['queueSort']}",
                            f"{self.path_prefix}plugins.queueSort")
        return plugins, weights

    def instantiate(self, registry: Registry, handle: Handle | None = None,
                    names: list[str] | None = None) -> dict[str, object]:
        """Create the plugin instances (one per name), validating their args.

        Args:
            registry: Where plugin classes are found.
            handle: Shared handle given to every plugin.
            names: Plugins to build; defaults to every enabled plugin plus every registered plugin
                named in ``plugin_config`` (so their args are validated too).

        Raises:
            PolicyError: A plugin rejected its args; ``where`` is the full field path.
        """
        handle = handle if handle is not None else Handle(profile=self.name)
        if names is None:
            plugins, _ = self.expand(registry)
            names = list(dict.fromkeys(n for lst in plugins.values() for n in lst))
            names += [n for n in self.plugin_config if n in registry.plugins and n not in names]
        out: dict[str, object] = {}
        for name in names:
            cls = registry.plugin(name).cls
            base = self.arg_paths.get(name, f"pluginConfig.{name}.args")
            try:
                out[name] = cls(self.plugin_config.get(name), handle)
            except PolicyError as err:
                where = err.where or "args"
                where = base + where[4:] if where.startswith("args") else f"{base}.{where}"
                raise PolicyError(err.message, source=self.source, where=where) from None
            except Exception as err:  # noqa: BLE001
                raise PolicyError(f"plugin {name!r} failed to start: {type(err).__name__}: {err}",
                                  source=self.source, where=base) from err
        return out


def _refs(value, path: str, source: str | None) -> list[PluginRef]:
    if not isinstance(value, list | tuple):
        raise PolicyError(f"expected a list of plugins, got {type(value).__name__}", source=source, where=path)
    refs = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            refs.append(PluginRef(item, 0, where))
        elif isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
            refs.append(PluginRef(item[0], _weight(item[1], f"{where}[1]", source), where))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            refs.append(PluginRef(item["name"], _weight(item.get("weight", 0), f"{where}.weight", source),
                                  f"{where}.name"))
        else:
            raise PolicyError(f"expected a plugin name, [name, weight] or {{name, weight}}, got {item!r}",
                              source=source, where=where)
    return refs


def _weight(value, where: str, source: str | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"weight must be a whole number >= 0, got {value!r}", source=source, where=where)
    return int(value)


def merge_multi_point(default: tuple[PluginRef, ...] | list[PluginRef], enabled: list[PluginRef],
                      disabled: list[PluginRef]) -> list[PluginRef]:
    """Upstream ``mergePluginSet``: defaults minus disabled ("*" = all), re-enabled ones replaced
    in place, other enabled appended."""
    custom = {r.name: r for r in enabled}
    disabled = {r.name for r in disabled}
    out = []
    for ref in default:
        if "*" in disabled or ref.name in disabled:
            continue
        out.append(custom.pop(ref.name, ref))
    return out + [r for r in enabled if r.name in custom]


def remaining_phantoms(phantoms: list[str], disabled: list[PluginRef]) -> list[str]:
    """The phantom (not built) default plugins left after a multiPoint ``disabled`` list."""
    names = {r.name for r in disabled}
    return [] if "*" in names else [p for p in phantoms if p not in names]


def profile_from_dict(name: str, data: dict, origin: str = "built-in", source: str | None = None) -> Profile:
    """Build a :class:`Profile` from a profile dict (module docstring).

    Raises:
        PolicyError: Naming the field path inside the dict.
    """
    known = {"base", "plugins", "pluginConfig", "percentageOfNodesToScore", "tieBreak", "description",
             "version"}
    for key in data:
        if key not in known:
            raise PolicyError(f"unknown profile field {key!r}{did_you_mean(key, known)}", source=source,
                              where=f"{name}.{key}")
    base = data.get("base")
    if base not in (None, "default"):
        raise PolicyError(f"base must be 'default', got {base!r}", source=source, where=f"{name}.base")
    prof = Profile(name, description=str(data.get("description", "")), origin=origin, source=source,
                   auto_reserve=base is None, path_prefix=f"{name}.")
    multi = list(DEFAULT_MULTI_POINT) if base == "default" else []
    phantoms = list(VOLUME_PHANTOMS) if base == "default" else []
    for point, value in (data.get("plugins") or {}).items():
        where = f"{name}.plugins.{point}"
        if point != "multiPoint" and point not in EXTENSION_POINTS:
            raise PolicyError(f"unknown extension point {point!r}{did_you_mean(point, EXTENSION_POINTS)}",
                              source=source, where=where)
        if isinstance(value, dict):
            enabled = _refs(value.get("enabled") or [], f"{where}.enabled", source)
            disabled = _refs(value.get("disabled") or [], f"{where}.disabled", source)
        else:
            enabled, disabled = _refs(value, where, source), []
        if point == "multiPoint":
            multi = merge_multi_point(multi, enabled, disabled)
            phantoms = remaining_phantoms(phantoms, disabled)
        else:
            prof.points[point] = PointConfig(enabled, disabled)
    prof.multi_point = multi
    prof.phantoms = phantoms
    config = data.get("pluginConfig") or {}
    if not isinstance(config, dict):
        raise PolicyError("pluginConfig must map plugin names to args", source=source,
                          where=f"{name}.pluginConfig")
    for plugin, args in config.items():
        prof.plugin_config[plugin] = args
        prof.arg_paths[plugin] = f"{name}.pluginConfig.{plugin}"
    prof.percentage_of_nodes_to_score = check_percentage(data.get("percentageOfNodesToScore"),
                                                         f"{name}.percentageOfNodesToScore", source)
    prof.tie_break = data.get("tieBreak", "random")
    if prof.tie_break not in ("random", "first"):
        raise PolicyError(f"tieBreak must be 'random' or 'first', got {prof.tie_break!r}", source=source,
                          where=f"{name}.tieBreak")
    return prof


def check_percentage(value, where: str, source: str | None) -> int | None:
    """Validate a percentageOfNodesToScore (None, or a whole number 0..100)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise PolicyError(f"must be a whole number from 0 to 100, got {value!r}", source=source, where=where)
    return int(value)
