"""Generic loading of frozen config dataclasses from YAML-shaped data.

Field conventions (STYLE habit 4): a field's unit is in its name. ``*_s`` fields accept durations
(``250ms``, ``5m``), ``*_bytes`` and ``*_cores`` fields accept quantities (``1.5Gi``, ``100m``);
:class:`~kbench.dist.Dist` fields accept a scalar (a constant) or a mapping with ``kind``.
Numbers must be >= 0 unless the field's metadata says ``{"signed": True}``. Unknown keys are
errors with a "did you mean" suggestion. Every error names the field path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from kbench.dist import Dist
from kbench.errors import ConfigError, KbenchError, did_you_mean
from kbench.quantity import parse_duration, parse_quantity

_DIST_PARAMS = {"value", "median", "p99", "mean", "low", "high"}


def _is_time_field(name: str, path: str) -> bool:
    if name.endswith("_s"):
        return True
    if name in _DIST_PARAMS:
        parent = path.rsplit(".", 2)[-2] if path.count(".") >= 1 else ""
        return parent.split("[")[0].endswith("_s")
    return False


def _number(value: Any, name: str, path: str) -> float:
    if isinstance(value, str):
        if _is_time_field(name, path):
            return parse_duration(value, where=path)
        return parse_quantity(value, where=path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"expected a number, got {value!r}", where=path)
    return float(value)


def _convert(tp: Any, value: Any, name: str, path: str, signed: bool) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, name, path, signed)
    if dataclasses.is_dataclass(tp):
        if tp is Dist and not isinstance(value, dict):
            return Dist.const(_check_sign(_number(value, name, path), path, signed))
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping, got {type(value).__name__}", where=path)
        return from_dict(tp, value, path)
    if origin in (dict,):
        ktp, vtp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping, got {type(value).__name__}", where=path)
        return {str(k): _convert(vtp, v, name, f"{path}.{k}", signed) for k, v in value.items()}
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"expected a list, got {type(value).__name__}", where=path)
        items = [_convert(args[0], v, name, f"{path}[{i}]", signed) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", where=path)
        return value
    if tp is int:
        num = _number(value, name, path)
        if num != int(num):
            raise ConfigError(f"expected a whole number, got {value!r}", where=path)
        return int(_check_sign(num, path, signed))
    if tp is float:
        return _check_sign(_number(value, name, path), path, signed)
    if tp is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"expected text, got {value!r}", where=path)
        return str(value)
    return value


def _check_sign(num: float, path: str, signed: bool) -> float:
    if not signed and num < 0:
        raise ConfigError(f"must be >= 0, got {num:g}", where=path)
    if num != num:
        raise ConfigError("must be a number, got NaN", where=path)
    return num


def from_dict(cls: type, data: dict, path: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from ``data``, validating every field.

    Args:
        cls: A dataclass type.
        data: Plain data from YAML (keys may use ``-`` or ``_``).
        path: The field path of ``data`` in the whole document, for error messages.

    Raises:
        ConfigError: Naming the field path and what was expected.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    derived = {f.name for f in dataclasses.fields(cls) if not f.init}
    kwargs = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        where = f"{path}.{key}" if path else key
        if key in derived:  # printed in the effective config, computed again on loading
            continue
        if key not in fields:
            raise ConfigError(f"unknown field '{raw_key}'{did_you_mean(key, fields)}", where=where)
        signed = bool(fields[key].metadata.get("signed"))
        kwargs[key] = _convert(hints[key], value, key, where, signed)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if err.where is None:
            raise ConfigError(err.message, where=path or None) from None
        raise
    except TypeError as err:
        raise ConfigError(str(err), where=path or None) from None


def to_dict(obj: Any) -> Any:
    """Plain JSON-ready data for a config object (the effective config)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of the effective config (hex, first 16 digits).

    The hash does not depend on where the files are: the scenario folder (``scenario_dir``) is left
    out and an absolute path to an existing file counts as its name and size in bytes. A scenario's
    ``calibration`` record is left out too: the values it set are in the config.
    """
    data = to_dict(obj)
    if isinstance(data, dict):
        data.pop("calibration", None)  # the provenance of a scenario's values, not a value
    text = json.dumps(_portable(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def calibration_manifest(scenario: Any) -> dict[str, Any]:
    """``{"calibration": {path, sha256, content, applied, shadowed}}`` for a run's manifest when the
    scenario was run with a calibration file, else ``{}``."""
    record = getattr(scenario, "calibration", None)
    return {"calibration": to_dict(record)} if record is not None else {}


def _portable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _portable(v) for k, v in data.items() if k != "scenario_dir"}
    if isinstance(data, list):
        return [_portable(v) for v in data]
    if isinstance(data, str) and data.startswith("/") and len(data) < 4096:
        try:
            p = Path(data)
            if p.is_file():
                return f"{p.name}:{p.stat().st_size}"
        except OSError:
            pass
    return data


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping safely, with errors naming the file."""
    p = Path(path)
    if not p.exists():
        raise KbenchError("no such file", source=str(p))
    if p.is_dir():
        raise KbenchError("is a directory, expected a YAML file", source=str(p))
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", source=str(p), where=where) from None
    except UnicodeDecodeError:
        raise ConfigError("not a text file", source=str(p)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a YAML mapping at the top, got {type(data).__name__}", source=str(p))
    return data
