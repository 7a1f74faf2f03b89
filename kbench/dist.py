"""Named, calibrated distributions for delays and sizes (DESIGN.md decision 5).

A :class:`Dist` is plain config data: a kind and its parameters. In YAML a scalar means a constant
(``fsync_s: 1ms``) and a mapping names the kind (``fsync_s: {kind: lognormal, median: 600us, p99: 3ms}``).
Units are those of the field that holds the distribution (seconds for ``*_s`` fields).

Kinds:
    constant:    ``value``.
    lognormal:   ``median`` and ``p99`` (p99 >= median); sigma = ln(p99/median) / z(0.99).
    exponential: ``mean``.
    uniform:     ``low`` and ``high``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kbench.errors import ConfigError

Z99 = 2.3263478740408408  # standard normal quantile at 0.99
KINDS = ("constant", "lognormal", "exponential", "uniform")


@dataclass(frozen=True)
class Dist:
    """A distribution of a non-negative quantity (a delay in seconds, a size in bytes, ...).

    Attributes:
        kind: One of ``constant``, ``lognormal``, ``exponential``, ``uniform``.
        value: The constant's value.
        median: Lognormal median.
        p99: Lognormal 99th percentile.
        mean: Exponential mean.
        low: Uniform lower bound.
        high: Uniform upper bound.
    """

    kind: str = "constant"
    value: float = 0.0
    median: float = 0.0
    p99: float = 0.0
    mean: float = 0.0
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown distribution kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        for name in ("value", "median", "p99", "mean", "low", "high"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.kind == "lognormal" and (self.median <= 0 or self.p99 < self.median):
            raise ConfigError("lognormal needs median > 0 and p99 >= median")
        if self.kind == "uniform" and self.high < self.low:
            raise ConfigError("uniform needs high >= low")

    @staticmethod
    def const(value: float) -> Dist:
        """A constant."""
        return Dist("constant", value=value)

    @staticmethod
    def lognormal(median: float, p99: float) -> Dist:
        """A lognormal given by its median and 99th percentile."""
        return Dist("lognormal", median=median, p99=p99)

    @staticmethod
    def exponential(mean: float) -> Dist:
        """An exponential given by its mean."""
        return Dist("exponential", mean=mean)

    @staticmethod
    def uniform(low: float, high: float) -> Dist:
        """A uniform on [low, high)."""
        return Dist("uniform", low=low, high=high)

    @property
    def sigma(self) -> float:
        """Lognormal shape parameter."""
        return math.log(self.p99 / self.median) / Z99 if self.p99 > self.median else 0.0

    def expected(self) -> float:
        """The mean of the distribution."""
        if self.kind == "constant":
            return self.value
        if self.kind == "lognormal":
            return self.median * math.exp(self.sigma**2 / 2)
        if self.kind == "exponential":
            return self.mean
        return (self.low + self.high) / 2

    def scaled(self, factor: float) -> Dist:
        """The same distribution with every parameter multiplied by ``factor``."""
        return Dist(self.kind, self.value * factor, self.median * factor, self.p99 * factor,
                    self.mean * factor, self.low * factor, self.high * factor)

    def sample(self, rng: np.random.Generator, size: int | None = None):
        """Draw one value (``size=None``) or an array of ``size`` values."""
        if self.kind == "constant":
            return self.value if size is None else np.full(size, self.value)
        if self.kind == "lognormal":
            return rng.lognormal(math.log(self.median), self.sigma, size)
        if self.kind == "exponential":
            return rng.exponential(self.mean, size) if self.mean > 0 else (
                0.0 if size is None else np.zeros(size))
        return rng.uniform(self.low, self.high, size)

    def sampler(self, rng: np.random.Generator, batch: int = 4096):
        """A fast zero-argument callable drawing one value, pre-drawing ``batch`` at a time.

        Use on hot paths: one numpy call per ``batch`` draws instead of one per event. The values
        consumed are the same as sequential draws from a dedicated stream.
        """
        if self.kind == "constant" or (self.kind == "exponential" and self.mean == 0):
            v = self.expected()
            return lambda: v
        buf: list[float] = []

        def draw() -> float:
            if not buf:
                buf.extend(reversed(self.sample(rng, batch).tolist()))
            return buf.pop()

        return draw
