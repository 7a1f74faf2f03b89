"""The Deployment controller's arithmetic, as upstream computes it (pure functions, no SimPy).

Ported from kubernetes/kubernetes pkg/controller/deployment/util/deployment_util.go @
277391ee713412cf75e4b46ad5d6e5ae9844abf1 (``ResolveFenceposts``, ``MaxSurge``, ``MaxUnavailable``,
``NewRSNewReplicas``, ``GetProportion``, ``getReplicaSetFraction``, ``DeploymentComplete``,
``IsSaturated``, ``FindActiveOrLatest``) and pkg/controller/deployment/rolling.go @
95f08499d652a6211121d8af35f470609217c730 (``reconcileOldReplicaSets``, ``cleanupUnhealthyReplicas``,
``scaleDownOldReplicaSetsForRollingUpdate``). A ReplicaSet is seen as an :class:`RS` view: its spec
replicas, its status counts and the desired/max-replicas annotations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class RS:
    """What the Deployment controller reads of one ReplicaSet.

    Attributes:
        key: ``namespace/name``.
        replicas: ``spec.replicas``.
        status_replicas: ``status.replicas`` (pods it has).
        ready: ``status.readyReplicas``.
        available: ``status.availableReplicas``.
        revision: ``deployment.kubernetes.io/revision``.
        created: Creation order (older first).
        desired: ``deployment.kubernetes.io/desired-replicas`` (None: missing).
        max_replicas: ``deployment.kubernetes.io/max-replicas`` (None: missing).
        observed_generation: ``status.observedGeneration``.
        generation: ``metadata.generation``.
        deleting: Has a deletion timestamp.
    """

    key: str
    replicas: int
    status_replicas: int = 0
    ready: int = 0
    available: int = 0
    revision: int = 0
    created: int = 0
    desired: int | None = None
    max_replicas: int | None = None
    observed_generation: int = 0
    generation: int = 1
    deleting: bool = False


def scaled_value(value: str | int, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int, or a percentage of ``total`` rounded up
    (maxSurge) or down (maxUnavailable)."""
    text = str(value).strip()
    if text.endswith("%"):
        exact = int(text[:-1]) * total / 100.0
        return int(math.ceil(exact)) if round_up else int(math.floor(exact))
    return int(text)


def resolve_fenceposts(max_surge: str, max_unavailable: str, desired: int) -> tuple[int, int]:
    """``ResolveFenceposts``: (surge, unavailable); both 0 after rounding makes unavailable 1."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(spec) -> int:
    """``MaxSurge`` of a Deployment spec (0 for Recreate)."""
    if spec.strategy != "RollingUpdate":
        return 0
    return resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)[0]


def max_unavailable(spec) -> int:
    """``MaxUnavailable`` of a Deployment spec (0 for Recreate or 0 replicas; at most replicas)."""
    if spec.strategy != "RollingUpdate" or spec.replicas == 0:
        return 0
    return min(resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)[1], spec.replicas)


def total(rss: list[RS]) -> int:
    """``GetReplicaCountForReplicaSets``: the sum of spec replicas."""
    return sum(rs.replicas for rs in rss)


def available(rss: list[RS]) -> int:
    """``GetAvailableReplicaCountForReplicaSets``."""
    return sum(rs.available for rs in rss)


def new_rs_new_replicas(spec, all_rss: list[RS], new: RS) -> int:
    """``NewRSNewReplicas``: the replicas the new ReplicaSet should have now."""
    if spec.strategy != "RollingUpdate":
        return spec.replicas
    surge = scaled_value(spec.max_surge, spec.replicas, True)
    current = total(all_rss)
    max_total = spec.replicas + surge
    if current >= max_total:
        return new.replicas
    return new.replicas + min(max_total - current, spec.replicas - new.replicas)


def reconcile_old(spec, all_rss: list[RS], old_rss: list[RS], new: RS) -> list[tuple[RS, int]]:
    """``reconcileOldReplicaSets``: the scale-downs of old ReplicaSets, ``[(rs, new replicas)]``
    (``cleanupUnhealthyReplicas`` first, then ``scaleDownOldReplicaSetsForRollingUpdate``)."""
    if total(old_rss) == 0:
        return []
    unavailable = max_unavailable(spec)
    min_available = spec.replicas - unavailable
    new_unavailable = new.replicas - new.available
    max_scaled_down = total(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    out: dict[str, tuple[RS, int]] = {}
    olds = sorted(old_rss, key=lambda r: r.created)
    cleaned = 0
    for rs in olds:  # cleanupUnhealthyReplicas: their not-available pods first
        if cleaned >= max_scaled_down:
            break
        if rs.replicas == 0 or rs.replicas == rs.available:
            continue
        n = min(max_scaled_down - cleaned, rs.replicas - rs.available)
        out[rs.key] = (rs, rs.replicas - n)
        cleaned += n
    current = {rs.key: out.get(rs.key, (rs, rs.replicas))[1] for rs in olds}
    avail = available([new] + olds)
    if avail > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
        todo, done = avail - min_available, 0
        for rs in olds:
            if done >= todo:
                break
            if current[rs.key] == 0:
                continue
            n = min(current[rs.key], todo - done)
            current[rs.key] -= n
            out[rs.key] = (rs, current[rs.key])
            done += n
    return [v for v in out.values() if v[1] != v[0].replicas]


def rs_fraction(rs: RS, spec, status_replicas: int) -> int:
    """``getReplicaSetFraction``: the change of ``rs`` in a proportional scaling."""
    if spec.replicas == 0:
        return -rs.replicas
    deployment_replicas = spec.replicas + max_surge(spec)
    annotated = rs.max_replicas if rs.max_replicas is not None else status_replicas
    if annotated <= 0:
        return 0
    new_size = rs.replicas * deployment_replicas / annotated
    return int(math.floor(new_size + 0.5)) - rs.replicas


def get_proportion(rs: RS | None, spec, to_add: int, added: int, status_replicas: int) -> int:
    """``GetProportion``: how many replicas ``rs`` gets of a proportional scaling of ``to_add``."""
    if rs is None or rs.replicas == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, spec, status_replicas)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def find_active_or_latest(new: RS | None, olds: list[RS]) -> RS | None:
    """``FindActiveOrLatest``: the one active ReplicaSet, or the newest when none or several are."""
    active = [rs for rs in olds + ([new] if new else []) if rs.replicas > 0]
    if len(active) == 1:
        return active[0]
    if not active:
        if new is not None:
            return new
        return max(olds, key=lambda r: r.created) if olds else None
    return None


def is_saturated(spec, new: RS | None) -> bool:
    """``IsSaturated``: the new ReplicaSet has all replicas, all available."""
    return new is not None and new.replicas == spec.replicas and new.desired == spec.replicas \
        and new.available == spec.replicas


def deployment_complete(spec, status: dict, generation: int) -> bool:
    """``DeploymentComplete``: updated == replicas == available == spec and the status observed
    the current generation."""
    r = spec.replicas
    return (status.get("updated") == r and status.get("replicas") == r and status.get("available") == r
            and status.get("observed_generation", 0) >= generation)
