"""The Prometheus text exposition format (version 0.0.4): metric families, cumulative histograms,
rendering with ``# HELP`` and ``# TYPE`` lines, and a small reader of what :func:`render` writes.

The content (which families a run has, under which upstream names) is in
:mod:`kbench.metrics.prometheus`; this module only knows the format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Family:
    """One metric family: name, type (counter, gauge, histogram), help and its samples.

    Attributes:
        samples: ``(suffix, labels, value)``: suffix ``""`` for counters and gauges, ``_bucket``,
            ``_sum``, ``_count`` for histograms.
    """

    name: str
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _value(v: float) -> str:
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


def _escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render(families: Iterable[Family]) -> str:
    """Families as text: ``# HELP`` and ``# TYPE`` lines, then one line per sample."""
    out = []
    for f in families:  # a family without samples still names itself (a counter nothing incremented)
        out.append(f"# HELP {f.name} {f.help.replace(chr(92), chr(92) * 2).replace(chr(10), ' ')}")
        out.append(f"# TYPE {f.name} {f.kind}")
        out += [f"{f.name}{suffix}{_labels(labels)} {_value(v)}" for suffix, labels, v in f.samples]
    return "\n".join(out) + "\n"


def histogram(name: str, help: str, labelnames: Sequence[str], bounds: Sequence[float],
              cells: dict[tuple, tuple[Sequence[int], float, int]]) -> Family:
    """A histogram family with cumulative ``le`` buckets.

    Args:
        name: The family name.
        help: Its help text.
        labelnames: Label names, in the order of each cell's key.
        bounds: Bucket upper bounds (the +Inf bucket is added).
        cells: Label values -> (per-bucket counts, ``len(bounds) + 1`` of them; sum; count).
    """
    fam = Family(name, "histogram", help)
    les = [_value(b) for b in bounds] + ["+Inf"]
    for key in sorted(cells):
        counts, total, n = cells[key]
        base = dict(zip(labelnames, key, strict=True))
        for le, cum in zip(les, np.cumsum(counts).tolist(), strict=True):
            fam.samples.append(("_bucket", {**base, "le": le}, cum))
        fam.samples.append(("_sum", base, total))
        fam.samples.append(("_count", base, n))
    return fam


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A small reader of this module's own output (tests, ``kbench calibrate``): sample name ->
    [(labels, value)]. Not a general exposition parser: no escapes inside label values beyond
    those :func:`render` writes, no timestamps."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    pair = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\") for k, v in pair.findall(rest)}
        out.setdefault(name, []).append((labels, float(value.replace("+Inf", "inf"))))
    return out
