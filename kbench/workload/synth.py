"""Synthetic workloads: arrival processes and per-pod value distributions, drawn from the seed tree.

Arrival processes (:class:`~kbench.config.workload.ArrivalSpec`, :func:`arrival_times`), times in
seconds from the start of the group:

* ``constant``: evenly spaced, ``t_i = i / rate``;
* ``poisson``: exponential gaps of mean ``1 / rate``;
* ``bursts``: ``burst_size`` pods every ``burst_every_s``; inside a burst evenly spaced at
  ``rate_per_s`` (0: all at the burst's start);
* ``diurnal``: a non-homogeneous Poisson process whose rate follows a profile (24 hourly values by
  default, :data:`DEFAULT_DIURNAL_PROFILE`) repeated every ``period_s``, scaled so that its mean is
  ``rate_per_s``; drawn by thinning (Lewis and Shedler 1979);
* ``empirical``: gaps drawn with replacement from ``gaps_s`` or from the inter-arrival gaps of a
  trace (its pods sorted by ``arrival_s``), multiplied by ``scale``.

Value distributions (:func:`parse_dist`) describe a template field per pod (requests, durations,
images, priorities). In YAML a scalar is a constant, a list is a uniform choice, and a mapping
names the kind:

* ``{kind: constant, value}``; ``{kind: lognormal, median, p99}``; ``{kind: exponential, mean}``;
  ``{kind: uniform, low, high}``; ``{kind: normal, mean, std}`` (clipped at 0);
* ``{kind: choice, values, weights}`` (weights optional);
* ``{kind: empirical, values}`` or ``{kind: empirical, trace, column, format}``: values drawn with
  replacement from a list or from a column of a trace's normalized pods table (e.g. ``duration_s``,
  ``cpu_milli``), times ``scale``.

Numbers may be written with units: fields ending in ``_s`` take durations (``30s``, ``5m``), other
numeric fields take Kubernetes quantities (``500m``, ``2Gi``). Every draw comes from a generator the
caller passes in, a named stream of the run's seed tree (DESIGN.md decision 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kbench.config.workload import ArrivalSpec
from kbench.dist import Z99
from kbench.errors import ConfigError, KbenchError, did_you_mean
from kbench.quantity import parse_duration, parse_quantity

DEFAULT_DIURNAL_PROFILE = (0.30, 0.25, 0.20, 0.20, 0.25, 0.35, 0.55, 0.80, 1.00, 1.20, 1.35, 1.45,
                           1.50, 1.50, 1.45, 1.40, 1.35, 1.25, 1.10, 0.95, 0.80, 0.65, 0.50, 0.40)
"""Relative arrival rate per hour of the day (kbench default shape: a night trough at 2-4 h, a
morning ramp and an early-afternoon peak five to seven times the trough)."""

DIST_KINDS = ("constant", "lognormal", "exponential", "uniform", "normal", "choice", "empirical")
_PARAMS = {
    "constant": {"value"}, "lognormal": {"median", "p99"}, "exponential": {"mean"},
    "uniform": {"low", "high"}, "normal": {"mean", "std"}, "choice": {"values", "weights"},
    "empirical": {"values", "trace", "column", "format", "scale"},
}

TraceLoader = Callable[[str, str], Any]
"""``loader(path, format) -> Trace``: how empirical kinds read a trace (tests may pass their own)."""


def _default_loader(path: str, fmt: str):
    from kbench.workload.traces import load_trace
    return load_trace(path, fmt or None)


# ----------------------------------------------------------------------------- distributions

@dataclass(frozen=True)
class ValueDist:
    """A parsed value distribution (see the module docstring).

    Attributes:
        kind: One of :data:`DIST_KINDS`.
        params: Numeric parameters (``median``, ``p99``, ``mean``...), in the field's unit.
        values: Values of ``choice`` / ``empirical`` (numbers or strings).
        weights: Probabilities of ``choice`` (None: uniform).
    """

    kind: str
    params: dict[str, float] = field(default_factory=dict)
    values: tuple = ()
    weights: tuple[float, ...] | None = None

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values (an object array for string values)."""
        p = self.params
        if self.kind == "constant":
            v = self.values[0] if self.values else p["value"]
            return np.full(size, v, dtype=object if isinstance(v, str) else np.float64)
        if self.kind == "lognormal":
            sigma = np.log(p["p99"] / p["median"]) / Z99 if p["p99"] > p["median"] else 0.0
            return rng.lognormal(np.log(p["median"]), sigma, size)
        if self.kind == "exponential":
            return rng.exponential(p["mean"], size)
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], size)
        if self.kind == "normal":
            return np.maximum(rng.normal(p["mean"], p["std"], size), 0.0)
        vals = np.asarray(self.values, dtype=object if isinstance(self.values[0], str) else np.float64)
        idx = rng.choice(len(vals), size=size, p=None if self.weights is None else np.asarray(self.weights))
        out = vals[idx]
        return out * p.get("scale", 1.0) if self.kind == "empirical" and out.dtype != object else out

    def mean(self) -> float:
        """The distribution's mean (NaN for string values)."""
        p = self.params
        if self.kind == "constant":
            return float(p.get("value", np.nan))
        if self.kind == "lognormal":
            sigma = np.log(p["p99"] / p["median"]) / Z99 if p["p99"] > p["median"] else 0.0
            return float(p["median"] * np.exp(sigma**2 / 2))
        if self.kind in ("exponential", "normal"):
            return float(p["mean"])
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        if isinstance(self.values[0], str):
            return float("nan")
        w = None if self.weights is None else np.asarray(self.weights)
        return float(np.average(np.asarray(self.values, dtype=float), weights=w)) * p.get("scale", 1.0)


def _num(value: Any, unit: str, where: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"expected a number, got {value!r}", where=where)
    if isinstance(value, str):
        return parse_duration(value, where=where) if unit == "s" else parse_quantity(value, where=where)
    if not isinstance(value, int | float):
        raise ConfigError(f"expected a number, got {value!r}", where=where)
    return float(value)


def parse_dist(raw: Any, where: str, *, unit: str = "", text: bool = False,
               loader: TraceLoader | None = None, resolve: Callable[[str], str] | None = None) -> ValueDist:
    """Parse a value distribution from YAML data.

    Args:
        raw: A scalar, a list (uniform choice) or a mapping with ``kind``.
        where: Field path for error messages (``ops[1].template.cpu_cores``).
        unit: ``s`` for durations, "" for quantities.
        text: The field holds text (an image name): scalars and values stay strings.
        loader: Reads a trace for ``empirical`` with ``trace`` (default: ``load_trace``).
        resolve: Maps a trace path to the file to open (relative-path resolution).

    Raises:
        ConfigError: Naming ``where`` and what was expected.
    """
    if isinstance(raw, list | tuple):
        raw = {"kind": "choice", "values": list(raw)}
    if not isinstance(raw, dict):
        if text:
            return ValueDist("constant", values=(str(raw),))
        return ValueDist("constant", {"value": _num(raw, unit, where)})
    kind = raw.get("kind")
    if kind not in DIST_KINDS:
        raise ConfigError(f"unknown distribution kind {kind!r}: expected one of {', '.join(DIST_KINDS)}",
                          where=f"{where}.kind")
    allowed = _PARAMS[kind]
    for key in raw:
        if key != "kind" and key not in allowed:
            raise ConfigError(f"unknown field '{key}' for kind {kind}{did_you_mean(str(key), allowed)}",
                              where=f"{where}.{key}")
    if kind in ("choice", "empirical") or (kind == "constant" and text):
        return _parse_values(kind, raw, where, unit, text, loader, resolve)
    missing = sorted(allowed - set(raw))
    if missing:
        raise ConfigError(f"kind {kind} needs {', '.join(missing)}", where=where)
    params = {k: _num(raw[k], unit, f"{where}.{k}") for k in allowed}
    bad = [k for k, v in params.items() if v < 0 and not (kind == "normal" and k == "mean")]
    if bad:
        raise ConfigError(f"must be >= 0, got {params[bad[0]]:g}", where=f"{where}.{bad[0]}")
    if kind == "lognormal" and (params["median"] <= 0 or params["p99"] < params["median"]):
        raise ConfigError("lognormal needs median > 0 and p99 >= median", where=where)
    if kind == "uniform" and params["high"] < params["low"]:
        raise ConfigError("uniform needs high >= low", where=where)
    return ValueDist(kind, params)


def _parse_values(kind: str, raw: dict, where: str, unit: str, text: bool, loader, resolve) -> ValueDist:
    if kind == "constant":
        return ValueDist("constant", values=(str(raw.get("value", "")),))
    scale = _num(raw.get("scale", 1.0), "", f"{where}.scale") if kind == "empirical" else 1.0
    if kind == "empirical" and "trace" in raw:
        column = str(raw.get("column") or "")
        if not column:
            raise ConfigError("empirical from a trace needs column (e.g. duration_s)", where=where)
        path = resolve(str(raw["trace"])) if resolve else str(raw["trace"])
        try:
            trace = (loader or _default_loader)(path, str(raw.get("format") or ""))
        except KbenchError:
            raise
        except (OSError, ValueError) as err:
            raise ConfigError(f"cannot read trace {path}: {err}", where=f"{where}.trace") from None
        if column not in trace.pods.columns:
            raise ConfigError(f"trace has no column {column!r}{did_you_mean(column, trace.pods.columns)}",
                              where=f"{where}.column")
        col = trace.pods[column]
        vals = tuple(col.dropna().astype(str if text else float).tolist())
    else:
        items = raw.get("values")
        if not isinstance(items, list | tuple) or not items:
            raise ConfigError("expected a non-empty list of values", where=f"{where}.values")
        vals = tuple(str(v) for v in items) if text else tuple(
            _num(v, unit, f"{where}.values[{i}]") for i, v in enumerate(items))
    if not vals:
        raise ConfigError("no values to draw from", where=where)
    weights = None
    if kind == "choice" and raw.get("weights") is not None:
        w = [_num(v, "", f"{where}.weights[{i}]") for i, v in enumerate(raw["weights"])]
        if len(w) != len(vals) or sum(w) <= 0:
            raise ConfigError("expected one weight >= 0 per value, not all 0", where=f"{where}.weights")
        weights = tuple(x / sum(w) for x in w)
    return ValueDist(kind, {"scale": scale}, vals, weights)


# ---------------------------------------------------------------------------------- arrivals

def arrival_times(spec: ArrivalSpec, count: int, rng: np.random.Generator, *,
                  loader: TraceLoader | None = None, resolve: Callable[[str], str] | None = None) -> np.ndarray:
    """``count`` arrival times of ``spec``, seconds from the group's start (non-decreasing).

    Args:
        spec: The arrival process.
        count: Number of arrivals.
        rng: The group's stream of the seed tree.
        loader: Reads the trace of ``empirical`` arrivals (default: ``load_trace``).
        resolve: Maps a trace path to the file to open.
    """
    if count <= 0:
        return np.zeros(0)
    rate = spec.rate_per_s
    if spec.kind == "constant":
        return np.arange(count, dtype=np.float64) / rate
    if spec.kind == "poisson":
        return np.cumsum(rng.exponential(1.0 / rate, count))
    if spec.kind == "bursts":
        i = np.arange(count)
        within = (i % spec.burst_size) / rate if rate > 0 else np.zeros(count)
        return (i // spec.burst_size) * spec.burst_every_s + within
    if spec.kind == "diurnal":
        return _diurnal(spec, count, rng)
    gaps = np.asarray(spec.gaps_s, dtype=np.float64) if spec.gaps_s else trace_gaps(spec.trace, spec.format,
                                                                                    loader, resolve)
    if gaps.size == 0:
        raise ConfigError("no inter-arrival gaps to draw from", where="arrival")
    return np.cumsum(rng.choice(gaps, size=count, replace=True)) * spec.scale


def _diurnal(spec: ArrivalSpec, count: int, rng: np.random.Generator) -> np.ndarray:
    profile = np.asarray(spec.profile or DEFAULT_DIURNAL_PROFILE, dtype=np.float64)
    rel = profile / profile.mean()
    slot = spec.period_s / len(rel)
    lam_max = spec.rate_per_s * rel.max()
    out: list[np.ndarray] = []
    t, have = 0.0, 0
    while have < count:
        n = max(64, int(1.5 * (count - have) * rel.max()))
        cand = t + np.cumsum(rng.exponential(1.0 / lam_max, n))
        t = float(cand[-1])
        lam = spec.rate_per_s * rel[((cand % spec.period_s) // slot).astype(np.int64) % len(rel)]
        keep = cand[rng.random(n) * lam_max < lam]
        out.append(keep)
        have += keep.size
    return np.concatenate(out)[:count]


def trace_gaps(path: str, fmt: str = "", loader: TraceLoader | None = None,
               resolve: Callable[[str], str] | None = None) -> np.ndarray:
    """Inter-arrival gaps of a trace's pods, seconds (arrivals sorted; unknown arrivals left out)."""
    trace = (loader or _default_loader)(resolve(path) if resolve else path, fmt)
    t = np.sort(trace.pods["arrival_s"].dropna().to_numpy(dtype=np.float64))
    return np.diff(t)
