"""``kbench bench --set KEY=VALUE``: scenario overrides for this tree's benchmark runs.

A speed bar of the kind "no slower than before by more than 25 %" is about the cost one change
adds; when later work added its own cost on top (issue 18's write mix: Events, the kubelet's status
writes), the share of each is measured by switching the later work off in the benchmark scenarios:
``kbench bench --baseline d416544 --set events.enabled=false --set kubelet.status_writes=minimal``.
Each ``KEY`` is a dotted path into the scenario (``events.enabled``, ``apiserver.max_inflight``),
``VALUE`` is read as YAML 1.2 reads it (``false``, ``0.5``, ``10s``, ``[a, b]``; only ``true`` and
``false`` are booleans, so ``kubelet.status_get=off`` is the text ``off``, not YAML 1.1's false), and the override lands in every
scenario of the run, including the sync experiment's, before the scenario is validated, so a
misspelt key fails at once (exit 2) with the loader's message. With ``--baseline`` the overrides
apply to this tree only: the baseline revision may not know the keys.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from kbench.errors import KbenchError


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's booleans: ``on``, ``off``, ``yes``, ``no`` stay text."""


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in rules if tag != _BOOL]
                                   for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _read(text: str) -> Any:
    """One YAML value with :class:`_Loader` (a SafeLoader: no tags that build objects)."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_sets(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """``["a.b=1", "c=false"]`` -> ``{"a.b": 1, "c": False}`` (values parsed as YAML; a later
    repetition of a key wins). ``flag`` names the option in error messages.

    Raises:
        KbenchError: An item without ``=``, an empty key or path segment, or a value that is not YAML.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise KbenchError(f"{flag} {item!r}: expected KEY=VALUE with a dotted KEY, e.g. events.enabled=false")
        try:
            out[key] = _read(text) if text.strip() else ""
        except yaml.YAMLError:
            raise KbenchError(f"{flag} {item!r}: the value is not valid YAML") from None
    return out


def apply_sets(data: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    """A copy of the scenario ``data`` with each dotted key of ``sets`` set (missing mappings made).

    Raises:
        KbenchError: A path goes through a value that is not a mapping (``--set events=1`` then
            ``--set events.enabled=false``, or a list in the scenario).
    """
    out = copy.deepcopy(data)
    for key, value in sets.items():
        node = out
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise KbenchError(f"{key}: {'.'.join(parts[:depth + 1])} is not a mapping in the scenario")
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


def as_args(sets: dict[str, Any]) -> list[str]:
    """The ``--set`` arguments that give ``sets`` again (values as one-line YAML)."""
    args: list[str] = []
    for key, value in sets.items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
        args += ["--set", f"{key}={text}"]
    return args


def describe(sets: dict[str, Any]) -> str:
    """``sets`` as one line of ``KEY=VALUE`` pairs (as ``--set`` would read them back)."""
    return " ".join(as_args(sets)[1::2])
