"""The scheduling queue: activeQ order, backoff, the unschedulable pool and its flushes (D1, D2)."""

from dataclasses import dataclass

import numpy as np
import pytest

from kbench.cluster.objects import NodeTable, Pod
from kbench.cluster.scheduler.queue import SchedulingQueue
from kbench.config.cluster import NodeGroup
from kbench.policy.framework import Framework
from kbench.workload.podspec import nodes_from_groups


@dataclass
class P:
    """A stand-in for PodObj: key and spec are all the queue reads."""

    key: str
    spec: Pod


def pod(name: str, priority: int = 0) -> P:
    return P(f"default/{name}", Pod(name, priority=priority))


def drain(q: SchedulingQueue, now: float) -> list[str]:
    out = []
    while (info := q.pop(now)) is not None:
        out.append(info.key.split("/")[1])
        q.done(info.key)
    return out


def test_active_queue_orders_by_priority_then_queue_time():
    q = SchedulingQueue()
    q.add(pod("low-early", 0), 1.0)
    q.add(pod("high-late", 10), 3.0)
    q.add(pod("low-late", 0), 2.0)
    q.add(pod("high-early", 10), 2.5)
    assert drain(q, 4.0) == ["high-early", "high-late", "low-early", "low-late"]


def test_equal_priority_and_time_keep_arrival_order():
    q = SchedulingQueue()
    for name in "abcde":
        q.add(pod(name), 0.0)
    assert drain(q, 0.0) == list("abcde")


def test_custom_queue_sort_less_is_used():
    # A QueueSort that puts lexically larger names first, whatever the priority.
    q = SchedulingQueue(lambda a, b: a.name > b.name)
    for name, prio in (("a", 10), ("c", 0), ("b", 5)):
        q.add(pod(name, prio), 0.0)
    assert drain(q, 0.0) == ["c", "b", "a"]


def test_backoff_doubles_from_one_second_to_ten():
    q = SchedulingQueue(initial_backoff_s=1.0, max_backoff_s=10.0)
    assert [q.backoff_duration(a) for a in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]


def test_failed_pod_waits_out_its_backoff_in_backoff_queue():
    # Each failure goes to backoffQ (as after an error); the pod becomes active again exactly
    # when its backoff expires: 1, 2, 4, 8, 10 s after each failure.
    q = SchedulingQueue()
    q.add(pod("a"), 0.0)
    now, waits = 0.0, []
    for _ in range(5):
        info = q.pop(now)
        q.add_backoff(info, now)
        expiry = q.backoff_expiry(info)
        assert q.flush_backoff(expiry - 1e-9) == 0
        assert q.flush_backoff(expiry) == 1
        waits.append(expiry - now)
        now = expiry
    assert waits == pytest.approx([1, 2, 4, 8, 10])


def test_unschedulable_pod_waits_for_an_event_or_five_minutes():
    q = SchedulingQueue(max_unschedulable_s=300.0)
    q.add(pod("a"), 0.0)
    info = q.pop(0.0)
    q.add_unschedulable(info, 0.5)
    assert q.unschedulable_len == 1 and q.active_len == 0
    assert q.flush_backoff(100.0) == 0  # backoff flushes do not touch the pool
    assert q.flush_unschedulable(299.0) == 0
    assert q.flush_unschedulable(300.6) == 1
    assert q.active_len == 1  # backoff (1 s) long over: straight to activeQ


def test_move_on_cluster_event_respects_backoff():
    q = SchedulingQueue()
    q.add(pod("a"), 0.0)
    q.add(pod("b"), 0.0)
    a, b = q.pop(0.0), q.pop(0.0)
    q.add_unschedulable(a, 0.0)
    q.add_unschedulable(b, 0.0)
    assert q.move_all(0.5) == 2  # e.g. a node was added, 0.5 s after the failures
    assert q.unschedulable_len == 0
    assert q.backoff_len == 2 and q.active_len == 0  # still inside their 1 s backoff
    assert q.flush_backoff(1.0) == 2
    assert drain(q, 1.0) == ["a", "b"]


def test_event_during_a_cycle_sends_the_failed_pod_to_backoff_not_the_pool():
    q = SchedulingQueue()
    q.add(pod("a"), 0.0)
    info = q.pop(0.0)
    q.move_all(0.001)  # a node joined while the pod was being scheduled
    q.add_unschedulable(info, 0.002)
    assert q.unschedulable_len == 0 and q.backoff_len == 1


def test_delete_and_update_are_lazy_and_consistent():
    q = SchedulingQueue()
    q.add(pod("a"), 0.0)
    q.add(pod("b"), 0.0)
    assert q.delete("default/a") is not None
    newer = pod("b", 5)
    assert q.update(newer)
    assert q.get("default/b").pod is newer
    assert len(q) == 1 and q.active_len == 1
    assert drain(q, 0.0) == ["b"]
    info = q.add(pod("c"), 0.0)
    q.delete("default/c")
    q.add_unschedulable(info, 1.0)  # deleted while being scheduled: dropped
    assert len(q) == 0 and q.pop(1.0) is None


@pytest.mark.parametrize(("nodes", "expected"), [(50, 50), (100, 100), (1000, 420), (5000, 500), (20000, 1000)])
def test_percentage_of_nodes_to_score_rule(nodes, expected):
    # D3: pct = max(50 - n/125, 5); find max(n*pct/100, 100); all nodes below 100.
    # 1000 nodes: 50 - 8 = 42 % -> 420. 5000: 10 % -> 500. 20000: 5 % -> 1000.
    fw = Framework("default", np.random.default_rng(0))
    assert fw.num_feasible_nodes_to_find(nodes) == expected


def test_framework_rotates_the_start_index_between_pods():
    # 1000 nodes: each cycle evaluates 420 nodes, starting where the previous one stopped (D4).
    table = NodeTable()
    for n in nodes_from_groups([NodeGroup(count=1000)]):
        table.add_node(n)
    fw = Framework("default", np.random.default_rng(0))
    first = fw.schedule(Pod("a"), table, assume=False)
    second = fw.schedule(Pod("b"), table, assume=False)
    r1, r2 = np.flatnonzero(first.evaluated), np.flatnonzero(second.evaluated)
    assert r1.size == r2.size == 420
    assert r1[0] == 0 and r2[0] == 420
