"""Finding plugins and named profiles (STYLE habit 8).

Three origins, all feeding one :class:`Registry`:

* **built-in**: every module of the top-level ``policies`` package (shipped in the wheel) is
  imported with :mod:`importlib`; a module exports plugin classes in ``PLUGINS = [...]`` and/or
  named profiles in ``PROFILES = {"name": profile_dict}`` (docs/POLICY_CONTRACT.md). kbench's own
  named profiles (``default``, ``least-allocated``, ...) are built-in too.
* **file**: ``path/to/my_policy.py`` or ``path/to/my_policy.py:Name``, loaded from its path with
  :func:`importlib.util.spec_from_file_location` (``sys.path`` is never edited). The module may
  export ``PLUGINS`` / ``PROFILES``, or ``Name`` may pick one plugin class or profile.
* **entry point**: third-party packages declare ``[project.entry-points."kbench.policies"]``
  ``myname = "mypkg.module"`` (a module with ``PLUGINS`` / ``PROFILES``) or
  ``"mypkg.module:MyPlugin"`` (one plugin class).

Names are versioned: a profile or plugin has a version (``"version"`` in a profile dict,
``VERSION`` on a plugin class, default 1), and ``least-allocated-v1`` resolves to
``least-allocated`` when that one's version is 1. A name registered twice is an error; an unknown
name gets a "did you mean" suggestion.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from kbench.errors import PolicyError, did_you_mean
from kbench.policy.api import EXTENSION_POINTS, describe

ENTRY_POINT_GROUP = "kbench.policies"
_VERSIONED = re.compile(r"^(?P<base>.+)-v(?P<version>\d+)$")


@dataclass(frozen=True)
class PluginInfo:
    """A registered plugin class and where it came from (``origin``: built-in, file, entry point)."""

    name: str
    cls: type
    origin: str
    source: str
    version: int = 1

    @property
    def description(self) -> str:
        """One line for ``kbench policies``."""
        return describe(self.cls)

    @property
    def points(self) -> list[str]:
        """Extension points the class implements (configuration keys, e.g. ``filter``)."""
        return [p for p, meth in EXTENSION_POINTS.items() if hasattr(self.cls, meth)]


@dataclass(frozen=True)
class ProfileInfo:
    """A registered named profile (a profile dict, see :mod:`kbench.policy.profile`)."""

    name: str
    data: dict
    origin: str
    source: str
    version: int = 1

    @property
    def description(self) -> str:
        """One line for ``kbench policies``."""
        return str(self.data.get("description", "")).strip().splitlines()[0] if self.data.get(
            "description") else ""


class Registry:
    """Plugins and named profiles by name."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginInfo] = {}
        self.profiles: dict[str, ProfileInfo] = {}

    # ----- registration ---------------------------------------------------------------------

    def register_plugin(self, cls: type, origin: str = "built-in", source: str = "") -> PluginInfo:
        """Add a plugin class under its ``NAME``.

        Raises:
            PolicyError: No ``NAME``, or another class already has that name.
        """
        name = getattr(cls, "NAME", None)
        if not isinstance(name, str) or not name:
            raise PolicyError(f"plugin class {getattr(cls, '__qualname__', cls)!r} has no NAME",
                              source=source or None)
        old = self.plugins.get(name)
        if old is not None:
            if old.cls is cls:
                return old
            raise PolicyError(f"duplicate plugin name {name!r}: defined in {old.source} ({old.origin}) "
                              f"and in {source} ({origin})")
        info = PluginInfo(name, cls, origin, source, int(getattr(cls, "VERSION", 1)))
        self.plugins[name] = info
        return info

    def register_profile(self, name: str, data: dict, origin: str = "built-in", source: str = "") -> ProfileInfo:
        """Add a named profile dict.

        Raises:
            PolicyError: The name is taken, or ``data`` is not a mapping.
        """
        if not isinstance(data, dict):
            raise PolicyError(f"profile {name!r} must be a mapping, got {type(data).__name__}",
                              source=source or None)
        old = self.profiles.get(name)
        if old is not None:
            if old.data is data:
                return old
            raise PolicyError(f"duplicate profile name {name!r}: defined in {old.source} ({old.origin}) "
                              f"and in {source} ({origin})")
        info = ProfileInfo(name, data, origin, source, int(data.get("version", 1)))
        self.profiles[name] = info
        return info

    def register_module(self, module: ModuleType, origin: str, source: str) -> None:
        """Register a module's ``PLUGINS`` and ``PROFILES``."""
        plugins = getattr(module, "PLUGINS", ())
        if not isinstance(plugins, list | tuple):
            raise PolicyError("PLUGINS must be a list of plugin classes", source=source)
        for cls in plugins:
            self.register_plugin(cls, origin, source)
        profiles = getattr(module, "PROFILES", {})
        if not isinstance(profiles, dict):
            raise PolicyError("PROFILES must be a dict of name -> profile", source=source)
        for name, data in profiles.items():
            self.register_profile(str(name), data, origin, source)

    def copy(self) -> Registry:
        """A registry with the same entries (adding to it leaves this one unchanged)."""
        new = Registry()
        new.plugins, new.profiles = dict(self.plugins), dict(self.profiles)
        return new

    # ----- lookup ---------------------------------------------------------------------------

    def _lookup(self, table: dict, name: str, kind: str, where: str | None) -> Any:
        if name in table:
            return table[name]
        match = _VERSIONED.match(name)
        if match and match.group("base") in table:
            info = table[match.group("base")]
            if info.version == int(match.group("version")):
                return info
            raise PolicyError(f"{kind} {match.group('base')!r} has version {info.version}, "
                              f"not {match.group('version')}", where=where)
        raise PolicyError(f"unknown {kind} {name!r}{did_you_mean(name, table)}", where=where)

    def plugin(self, name: str, where: str | None = None) -> PluginInfo:
        """The plugin registered as ``name`` (or ``name-vN``).

        Raises:
            PolicyError: Unknown name, with a "did you mean" suggestion and ``where``.
        """
        return self._lookup(self.plugins, name, "plugin", where)

    def profile(self, name: str, where: str | None = None) -> ProfileInfo:
        """The named profile ``name`` (or ``name-vN``).

        Raises:
            PolicyError: Unknown name, with a "did you mean" suggestion.
        """
        return self._lookup(self.profiles, name, "policy", where)

    def has_profile(self, name: str) -> bool:
        """Whether ``name`` (or ``name-vN``) names a registered profile."""
        try:
            self.profile(name)
        except PolicyError:
            return False
        return True

    # ----- discovery ------------------------------------------------------------------------

    def load_builtin_package(self, package: str = "policies") -> None:
        """Import every module of ``package`` (sorted by name) and register its exports."""
        try:
            pkg = importlib.import_module(package)
        except ImportError as err:
            raise PolicyError(f"cannot import the built-in policies package {package!r}: {err}") from None
        for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            modname = f"{package}.{mod.name}"
            try:
                module = importlib.import_module(modname)
            except Exception as err:  # noqa: BLE001 - reported as a user-facing error
                raise PolicyError(f"built-in policy module {modname} failed to import: "
                                  f"{type(err).__name__}: {err}") from err
            self.register_module(module, "built-in", modname)

    def load_entry_points(self, entry_points=None) -> None:
        """Register everything from the ``kbench.policies`` entry-point group.

        Args:
            entry_points: EntryPoint-like objects (with ``name``, ``value``, ``load()``); defaults
                to the installed ones.
        """
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            source = f"{ep.name} = {ep.value}"
            try:
                obj = ep.load()
            except Exception as err:  # noqa: BLE001
                raise PolicyError(f"entry point failed to load: {type(err).__name__}: {err}",
                                  source=source) from err
            if isinstance(obj, ModuleType):
                self.register_module(obj, "entry point", source)
            elif isinstance(obj, type):
                self.register_plugin(obj, "entry point", source)
            elif isinstance(obj, dict):
                for name, data in obj.items():
                    self.register_profile(str(name), data, "entry point", source)
            else:
                raise PolicyError("an entry point must name a module, a plugin class or a dict of "
                                  f"profiles, got {type(obj).__name__}", source=source)

    def load_file(self, spec: str) -> tuple[ModuleType, str | None]:
        """Load a policy file ``path.py`` or ``path.py:Name`` and register its exports.

        A plugin class picked by ``:Name`` is registered even if ``PLUGINS`` omits it.

        Returns:
            The module and the ``Name`` part (or None).

        Raises:
            PolicyError: Missing file, an exception while importing, or an unknown ``Name``.
        """
        path_text, attr = split_file_spec(spec)
        path = Path(path_text)
        if not path.is_file():
            raise PolicyError("no such policy file", source=str(path))
        module = load_module_from_path(path)
        self.register_module(module, "file", str(path))
        if attr:
            obj = getattr(module, attr, None)
            if obj is None and attr not in getattr(module, "PROFILES", {}):
                names = [n for n in vars(module) if not n.startswith("_")]
                raise PolicyError(f"no plugin or profile {attr!r} in the file{did_you_mean(attr, names)}",
                                  source=str(path))
            if isinstance(obj, type):
                self.register_plugin(obj, "file", str(path))
        return module, attr or None


def split_file_spec(spec: str) -> tuple[str, str]:
    """Split ``path.py:Name`` into ``("path.py", "Name")`` (``Name`` is "" when absent)."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isidentifier() and head:
        return head, tail
    return spec, ""


def load_module_from_path(path: Path) -> ModuleType:
    """Import a Python file by path under a private module name (no ``sys.path`` change).

    Raises:
        PolicyError: Naming the file when its code raises.
    """
    resolved = path.resolve()
    digest = hashlib.blake2b(str(resolved).encode(), digest_size=6).hexdigest()
    modname = f"kbench_user_policy_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, resolved)
    if spec is None or spec.loader is None:
        raise PolicyError("cannot load as a Python module", source=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001
        del sys.modules[modname]
        raise PolicyError(f"policy file raised {type(err).__name__} while loading: {err}",
                          source=str(path)) from err
    return module


BUILTIN_PROFILES: dict[str, dict] = {
    "default": {"base": "default", "description": "kube-scheduler's default profile (E2, E3)"},
}
"""kbench's own named profiles. ``least-allocated``, ``most-allocated``, ``balanced`` and
``requested-to-capacity-ratio`` come from ``policies/noderesources.py``, the research policies from
their ``policies`` modules."""


_DEFAULT: Registry | None = None


def default_registry(refresh: bool = False) -> Registry:
    """The registry of kbench's named profiles, the ``policies`` package and entry points (cached).

    Args:
        refresh: Rebuild it (e.g. after installing a package).
    """
    global _DEFAULT
    if _DEFAULT is None or refresh:
        reg = Registry()
        for name, data in BUILTIN_PROFILES.items():
            reg.register_profile(name, data, "built-in", "kbench.policy.registry")
        reg.load_builtin_package("policies")
        reg.load_entry_points()
        _DEFAULT = reg
    return _DEFAULT
