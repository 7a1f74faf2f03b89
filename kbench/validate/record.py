"""One validation result and the rules that decide pass or fail.

A check compares a simulated figure with an expected one. How they must agree is the record's
``kind``:

* ``rel``: ``|simulated - expected| / expected <= tolerance`` (theory: queueing formulas, N/T, T/2);
* ``factor``: ``expected / tolerance <= simulated <= expected * tolerance`` (published figures of
  the right order: B4, D8);
* ``max``: ``simulated <= expected`` (an SLO or a rate bound: F1, C3, C4); ``tolerance`` is 0;
* ``exact``: ``simulated == expected`` (counts: upstream scoring cases passed);
* ``info``: always passes; the comparison is shown, not checked (a published figure of other
  hardware under ``--calibration``, a fit's residual at its own calibration point).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

KINDS = ("rel", "factor", "max", "exact", "info")


@dataclass
class Record:
    """A validation result (one line of ``kbench validate``).

    Attributes:
        name: Check id, ``family/what`` (e.g. ``queueing/mm1_wait``).
        compared: What is compared, in words.
        expected: Expected value (``unit``).
        simulated: Simulated value (``unit``); the mean over seeds when there are several.
        ci_low: Lower end of the 95 % confidence interval of ``simulated`` (NaN: no interval).
        ci_high: Upper end of that interval.
        tolerance: Allowed departure, read according to ``kind``.
        kind: ``rel``, ``factor``, ``max``, ``exact`` or ``info`` (module docstring).
        source: Where ``expected`` comes from (theory, upstream test, CALIBRATION fact id, figure).
        unit: Unit of expected and simulated (``s``, ``1/s``, ``requests``, ``cases``).
        samples: Seeds (or cases) behind ``simulated``.
        note: Anything a reader needs (sizes, what is not covered).
    """

    name: str
    compared: str
    expected: float
    simulated: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    tolerance: float = 0.0
    kind: str = "rel"
    source: str = ""
    unit: str = ""
    samples: int = 1
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def error(self) -> float:
        """Relative error ``(simulated - expected) / expected`` (absolute when expected is 0)."""
        if self.expected == 0:
            return float(self.simulated)
        return (self.simulated - self.expected) / abs(self.expected)

    @property
    def passed(self) -> bool:
        """Whether the check passes under its ``kind`` rule (NaN never passes)."""
        s, e, t = self.simulated, self.expected, self.tolerance
        if s is None or (isinstance(s, float) and math.isnan(s)):
            return False
        if self.kind == "rel":
            return abs(self.error) <= t
        if self.kind == "factor":
            return e / t <= s <= e * t
        if self.kind == "max":
            return s <= e
        if self.kind == "exact":
            return s == e
        if self.kind == "info":
            return True
        raise ValueError(f"unknown kind {self.kind!r}")

    def to_json(self) -> dict:
        """The JSON object of ``kbench validate -o json`` (NaN becomes null)."""
        d = asdict(self)
        d.update(error=self.error, **{"pass": self.passed})
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval of independent replications (NaN interval for one value)."""
    import numpy as np
    from scipy import stats

    a = np.asarray(list(values), dtype=float)
    m = float(a.mean())
    if a.size < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return m, m - half, m + half
