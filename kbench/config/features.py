"""Feature gates kbench's scheduler model reads (``--feature-gates``, scheduler_perf's
``featureGates``, a scenario's ``scheduler.feature_gates``).

Defaults are upstream's current ones: the scheduler's versioned gate table (v1.37-era copy, code
index id 61706514746, docs/VALIDATION.md "Sources") for InterPodAffinityHostnameFastPath (alpha,
off), MatchLabelKeysInPodTopologySpread (beta, on), NodeInclusionPolicyInPodTopologySpread (GA),
SchedulerAsyncAPICalls (beta, off), SchedulerPopFromBackoffQ (beta, on) and OpportunisticBatching
(beta, on); SchedulerQueueingHints (GA in v1.34, CALIBRATION M8), MatchLabelKeysInPodAffinity (beta
and on since v1.31), MinDomainsInPodTopologySpread and SidecarContainers (GA) are kbench defaults
taken as on (not confirmed from ``pkg/features/kube_features.go``).

Gates kbench does not know are accepted and reported as ignored by the caller (upstream has
hundreds); a known gate given a value that is not true/false is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kbench.errors import ConfigError, did_you_mean

DEFAULTS: dict[str, bool] = {
    "SchedulerQueueingHints": True,  # M8 (GA v1.34)
    "MatchLabelKeysInPodAffinity": True,  # kbench default (beta on since v1.31, not confirmed)
    "MatchLabelKeysInPodTopologySpread": True,  # scheduler gate table (beta, on)
    "NodeInclusionPolicyInPodTopologySpread": True,  # scheduler gate table (GA)
    "MinDomainsInPodTopologySpread": True,  # kbench default (GA, not confirmed)
    "SidecarContainers": True,  # kbench default (GA, not confirmed)
    "PodSchedulingReadiness": True,  # kbench default (scheduling gates, GA, not confirmed)
    "InterPodAffinityHostnameFastPath": False,  # scheduler gate table (alpha v1.37, off)
    "SchedulerPopFromBackoffQ": True,  # scheduler gate table (beta v1.33, on)
    "SchedulerAsyncAPICalls": False,  # scheduler gate table (beta v1.34, off)
    "OpportunisticBatching": True,  # scheduler gate table (beta v1.35, on); not modelled
    "DynamicResourceAllocation": True,  # scheduler gate table (GA); not modelled
}
"""Gate → upstream default (see the module docstring for each source)."""

NOT_MODELLED = frozenset({"OpportunisticBatching", "SchedulerAsyncAPICalls"})
"""Known gates whose mechanism kbench does not model: listed as ignored whenever they are on
(DynamicResourceAllocation has no effect without ResourceClaims, which kbench pods never have)."""


class FeatureGates(Mapping):
    """An immutable gate → bool mapping over :data:`DEFAULTS` (unknown names kept in ``unknown``)."""

    def __init__(self, overrides: Mapping[str, bool] | None = None):
        self._values = dict(DEFAULTS)
        self.unknown: dict[str, bool] = {}
        for name, value in (overrides or {}).items():
            if name in DEFAULTS:
                self._values[name] = bool(value)
            else:
                self.unknown[name] = bool(value)

    @staticmethod
    def parse(text: str, where: str = "--feature-gates") -> FeatureGates:
        """``"A=true,B=false"`` (as kube-scheduler's flag).

        Raises:
            ConfigError: A malformed item or a value that is not true/false.
        """
        out: dict[str, bool] = {}
        for item in (p.strip() for p in text.split(",")):
            if not item:
                continue
            name, eq, value = item.partition("=")
            if not eq or value.lower() not in ("true", "false"):
                raise ConfigError(f"expected Name=true|false, got {item!r}"
                                  + (did_you_mean(name, DEFAULTS) if name not in DEFAULTS else ""), where=where)
            out[name.strip()] = value.lower() == "true"
        return FeatureGates(out)

    def with_(self, overrides: Mapping[str, bool]) -> FeatureGates:
        """A copy with ``overrides`` applied on top."""
        merged = {**{k: v for k, v in self._values.items() if v != DEFAULTS[k]}, **self.unknown, **overrides}
        return FeatureGates(merged)

    def ignored(self) -> list[str]:
        """What a run cannot honour: unknown gates and gates of unmodelled mechanisms set on."""
        out = [f"feature gate {n}={str(v).lower()} is not known to kbench" for n, v in sorted(self.unknown.items())]
        out += [f"feature gate {n}=true: the mechanism is not modelled" for n in sorted(NOT_MODELLED)
                if self._values[n]]
        return out

    def __getitem__(self, name: str) -> bool:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != DEFAULTS[k]}
        return f"FeatureGates({changed!r})"
