"""Controller building blocks: the work queue, slice partitioning, eviction and backoff arithmetic."""

import pytest
import simpy

from kbench.cluster.controllers import WorkQueue, not_ready_at, reconcile_slices, toleration_s
from kbench.cluster.controllers.job import failure_backoff_s
from kbench.cluster.controllers.nodelifecycle import zone_state
from kbench.cluster.objects import Pod, Toleration
from kbench.cluster.objects.stored import PodObj
from kbench.config.controllers import ControllersConfig
from kbench.errors import ConfigError


def _drain(env, q, log, hold_s=0.0):
    def worker():
        while True:
            key = yield q.get()
            log.append((key, env.now))
            if hold_s:
                yield env.timeout(hold_s)
            q.done(key)
    env.process(worker())


def test_workqueue_deduplicates_queued_keys():
    env = simpy.Environment()
    q = WorkQueue(env)
    for k in ["a", "b", "a", "a", "c", "b"]:
        q.add(k)
    assert len(q) == 3 and q.adds == 3
    log = []
    _drain(env, q, log)
    env.run(until=1)
    assert log == [("a", 0), ("b", 0), ("c", 0)]


def test_workqueue_key_added_while_processing_runs_again_once_after_done():
    env = simpy.Environment()
    q = WorkQueue(env)
    log = []
    _drain(env, q, log, hold_s=1.0)
    q.add("a")
    env.run(until=0.5)
    q.add("a")
    q.add("a")  # still one re-run
    env.run(until=5)
    assert log == [("a", 0), ("a", 1.0)]


def test_workqueue_two_workers_never_hold_the_same_key():
    env = simpy.Environment()
    q = WorkQueue(env)
    log = []
    _drain(env, q, log, hold_s=1.0)
    _drain(env, q, log, hold_s=1.0)
    q.add("a")
    q.add("b")
    env.run(until=0.1)
    q.add("a")
    env.run(until=5)
    assert log == [("a", 0), ("b", 0), ("a", 1.0)]


def test_workqueue_add_after_keeps_earliest_and_rate_limit_doubles():
    env = simpy.Environment()
    q = WorkQueue(env, initial_s=0.005, max_s=0.02)
    log = []
    _drain(env, q, log)
    q.add_after("a", 2.0)
    q.add_after("a", 1.0)
    q.add_after("a", 3.0)
    env.run(until=10)
    assert log == [("a", 1.0)]
    delays = []
    for _ in range(4):
        t0 = env.now
        q.add_rate_limited("b")
        env.run(until=env.now + 1)
        delays.append(round(log[-1][1] - t0, 6))
    assert delays == [0.005, 0.01, 0.02, 0.02]  # 5 ms doubling, capped
    q.forget("b")
    assert q.failures("b") == 0


def test_slices_partition_250_endpoints_into_100_100_50():
    eps = {f"ns/web-{i:03d}" for i in range(250)}
    layout = reconcile_slices({}, eps, 100)
    assert sorted(layout) == [0, 1, 2]
    assert [len(layout[i]) for i in range(3)] == [100, 100, 50]
    assert set().union(*map(set, layout.values())) == eps


def test_slices_change_only_the_slices_touched():
    eps = {f"e{i:03d}" for i in range(250)}
    layout = reconcile_slices({}, eps, 100)
    gone = layout[1][0]
    after = reconcile_slices({i: list(v) for i, v in layout.items()}, (eps - {gone}) | {"new"}, 100)
    assert after[0] == layout[0]  # untouched
    assert gone not in after[1] and "new" in after[1]  # the new endpoint fills the slice being rewritten
    assert after[2] == layout[2]


def test_slices_keep_one_empty_placeholder():
    assert reconcile_slices({}, set(), 100) == {0: []}
    assert reconcile_slices({0: ["a"], 3: ["b"]}, set(), 100) == {0: []}


def test_slices_new_slice_takes_lowest_free_index():
    layout = reconcile_slices({0: [f"a{i}" for i in range(100)], 2: [f"c{i}" for i in range(100)]},
                              {f"a{i}" for i in range(100)} | {f"c{i}" for i in range(100)} | {"z"}, 100)
    assert layout[1] == ["z"]


def test_not_ready_found_at_first_monitor_tick_past_the_grace_period():
    # Lease last renewed at 90 s; ticks every 5 s from 0: at 140 s the age is exactly 50 s (not
    # more), so 145 s is the first tick with age > 50 s (F7).
    assert not_ready_at(90.0, 50.0, 5.0) == 145.0
    assert not_ready_at(92.5, 50.0, 5.0) == 145.0
    assert not_ready_at(90.0, 50.0, 5.0, start_s=1.0) == 141.0
    # NoExecute taint at once (burst 1), eviction 300 s later (F8): 145 + 300 = 445 s.
    pod = PodObj("ns/p", 0, Pod("p"))
    assert not_ready_at(90.0, 50.0, 5.0) + toleration_s(pod, 300.0) == 445.0


def test_toleration_seconds_follow_upstream_min_toleration_time():
    def pod(*tols):
        return PodObj("ns/p", 0, Pod("p", tolerations=list(tols)))

    unreach = "node.kubernetes.io/unreachable"
    assert toleration_s(pod(), 300.0) == 300.0  # DefaultTolerationSeconds (F8)
    assert toleration_s(pod(Toleration(unreach, "Exists", effect="NoExecute", toleration_seconds=60)), 300) == 60
    assert toleration_s(pod(Toleration(unreach, "Exists", effect="NoExecute")), 300) is None  # forever
    assert toleration_s(pod(Toleration(operator="Exists")), 300) is None  # tolerates everything
    assert toleration_s(pod(Toleration(operator="Exists"), Toleration(unreach, "Exists", toleration_seconds=30)),
                        300) == 30
    assert toleration_s(pod(Toleration("other", "Exists", effect="NoExecute", toleration_seconds=5)), 300) == 300


def test_job_failure_backoff_doubles_from_10s_to_10min():
    assert [failure_backoff_s(n, 10.0, 600.0) for n in range(9)] == [0, 10, 20, 40, 80, 160, 320, 600, 600]


def test_zone_state_thresholds():
    assert zone_state(ready=0, not_ready=1, threshold=0.55) == "full"
    assert zone_state(ready=1, not_ready=2, threshold=0.55) == "normal"  # needs more than 2 NotReady
    assert zone_state(ready=2, not_ready=3, threshold=0.55) == "partial"  # 3/5 = 0.6 >= 0.55
    assert zone_state(ready=3, not_ready=3, threshold=0.55) == "normal"  # 0.5


def test_config_validates_ranges():
    with pytest.raises(ConfigError):
        ControllersConfig(max_endpoints_per_slice=1001)
    with pytest.raises(ConfigError):
        ControllersConfig(replicaset_workers=0)
    assert ControllersConfig().max_endpoints_per_slice == 100  # H4
