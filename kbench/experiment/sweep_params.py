"""Sweep parameters: dotted paths into a scenario, friendly aliases, and applying a value.

A grid parameter names one setting of the effective scenario by a dotted path, with ``[i]`` for a
list item and ``["key"]`` for a mapping key holding dots or brackets::

    cluster.nodes[0].count
    apiserver.flowcontrol.max_requests_inflight
    clients.controller-manager.qps
    sync_strategies.kubelet              # a new key of a free-form mapping is allowed
    workload.params.pods                 # a workload-spec parameter ($pods)

Field names may use ``-`` for ``_``. Paths are checked against the scenario's typed fields, so a
misspelt one fails before any run, with a "did you mean". Aliases (:data:`ALIASES`):

- ``nodes``: the total node count; one node group gets it, several are scaled in proportion
  (largest remainder, so the total is exact);
- ``duration`` / ``warmup``: ``duration_s`` / ``warmup_s`` (``"4m"`` works);
- ``params.NAME``: ``workload.params.NAME``.

``seed``, ``name``, ``version`` and ``scheduler.policy`` are not grid parameters: seeds and
policies have their own keys in the sweep file.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

from kbench.errors import KbenchError, did_you_mean

ALIASES = {"duration": "duration_s", "warmup": "warmup_s"}
"""Friendly names of scenario fields (besides ``nodes`` and ``params.NAME``)."""

NODES = "nodes"
NOT_GRID = {"seed": "use 'seeds:'", "scheduler.policy": "use 'policies:'", "name": "the sweep has one scenario name",
            "version": "the scenario version is fixed"}

_TOKEN = re.compile(r"""\[\s*(\d+)\s*\]|\[\s*["']([^"']+)["']\s*\]|(\.?)([^.\[\]]+)""")

Path_ = tuple[str | int, ...]


def parse_path(text: str, where: str) -> list[str | int]:
    """``a.b[0]["x.y"]`` → ``["a", "b", 0, "x.y"]``.

    Raises:
        KbenchError: Not a well-formed path.
    """
    out: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or (m.group(4) is not None and bool(m.group(3)) == (pos == 0)):
            raise KbenchError(f"malformed parameter path {text!r} (expected a.b[0].c)", where=where)
        idx, quoted, _, name = m.groups()
        out.append(int(idx) if idx is not None else quoted if quoted is not None else name.strip())
        pos = m.end()
    if not out:
        raise KbenchError("empty parameter name", where=where)
    return out


def _text(path: list[str | int]) -> str:
    out = ""
    for tok in path:
        out += f"[{tok}]" if isinstance(tok, int) else (f".{tok}" if out else str(tok))
    return out or "the scenario"


def resolve(base: Any, name: str, where: str) -> Path_:
    """The canonical path of grid parameter ``name`` in scenario ``base``.

    Args:
        base: The base :class:`~kbench.config.Scenario`.
        name: The parameter as written in the sweep file (a path or an alias).
        where: Where it was written, for errors (``grid.<name>``).

    Returns:
        A tuple of field names and list indices (``("cluster", "nodes", 0, "count")``), or
        ``("nodes",)`` for the node-count alias.

    Raises:
        KbenchError: An unknown field ("did you mean"), an index out of range, or a parameter that
            is not allowed in a grid.
    """
    if name == NODES:
        if not base.cluster.nodes:
            raise KbenchError("'nodes' sets the node groups' counts, but the scenario has no cluster.nodes "
                              "(trace nodes cannot be resized)", where=where)
        return (NODES,)
    text = "workload.params." + name[len("params."):] if name.startswith("params.") else ALIASES.get(name, name)
    tokens = parse_path(text, where)
    plain = ".".join(str(t).replace("-", "_") for t in tokens)
    if plain in NOT_GRID:
        raise KbenchError(f"{name!r} is not a grid parameter: {NOT_GRID[plain]}", where=where)
    obj, out = base, []
    for i, tok in enumerate(tokens):
        here = _text(out)
        if dataclasses.is_dataclass(obj):
            names = [f.name for f in dataclasses.fields(obj)]
            key = str(tok).replace("-", "_")
            if isinstance(tok, int) or key not in names:
                hint = did_you_mean(key, names) or ("" if i else did_you_mean(name, [NODES, *ALIASES]))
                raise KbenchError(f"unknown parameter {name!r}: {here} has no field {str(tok)!r}{hint}", where=where)
            obj = getattr(obj, key)
            out.append(key)
        elif isinstance(obj, dict):
            key = str(tok)
            if key not in obj and i < len(tokens) - 1:
                raise KbenchError(f"unknown parameter {name!r}: {here} has no key {key!r}"
                                  f"{did_you_mean(key, [str(k) for k in obj])}", where=where)
            obj = obj.get(key)
            out.append(key)
        elif isinstance(obj, list | tuple):
            if not isinstance(tok, int):
                raise KbenchError(f"unknown parameter {name!r}: {here} is a list; index it like {here}[0]",
                                  where=where)
            if tok >= len(obj):
                raise KbenchError(f"unknown parameter {name!r}: {here} has {len(obj)} item(s), no [{tok}]",
                                  where=where)
            obj = obj[tok]
            out.append(tok)
        else:
            raise KbenchError(f"unknown parameter {name!r}: {here} is a value, not a mapping or list", where=where)
    return tuple(out)


def apply(data: dict, path: Path_, value: Any, where: str) -> None:
    """Set ``value`` at ``path`` in plain scenario data (``to_dict`` form), in place.

    Raises:
        KbenchError: A node count that is not a whole number >= 1.
    """
    if path == (NODES,):
        _set_nodes(data["cluster"]["nodes"], value, where)
        return
    node: Any = data
    for tok in path[:-1]:
        node = node[tok]
    node[path[-1]] = copy.deepcopy(value)


def _set_nodes(groups: list[dict], total: Any, where: str) -> None:
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise KbenchError(f"nodes: expected a whole number >= 1, got {total!r}", where=where)
    counts = [int(g.get("count", 1)) for g in groups]
    if len(groups) == 1 or sum(counts) == 0:
        groups[0]["count"] = total
        for g in groups[1:]:
            g["count"] = 0
        return
    shares = [total * c / sum(counts) for c in counts]
    new = [int(s) for s in shares]
    by_remainder = sorted(range(len(groups)), key=lambda i: (new[i] - shares[i], i))
    for i in by_remainder[: total - sum(new)]:
        new[i] += 1
    for g, n in zip(groups, new, strict=True):
        g["count"] = n
