"""The Deployment controller's arithmetic against upstream's cases (deployment_util.go, rolling.go).

Cases of ``TestResolveFenceposts`` are upstream's (kubernetes/kubernetes
pkg/controller/deployment/util/deployment_util_test.go, index copy); the others are worked out in
the comments from the functions' definitions.
"""

from __future__ import annotations

import pytest

from kbench.cluster.controllers import deployutil as du
from kbench.config.workload import DeploymentSpec


@pytest.mark.parametrize("surge, unavail, desired, want", [
    ("0%", "0%", 0, (0, 1)),  # upstream: both zero forces unavailable to one
    ("39%", "39%", 10, (4, 3)),  # upstream: 3.9 rounds up for surge, down for unavailable
    ("25%", "25%", 8, (2, 2)),
    ("25%", "25%", 100, (25, 25)),
    (1, 0, 2, (1, 0)),
])
def test_resolve_fenceposts(surge, unavail, desired, want):
    assert du.resolve_fenceposts(str(surge), str(unavail), desired) == want


def spec(replicas=10, surge="25%", unavail="25%", strategy="RollingUpdate"):
    return DeploymentSpec(name="d", replicas=replicas, max_surge=surge, max_unavailable=unavail, strategy=strategy)


def test_max_unavailable_is_capped_by_replicas_and_zero_for_recreate():
    assert du.max_unavailable(spec(replicas=3, surge="0", unavail="10")) == 3  # upstream MaxUnavailable case
    assert du.max_unavailable(spec(replicas=10, surge="0%", unavail="30%")) == 3
    assert du.max_unavailable(spec(strategy="Recreate")) == 0
    assert du.max_surge(spec(strategy="Recreate")) == 0


def test_new_rs_new_replicas():
    s = spec(replicas=10)  # surge ceil(2.5) = 3: at most 13 pods
    old = du.RS("old", 10)
    new = du.RS("new", 0)
    assert du.new_rs_new_replicas(s, [old, new], new) == 3  # 13 - 10
    old.replicas, new.replicas = 8, 3
    assert du.new_rs_new_replicas(s, [old, new], new) == 5  # 13 - 11 = 2 more
    old.replicas, new.replicas = 10, 3
    assert du.new_rs_new_replicas(s, [old, new], new) == 3  # at 13 already: cannot scale up
    old.replicas, new.replicas = 0, 9
    assert du.new_rs_new_replicas(s, [old, new], new) == 10  # never above replicas
    assert du.new_rs_new_replicas(spec(strategy="Recreate"), [old, new], new) == 10


def test_reconcile_old_scales_down_within_max_unavailable():
    s = spec(replicas=10)  # maxUnavailable floor(2.5) = 2: at least 8 available
    old = du.RS("old", 10, status_replicas=10, available=10, created=1)
    new = du.RS("new", 3, status_replicas=3, available=0, created=2)
    # all = 13, minAvailable 8, new unavailable 3: maxScaledDown = 13 - 8 - 3 = 2; available 10 > 8
    assert [(rs.key, n) for rs, n in du.reconcile_old(s, [old, new], [old], new)] == [("old", 8)]
    new.available = 3  # the new pods are ready: 13 - 8 - 0 = 5 may go, available 13 - 8 = 5
    assert [(rs.key, n) for rs, n in du.reconcile_old(s, [old, new], [old], new)] == [("old", 5)]


def test_reconcile_old_cleans_unhealthy_replicas_first():
    s = spec(replicas=10)
    older = du.RS("older", 4, status_replicas=4, available=1, created=1)  # 3 not available
    old = du.RS("old", 6, status_replicas=6, available=6, created=2)
    new = du.RS("new", 3, status_replicas=3, available=3, created=3)
    # all 13, minAvailable 8, new unavailable 0: maxScaledDown 5; cleanup takes older's 3 unhealthy
    # (4 -> 1), then available 1 + 6 + 3 = 10 > 8: 2 more, oldest first (older 1 -> 0, old 6 -> 5)
    got = {rs.key: n for rs, n in du.reconcile_old(s, [older, old, new], [older, old], new)}
    assert got == {"older": 0, "old": 5}


def test_proportional_scaling_splits_by_size():
    # upstream GetProportion: d scaled from 10 to 15 (surge 25 %: 4) while two RSs have 8 and 4
    s = spec(replicas=15)  # allowed size 15 + 4 = 19; to add 19 - 12 = 7
    a = du.RS("a", 8, max_replicas=13)
    b = du.RS("b", 4, max_replicas=13)
    pa = du.get_proportion(a, s, 7, 0, 12)  # round(8 * 19 / 13) - 8 = round(11.69) - 8 = 4
    pb = du.get_proportion(b, s, 7, pa, 12)  # round(4 * 19 / 13) - 4 = round(5.85) - 4 = 2
    assert (pa, pb) == (4, 2)


def test_deployment_complete_needs_every_count_and_the_generation():
    s = spec(replicas=3)
    done = {"updated": 3, "replicas": 3, "available": 3, "observed_generation": 2}
    assert du.deployment_complete(s, done, 2)
    assert not du.deployment_complete(s, {**done, "available": 2}, 2)
    assert not du.deployment_complete(s, done, 3)  # the status has not seen the new spec


def test_find_active_or_latest():
    a, b = du.RS("a", 0, created=1), du.RS("b", 0, created=2)
    assert du.find_active_or_latest(None, [a, b]) is b
    b.replicas = 2
    assert du.find_active_or_latest(None, [a, b]) is b
    a.replicas = 1
    assert du.find_active_or_latest(None, [a, b]) is None  # several active: a rollout is on
