"""Scenario parameters and paths: ``$name`` substitution, ``--param`` overrides, the short forms.

**Parameters.** A value that is exactly ``$name`` becomes the parameter's value (any type);
``${name}`` inside a string is replaced by its text; ``$$`` is a literal ``$``; a value that is
exactly ``${= expression}`` becomes the number the expression computes from numeric parameters
(``+ - * / // %``, parentheses, ``min``, ``max``, ``round``, ``int``; evaluated by a small AST walker,
never ``eval``), as ClusterLoader2's templates compute sizes with ``DivideInt``/``MultiplyInt``.
They apply to ops and to the string fields of ``workload.traces``. An unknown parameter is an error
naming the field.

:func:`prepare` moves the short forms at the top of a scenario (``workload_spec:``, ``ops:``,
``params:``, ``labels:``) into ``workload``, records the scenario's folder as the parameter
``scenario_dir`` and applies CLI parameter overrides (``kbench run --param pods=x.csv``);
:func:`resolve_path` finds a file named in a scenario.
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path
from typing import Any

import yaml

from kbench.errors import ConfigError, KbenchError, did_you_mean

TOP_LEVEL = {"workload_spec": "spec", "ops": "ops", "params": "params", "labels": "labels"}
_PARAM = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_EXPR = re.compile(r"^\$\{=(.+)\}$", re.S)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_FUNCS = {"min": min, "max": max, "round": round, "int": int}


def resolve_path(path: str, scenario_dir: str | None = None, *, where: str | None = None) -> str:
    """Find a file named in a scenario.

    A relative path is looked up next to the scenario file, then in that folder's parent (the
    project root for files in ``workloads/``), then in the current directory; so ``traces/x.csv.gz``
    in ``workloads/openb.yaml`` is the bundled ``workloads/traces/x.csv.gz``. A name that exists only
    gzip-compressed (``x.csv`` where ``x.csv.gz`` is) names the compressed file, which the trace
    loaders read as it is.

    Raises:
        ConfigError: No such file in any of those places (they are listed).
    """
    p = Path(path).expanduser()
    if p.is_absolute():
        for cand in (p, p.with_name(p.name + ".gz")):
            if cand.exists():
                return str(cand)
        raise ConfigError(f"no such file {path}", where=where)
    bases = [Path(scenario_dir), Path(scenario_dir).parent] if scenario_dir else []
    bases.append(Path.cwd())
    for name in (p, p.with_name(p.name + ".gz")):
        for base in bases:
            if (base / name).exists():
                return str((base / name).resolve())
    tried = ", ".join(dict.fromkeys(str(b) for b in bases))
    raise ConfigError(f"no such file {path} (looked in {tried})", where=where)


def substitute(value: Any, params: dict[str, Any], where: str) -> Any:
    """Replace ``$name`` / ``${name}`` in ``value`` (recursively) with parameter values."""
    if isinstance(value, dict):
        return {k: substitute(v, params, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    m = _WHOLE.match(value)
    if m:
        return _param(m.group(1), params, where)
    m = _EXPR.match(value.strip())
    if m:
        return evaluate(m.group(1), params, where)

    def one(m: re.Match) -> str:
        return "$" if m.group(0) == "$$" else str(_param(m.group(1), params, where))

    return _PARAM.sub(one, value)


def evaluate(text: str, params: dict[str, Any], where: str) -> int | float:
    """The number an ``${= expression}`` computes (see the module docstring).

    Raises:
        ConfigError: A syntax error, an unknown or non-numeric parameter, a forbidden construct or a
            division by zero.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ConfigError(f"invalid expression {text.strip()!r}", where=where) from None

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            v = _param(node.id, params, where)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(f"parameter ${node.id} is not a number: {v!r}", where=where)
            return v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
                and not node.keywords):
            return _FUNCS[node.func.id](*(walk(a) for a in node.args))
        raise ConfigError(f"not allowed in an expression: {ast.dump(node)[:60]}", where=where)

    try:
        return walk(tree)
    except ZeroDivisionError:
        raise ConfigError(f"division by zero in {text.strip()!r}", where=where) from None


def _param(name: str, params: dict[str, Any], where: str) -> Any:
    if name not in params:
        raise ConfigError(f"unknown parameter ${name}{did_you_mean(name, params)}", where=where)
    return params[name]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["pods=x.csv", "nodes=100"]`` → ``{"pods": "x.csv", "nodes": 100}`` (values read as YAML
    scalars). For a CLI ``--param KEY=VALUE`` option.

    Raises:
        ConfigError: An item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", where="--param")
        try:
            out[key.strip()] = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            out[key.strip()] = text
    return out


def declared_params(wl: dict, params: dict[str, Any], scenario_dir: str | None) -> list[str]:
    """The parameters a scenario declares: ``workload.params`` and its spec file's ``params``.

    Args:
        wl: The scenario's ``workload`` mapping (short forms already moved in).
        params: Its ``workload.params``.
        scenario_dir: Where relative spec paths are looked up.
    """
    names = [str(k) for k in params if k != "scenario_dir"]
    names += _referenced([wl.get("ops"), wl.get("traces"), wl.get("spec")])
    spec = wl.get("spec")
    if isinstance(spec, str) and spec:
        try:
            doc = yaml.safe_load(Path(resolve_path(substitute(spec, {**params, "scenario_dir": scenario_dir},
                                                              "workload.spec"), scenario_dir)).read_text())
        except (KbenchError, OSError, yaml.YAMLError):
            doc = None  # the spec is checked, with its own message, when the workload is compiled
        if isinstance(doc, dict):
            if isinstance(doc.get("params"), dict):
                names += [str(k) for k in doc["params"]]
            names += _referenced([doc.get("ops")])
    return [n for n in dict.fromkeys(names) if n != "scenario_dir"]


def _referenced(values: Any) -> list[str]:
    """Names used as ``$name`` / ``${name}`` anywhere in ``values`` (nested lists and mappings)."""
    out: list[str] = []
    if isinstance(values, dict):
        for v in values.values():
            out += _referenced(v)
    elif isinstance(values, list):
        for v in values:
            out += _referenced(v)
    elif isinstance(values, str) and "$" in values:
        m = _WHOLE.match(values)
        out += [m.group(1)] if m else [g for g in _PARAM.findall(values) if g]
    return out


def check_overrides(overrides: dict[str, Any], declared: list[str]) -> None:
    """Refuse a ``--param`` the scenario does not declare (a misspelt name would be ignored).

    Raises:
        ConfigError: Naming the parameter, with "did you mean" and the declared names.
    """
    for key in overrides:
        if key in declared:
            continue
        if not declared:
            raise ConfigError(f"unknown parameter {key!r}: this scenario declares no parameters "
                              "(workload.params)", where="--param")
        raise ConfigError(f"unknown parameter {key!r}{did_you_mean(key, declared)}; the scenario declares "
                          f"{', '.join(declared)}", where="--param")


def prepare(data: dict, *, scenario_dir: str | None = None, params: dict[str, Any] | None = None) -> dict:
    """Move the top-level short forms into ``workload``, record ``scenario_dir``, apply overrides."""
    data = dict(data)
    wl = data.get("workload") or {}
    if not isinstance(wl, dict):
        raise ConfigError(f"expected a mapping, got {type(wl).__name__}", where="workload")
    wl = dict(wl)
    for top, key in TOP_LEVEL.items():
        if top in data:
            value = data.pop(top)
            if key == "params":
                wl["params"] = {**(value or {}), **(wl.get("params") or {})}
            elif key in wl:
                raise ConfigError(f"given twice: at the top as {top} and as workload.{key}", where=top)
            else:
                wl[key] = value
    if isinstance(wl.get("apply"), list):  # `apply: [app.yaml]`: file names for {file: app.yaml}
        wl["apply"] = [{"file": item} if isinstance(item, str) else item for item in wl["apply"]]
    merged = dict(wl.get("params") or {})
    if params:
        check_overrides(params, declared_params(wl, merged, scenario_dir))
    if scenario_dir is not None:
        merged.setdefault("scenario_dir", scenario_dir)
    merged.update(params or {})
    if merged:
        wl["params"] = merged
    data["workload"] = wl
    return data
