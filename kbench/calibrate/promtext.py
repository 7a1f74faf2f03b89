"""A reader of Prometheus' text exposition format (0.0.4, and the OpenMetrics text it resembles).

It reads what ``kubectl get --raw /metrics``, etcd's ``/metrics`` and ``kbench run --metrics`` print:
``# HELP`` and ``# TYPE`` lines, samples with escaped label values (backslash, double quote and
``\\n`` escapes), ``+Inf``/``-Inf``/``NaN``, an optional timestamp, an OpenMetrics exemplar
(``# {...} v``) and ``# EOF``. No dependency beyond the standard library.

A scrape is kept as :class:`Scrape`: sample name -> list of (labels, value). Histograms are read
back with :meth:`Scrape.histogram` (cumulative ``le`` buckets, ``_sum``, ``_count``), summed over the
series that match the labels asked for; :func:`quantile` interpolates inside a bucket as PromQL's
``histogram_quantile`` does. Means come from ``_sum/_count``, which are exact; buckets only bound
quantiles.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from kbench.errors import KbenchError

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")
_CUMULATIVE = ("_bucket", "_sum", "_count", "_total", "_created")


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _number(text: str) -> float:
    low = text.lower()
    if low in ("+inf", "inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low == "nan":
        return math.nan
    return float(text)


@dataclass
class Histogram:
    """One histogram's data summed over its matching series.

    Attributes:
        count: Observations.
        sum: Sum of the observed values (seconds for the latency families).
        buckets: Upper bound -> cumulative count (``+Inf`` included when present).
    """

    count: float = 0.0
    sum: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        """``sum / count`` (NaN without observations)."""
        return self.sum / self.count if self.count > 0 else math.nan

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations between an earlier scrape and this one."""
        return Histogram(self.count - earlier.count, self.sum - earlier.sum,
                         {le: c - earlier.buckets.get(le, 0.0) for le, c in self.buckets.items()})

    def quantile(self, q: float) -> float:
        """The ``q`` quantile by :func:`quantile`."""
        return quantile(q, self.buckets)


@dataclass
class Scrape:
    """The samples of one exposition.

    Attributes:
        samples: Sample name -> [(labels, value)], in file order.
        types: Family name -> ``counter``, ``gauge``, ``histogram``, ``summary`` or ``untyped``.
        source: Where it came from (a file name or a URL), for messages.
    """

    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def has(self, family: str) -> bool:
        """Whether ``family`` has a sample (itself, or its ``_count``, ``_bucket`` or ``_total``)."""
        return any(n in self.samples for n in (family, family + "_count", family + "_bucket", family + "_total"))

    def series(self, name: str, **match: str) -> list[tuple[dict[str, str], float]]:
        """Samples of ``name`` whose labels include every ``match`` pair."""
        return [(labels, v) for labels, v in self.samples.get(name, ())
                if all(labels.get(k) == w for k, w in match.items())]

    def total(self, name: str, **match: str) -> float:
        """Sum of the matching samples of ``name`` (0 when none)."""
        return float(sum(v for _, v in self.series(name, **match)))

    def label_values(self, name: str, label: str) -> list[str]:
        """The distinct values of ``label`` among the samples of ``name``, sorted."""
        return sorted({labels[label] for labels, _ in self.samples.get(name, ()) if label in labels})

    def histogram(self, family: str, **match: str) -> Histogram:
        """``family``'s ``_count``, ``_sum`` and ``_bucket`` summed over the matching series."""
        buckets: dict[float, float] = {}
        for labels, v in self.series(family + "_bucket", **match):
            le = _number(labels.get("le", "+Inf"))
            buckets[le] = buckets.get(le, 0.0) + v
        return Histogram(self.total(family + "_count", **match), self.total(family + "_sum", **match),
                         dict(sorted(buckets.items())))


def parse(text: str, source: str = "") -> Scrape:
    """Parse an exposition.

    Raises:
        KbenchError: A line that is neither a comment nor a sample (naming ``source`` and the line).
    """
    out = Scrape(source=source)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                out.types[parts[2]] = parts[3].strip()
            continue
        try:
            name, labels, value = _sample(line)
        except (ValueError, IndexError):
            raise KbenchError(f"not a Prometheus text sample: {line[:80]!r}", source=source or None,
                              where=f"line {number}") from None
        out.samples.setdefault(name, []).append((labels, value))
    return out


def _skip_blanks(line: str, pos: int) -> int:
    while line[pos] in " \t":
        pos += 1
    return pos


def _sample(line: str) -> tuple[str, dict[str, str], float]:
    m = _NAME.match(line)
    if not m:
        raise ValueError(line)
    name = m.group(0)
    pos = m.end()
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        pos = _skip_blanks(line, pos + 1)
        while line[pos] != "}":
            lm = _LABEL.match(line, pos)
            if not lm:
                raise ValueError(line)
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = _skip_blanks(line, lm.end())
            if line[pos] == ",":
                pos = _skip_blanks(line, pos + 1)
            elif line[pos] != "}":
                raise ValueError(line)
        pos += 1
    rest = line[pos:].split("#", 1)[0].split()  # an OpenMetrics exemplar follows '#'
    return name, labels, _number(rest[0])


def quantile(q: float, buckets: dict[float, float]) -> float:
    """The ``q`` quantile of cumulative buckets, linear inside a bucket (PromQL ``histogram_quantile``).

    The first bucket is taken to start at 0; a quantile in the ``+Inf`` bucket is the largest finite
    bound. NaN without observations.
    """
    les = sorted(buckets)
    if not les:
        return math.nan
    total = buckets[les[-1]]
    if total <= 0:
        return math.nan
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le in les:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def family_of(name: str) -> str:
    """A sample name's family (``x_bucket`` -> ``x``)."""
    for suffix in _CUMULATIVE:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def difference(later: Scrape, earlier: Scrape) -> Scrape:
    """``later - earlier`` for counters and histograms (matched by labels); gauges from ``later``."""
    out = Scrape(types=dict(later.types), source=f"{earlier.source} -> {later.source}")
    for name, samples in later.samples.items():
        fam = family_of(name)
        kind = later.types.get(fam) or later.types.get(name)
        cumulative = kind in ("counter", "histogram", "summary") or (kind is None and name != fam)
        if not cumulative or name.endswith("_created"):
            out.samples[name] = list(samples)
            continue
        before = {tuple(sorted(labels.items())): v for labels, v in earlier.samples.get(name, ())}
        out.samples[name] = [(labels, v - before.get(tuple(sorted(labels.items())), 0.0)) for labels, v in samples]
    return out


def windows(scrapes: list[Scrape]) -> list[Scrape]:
    """Consecutive differences of two or more dumps, or the single dump itself."""
    if len(scrapes) < 2:
        return list(scrapes)
    return [difference(b, a) for a, b in zip(scrapes, scrapes[1:], strict=False)]


def pooled(scrapes: list[Scrape]) -> Scrape:
    """One scrape for the whole span: the last dump minus the first (or the only dump)."""
    return difference(scrapes[-1], scrapes[0]) if len(scrapes) > 1 else scrapes[0]
