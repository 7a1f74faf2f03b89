"""Calibration files: fitted costs laid over a scenario's defaults (``--calibration FILE``).

``kbench calibrate etcd`` and ``kbench calibrate metrics`` write a YAML file whose ``scenario:``
section is a scenario fragment in the scenario's own field names, with units written out::

    kind: kbench-calibration
    version: 1
    scenario:
      etcd:
        fsync_s: {kind: lognormal, median: 124us, p99: 992us}
        write_cpu_s: 362us
        cores: 2
    fits:
      etcd.fsync_s: {method: ..., error_rel: 0.05, from: "..."}
      ...

Rules (each broken rule is a :class:`~kbench.errors.ConfigError` naming the file and field path,
so the CLI exits 2 with one line):

* the top-level keys are those of :data:`SECTIONS`; ``kind`` is ``kbench-calibration`` and
  ``version`` is 1;
* ``scenario:`` may hold the control-plane sections (:data:`CALIBRATED`) and their fields only,
  and every value must load as the scenario would load it (the loader's own checks: unknown
  fields with "did you mean", negative numbers, types);
* units are written out: a ``*_s`` or ``*_s_per_*`` field (and a time distribution's parameters)
  is a duration string such as ``350us``, a ``*_bytes`` field a quantity string such as ``1.5Mi``;
  a bare number or a string in another unit is an error (that is how a file in the wrong units is
  caught); a ``*_per_s`` field is a plain rate;
* every leaf of ``scenario:`` has an entry in ``fits:`` and every ``fits:`` key is such a leaf.

Precedence when applied (:func:`apply_calibration`): built-in defaults < the calibration <
the scenario file's explicit values < ``--param`` and command-line options. A field the scenario
sets itself shadows the calibration's (listed in the record, and warned about by the commands).
A distribution is replaced whole, never merged parameter by parameter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kbench.config.apiserver import ApiserverConfig
from kbench.config.controllers import ControllersConfig
from kbench.config.etcd import EtcdConfig
from kbench.config.kubelet import KubeletConfig, KubeProxyConfig
from kbench.config.loader import from_dict
from kbench.config.scheduler import SchedulerConfig
from kbench.dist import Dist
from kbench.errors import ConfigError, KbenchError, did_you_mean
from kbench.quantity import parse_duration, parse_quantity

KIND = "kbench-calibration"
VERSION = 1
SECTIONS = ("kind", "version", "created", "source", "scenario", "fits", "not_fitted", "observed", "testbed",
            "points", "notes")
"""Top-level keys of a calibration file (only ``kind``, ``version``, ``scenario`` and ``fits`` are
required; the others are metadata for the reader and for ``kbench validate --live-etcd``)."""
CALIBRATED: dict[str, type] = {"etcd": EtcdConfig, "apiserver": ApiserverConfig, "scheduler": SchedulerConfig,
                               "kubelet": KubeletConfig, "kubeproxy": KubeProxyConfig,
                               "controllers": ControllersConfig}
"""Scenario sections a calibration may set (the control plane's costs, never the workload), and
their schema classes."""
_DIST_TIME = ("value", "median", "p99", "mean", "low", "high")


@dataclass(frozen=True)
class CalibrationRecord:
    """The calibration a scenario was run with, as its manifest records it.

    Attributes:
        path: The file as given on the command line.
        sha256: sha256 of the file's bytes (hex).
        content: The parsed file.
        applied: Field paths the calibration set (``etcd.fsync_s``).
        shadowed: Field paths the calibration has but the scenario set itself (the scenario won).
    """

    path: str = ""
    sha256: str = ""
    content: dict[str, Any] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    shadowed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Calibration:
    """A loaded, checked calibration file.

    Attributes:
        path: The file.
        sha256: sha256 of its bytes (hex).
        content: The parsed YAML.
        overlay: ``scenario:`` with every unit string converted to plain numbers (seconds, bytes).
    """

    path: str
    sha256: str
    content: dict[str, Any]
    overlay: dict[str, Any]

    def leaves(self) -> list[str]:
        """The dotted field paths the calibration sets, sorted."""
        return sorted(leaf_paths(self.overlay))


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file (module docstring).

    Raises:
        KbenchError: The file is missing, not YAML, or breaks a rule; the message names the file
            and the field path.
    """
    p = Path(path)
    if not p.exists():
        raise KbenchError("no such file", source=str(p))
    if p.is_dir():
        raise KbenchError("is a directory, expected a calibration YAML file", source=str(p))
    raw = p.read_bytes()
    try:
        content = yaml.safe_load(raw.decode())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"not a YAML calibration file ({type(err).__name__})", source=str(p)) from None
    try:
        overlay = check_calibration(content)
    except KbenchError as err:
        raise ConfigError(err.message, source=str(p), where=err.where) from None
    return Calibration(str(path), hashlib.sha256(raw).hexdigest(), content, overlay)


def check_calibration(content: Any) -> dict[str, Any]:
    """Check a parsed calibration document; return its ``scenario:`` overlay in plain numbers.

    Raises:
        ConfigError: Naming the field path (without the file).
    """
    if not isinstance(content, dict):
        raise ConfigError(f"expected a mapping at the top, got {type(content).__name__}")
    for key in content:
        if key not in SECTIONS:
            raise ConfigError(f"unknown key '{key}'{did_you_mean(str(key), SECTIONS)}", where=str(key))
    if content.get("kind") != KIND:
        raise ConfigError(f"expected '{KIND}', got {content.get('kind')!r}", where="kind")
    if content.get("version") != VERSION:
        raise ConfigError(f"unsupported version {content.get('version')!r}: expected {VERSION}", where="version")
    scenario = content.get("scenario")
    if not isinstance(scenario, dict) or not scenario:
        raise ConfigError("expected a mapping of scenario sections (etcd, apiserver, scheduler, ...)",
                          where="scenario")
    overlay: dict[str, Any] = {}
    for section, data in scenario.items():
        where = f"scenario.{section}"
        if section not in CALIBRATED:
            raise ConfigError(f"a calibration sets control-plane costs only: expected one of "
                              f"{', '.join(CALIBRATED)}{did_you_mean(str(section), CALIBRATED)}", where=where)
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping, got {type(data).__name__}", where=where)
        overlay[section] = _normalise(CALIBRATED[section], data, where)
        from_dict(CALIBRATED[section], overlay[section], where)  # the loader's own checks
    fits = content.get("fits")
    if not isinstance(fits, dict):
        raise ConfigError("expected a mapping of field path -> {method, error_rel, from}", where="fits")
    leaves = leaf_paths(overlay)
    for key, entry in fits.items():
        if key not in leaves:
            raise ConfigError(f"'{key}' is not a field the calibration sets under scenario"
                              f"{did_you_mean(str(key), leaves)}", where=f"fits.{key}")
        if not isinstance(entry, dict) or "method" not in entry:
            raise ConfigError("expected {method, error_rel, from}", where=f"fits.{key}")
    for leaf in sorted(leaves):
        if leaf not in fits:
            raise ConfigError(f"'{leaf}' has no fits entry (how it was fitted, its error and the measurement "
                              "it came from)", where="fits")
    return overlay


def _normalise(tp: Any, data: dict, where: str) -> dict:
    """Unit strings -> plain numbers, by the field names of dataclass ``tp`` (module docstring)."""
    if not dataclasses.is_dataclass(tp):
        return data
    hints = typing.get_type_hints(tp)
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        path = f"{where}.{key}"
        ftp = hints.get(key)
        if ftp is None:  # unknown: the loader's did-you-mean reports it
            out[key] = value
            continue
        ftp = _strip_optional(ftp)
        if ftp is Dist:
            out[key] = _dist(value, key, path)
        elif dataclasses.is_dataclass(ftp) and isinstance(value, dict):
            out[key] = _normalise(ftp, value, path)
        elif ftp in (float, int) and not isinstance(value, bool):
            out[key] = _unit_value(value, key, path)
        else:
            out[key] = value
    return out


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _dist(value: Any, name: str, path: str) -> Any:
    if not isinstance(value, dict):
        return _unit_value(value, name, path)
    out = dict(value)
    for param in _DIST_TIME:
        if param in out:
            out[param] = _unit_value(out[param], name, f"{path}.{param}")
    return out


def unit_kind(name: str) -> str:
    """How a field's value is written in a calibration file: ``duration``, ``size`` or ``number``."""
    if name.endswith("_per_s"):
        return "number"
    if name.endswith("_s") or "_s_per_" in name:
        return "duration"
    if name.endswith("_bytes"):
        return "size"
    return "number"


def _unit_value(value: Any, name: str, path: str) -> Any:
    kind = unit_kind(name)
    if kind == "number":
        return value
    example = "350us" if kind == "duration" else "1.5Mi"
    what = "a duration with a unit such as" if kind == "duration" else "a size with a unit such as"
    if not isinstance(value, str):
        raise ConfigError(f"expected {what} {example} (a calibration file writes units), got {value!r}", where=path)
    text = value.strip()
    if text.startswith("-"):
        raise ConfigError(f"must be >= 0, got {text}", where=path)
    try:
        if kind == "duration":
            if _is_bare_number(text):
                raise ConfigError("bare number")
            return parse_duration(text, where=path)
        return parse_quantity(text, where=path)
    except ConfigError:
        raise ConfigError(f"expected {what} {example}, got {value!r}", where=path) from None


def _is_bare_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def leaf_paths(overlay: dict[str, Any]) -> set[str]:
    """Dotted paths of the fields an overlay sets (``etcd.fsync_s``,
    ``apiserver.flowcontrol.max_requests_inflight``): nested config sections are walked, while a
    distribution or a mapping-valued field (APF ``levels``) is one leaf."""
    out: set[str] = set()
    for section, data in overlay.items():
        out |= _leaves(CALIBRATED.get(section), data, section)
    return out


def _leaves(tp: Any, data: Any, prefix: str) -> set[str]:
    if not (dataclasses.is_dataclass(tp) and tp is not Dist and isinstance(data, dict)):
        return {prefix}
    hints = typing.get_type_hints(tp)
    out: set[str] = set()
    for key, value in data.items():
        out |= _leaves(_strip_optional(hints.get(str(key), Any)), value, f"{prefix}.{key}")
    return out


def apply_calibration(data: dict[str, Any], cal: Calibration) -> tuple[dict[str, Any], CalibrationRecord]:
    """Lay ``cal`` under a scenario's data: the scenario's explicit values win.

    Args:
        data: The scenario's plain data (after :func:`kbench.config.params.prepare`).
        cal: A loaded calibration.

    Returns:
        The merged data and the record for the manifest (applied and shadowed field paths).
    """
    merged = _deep_copy(data)
    applied: list[str] = []
    shadowed: list[str] = []
    for path in cal.leaves():
        keys = path.split(".")
        value = cal.overlay
        for k in keys:
            value = value[k]
        node = merged
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            elif not isinstance(nxt, dict):  # the scenario set a whole value here: it wins
                node = None
                break
            node = nxt
        if node is None or keys[-1] in node:
            shadowed.append(path)
            continue
        node[keys[-1]] = _deep_copy(value)
        applied.append(path)
    record = CalibrationRecord(cal.path, cal.sha256, cal.content, applied, shadowed)
    return merged, record


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def format_duration(seconds: float) -> str:
    """A duration string for a calibration file, 4 significant digits (``185.3us``, ``1.27ms``)."""
    if seconds == 0:
        return "0s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.4g}{unit}"
    return f"{seconds / 1e-9:.4g}ns"
