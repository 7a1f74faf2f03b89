"""From a CLI policy argument to a profile: a named profile, a KubeSchedulerConfiguration file, or
a Python file of plugins or profiles (``--policy``)."""

from __future__ import annotations

from kbench.errors import PolicyError
from kbench.policy.api import EXTENSION_POINTS
from kbench.policy.ksc import SchedulerConfiguration, load_ksc, load_scheduler_config
from kbench.policy.profile import PluginRef, PointConfig, Profile, profile_from_dict
from kbench.policy.registry import BUILTIN_PROFILES, Registry, default_registry, split_file_spec


def resolve_policy(spec: str, registry: Registry | None = None) -> tuple[Profile, Registry]:
    """Turn a CLI policy argument into a profile.

    Args:
        spec: A named profile (``default``, ``least-allocated-v1``, ``fgd``, ...), a
            KubeSchedulerConfiguration file (``.yaml`` / ``.yml``), or a Python file ``path.py`` /
            ``path.py:Name``. A file's ``Name`` may be a profile in its ``PROFILES`` or a plugin
            class; a lone plugin class (``Name``, or the only one in ``PLUGINS`` when the file has no
            ``PROFILES``) runs on top of ``default``: it becomes the only Score plugin if it scores,
            the QueueSort plugin if it sorts, and is appended at its other points.
        registry: Defaults to :func:`~kbench.policy.registry.default_registry`; files are loaded
            into a copy.

    Returns:
        The profile and the registry that resolves its plugin names.

    Raises:
        PolicyError: Unknown name ("did you mean"), or a bad file.
    """
    base = registry if registry is not None else default_registry()
    path_text, attr = split_file_spec(spec)
    lower = path_text.lower()
    if lower.endswith((".yaml", ".yml")):
        reg = base.copy()
        return load_ksc(path_text, reg), reg
    if lower.endswith(".py"):
        reg = base.copy()
        module, attr = reg.load_file(spec)
        profiles = getattr(module, "PROFILES", {}) or {}
        plugins = list(getattr(module, "PLUGINS", ()) or ())
        if attr and attr in profiles:
            return profile_from_dict(attr, profiles[attr], "file", path_text), reg
        if attr:
            return _plugin_profile(reg.plugin(getattr(module, attr).NAME).name, reg, path_text), reg
        if len(profiles) == 1:
            (name, data), = profiles.items()
            return profile_from_dict(name, data, "file", path_text), reg
        if profiles:
            raise PolicyError(f"the file defines several profiles {sorted(profiles)}; pick one with "
                              f"{path_text}:NAME", source=path_text)
        if len(plugins) == 1:
            return _plugin_profile(plugins[0].NAME, reg, path_text), reg
        raise PolicyError("expected PROFILES, or exactly one plugin class in PLUGINS, or path.py:Name",
                          source=path_text)
    info = base.profile(spec)
    return profile_from_dict(spec, info.data, info.origin, None), base


def _plugin_profile(name: str, registry: Registry, source: str) -> Profile:
    """``default`` with one plugin added (see :func:`resolve_policy`)."""
    cls = registry.plugin(name).cls
    prof = profile_from_dict(name, BUILTIN_PROFILES["default"], "file", source)
    prof.description = ""
    for point, method in EXTENSION_POINTS.items():
        if hasattr(cls, method):
            star = [PluginRef("*")] if point in ("score", "queueSort") else []
            prof.points[point] = PointConfig([PluginRef(name, 1, source)], star)
    return prof


def resolve_scheduler_config(spec: str, registry: Registry | None = None) -> tuple[SchedulerConfiguration, Registry]:
    """Every profile a CLI policy argument names: all of a KubeSchedulerConfiguration's, else the one
    profile of :func:`resolve_policy` (its ``notes`` become the ``ignored`` list). The file's content
    and SHA-256 are kept for the run's manifest (a Python policy file's text too).

    Raises:
        PolicyError: As :func:`resolve_policy`.
    """
    import hashlib
    from pathlib import Path

    base = registry if registry is not None else default_registry()
    path_text, _ = split_file_spec(spec)
    if path_text.lower().endswith((".yaml", ".yml")):
        reg = base.copy()
        return load_scheduler_config(path_text, reg), reg
    profile, reg = resolve_policy(spec, registry)
    content = Path(path_text).read_text() if path_text.lower().endswith(".py") else ""
    digest = hashlib.sha256(content.encode()).hexdigest() if content else ""
    return SchedulerConfiguration([profile], list(profile.notes), path_text if content else "", content, digest), reg
