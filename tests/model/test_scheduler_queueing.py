"""QueueingHints through the whole control plane: an event moves only the pods it concerns (M8, M9).

Two small nodes; pod A wants ``disk=ssd`` (no node has it: rejected by NodeAffinity), pod B wants
more CPU than any node (rejected by NodeResourcesFit). Labelling a node ``disk=ssd`` through the
apiserver is a Node UpdateNodeLabel event: NodeAffinity registered it and its hint says Queue for A;
NodeResourcesFit did not register label updates, so B stays in the pool until the 5-minute flush
(D2). With the SchedulerQueueingHints gate off every registered event moves the pod (and a plugin
that registers Node Add also gets UpdateNodeLabel, M9), so B is retried too.
"""

from __future__ import annotations

import pytest

from kbench.cluster.scheduler.scheduler import Scheduler
from tests.model.test_scheduler import create_at, driver, etcd_pods, make_world, new_pod


def run_label_change(hints: bool):
    w = make_world(2, cpu_cores=2.0, scheduler={"feature_gates": {"SchedulerQueueingHints": hints}})
    s = Scheduler(w)
    s.start()
    a = new_pod(w, "a", cpu=0.1, node_selector={"disk": "ssd"})
    b = new_pod(w, "b", cpu=8.0)
    create_at(w, [a, b], 1.0)
    w.env.run(until=20)
    assert s.queue.unschedulable_len == 2
    assert {info.key: sorted(info.rejectors) for info in s.queue.pending()} == {
        "default/a": ["NodeAffinity"], "default/b": ["NodeResourcesFit"]}
    attempts_b = int(w.timeline.attempts[b.uid])
    c = driver(w)
    node = "node-0001"

    def relabel():
        yield from w.update_node(c, node, labels={**w.node_specs[node].labels, "disk": "ssd"})

    w.env.process(relabel())
    w.env.run(until=40)
    return w, s, a, b, attempts_b


def test_node_label_change_releases_only_node_affinity_rejects():
    w, s, a, b, attempts_b = run_label_change(hints=True)
    assert etcd_pods(w)[a.key].node_name == "node-0001"
    assert int(w.timeline.attempts[b.uid]) == attempts_b  # B was not tried again
    assert s.queue.unschedulable_len == 1 and s.queue.get(b.key).where == "unschedulable"
    w.env.run(until=400)  # the 5-minute leftover flush (D2) still retries B
    assert int(w.timeline.attempts[b.uid]) > attempts_b


def test_without_queueing_hints_the_label_change_moves_both():
    w, s, a, b, attempts_b = run_label_change(hints=False)
    assert etcd_pods(w)[a.key].node_name == "node-0001"
    assert int(w.timeline.attempts[b.uid]) == attempts_b + 1


@pytest.mark.parametrize("hints", [True, False])
def test_gated_pod_waits_untouched_until_its_gates_go(hints):
    """A pod with scheduling gates never enters activeQ (no attempt), node events do not touch it,
    and the update that removes its gates (UpdatePodSchedulingGatesEliminated) schedules it."""
    from dataclasses import replace

    w = make_world(2, scheduler={"feature_gates": {"SchedulerQueueingHints": hints}})
    s = Scheduler(w)
    s.start()
    gated = new_pod(w, "g")
    gated = gated.evolve(spec=replace(gated.spec, scheduling_gates=("example.com/wait",)))
    create_at(w, [gated], 1.0)
    c = driver(w)

    def later():
        yield w.env.timeout(5.0)
        yield from w.update_node(c, "node-0000", labels={"any": "thing"})
        yield w.env.timeout(5.0)
        assert s.queue.gated_len == 1 and w.timeline.attempts[gated.uid] == 0
        yield from w.write(c, "update", "pods", gated.key, gated.evolve(spec=replace(gated.spec, scheduling_gates=())))

    w.env.process(later())
    w.env.run(until=30)
    assert etcd_pods(w)[gated.key].node_name is not None
    assert s.queue.gated_len == 0 and int(w.timeline.attempts[gated.uid]) == 1


def test_event_during_a_failing_cycle_is_not_lost():
    """Upstream's in-flight events: a pod whose cycle fails while a concerning event arrives goes
    to backoffQ (and is retried), not to the pool."""
    from kbench.cluster.objects import Pod
    from kbench.cluster.scheduler.hints import build_hint_map
    from kbench.cluster.scheduler.queue import SchedulingQueue
    from kbench.policy.events import NODE, UPDATE_NODE_LABEL, ClusterEvent, NodeChange
    from kbench.policy.framework import Framework

    fw = Framework("default", 0)
    q = SchedulingQueue(hint_maps={"default-scheduler": build_hint_map(fw, True)})

    class Obj:
        def __init__(self, key, spec):
            self.key, self.spec = key, spec

    spec = Pod("p", node_selector={"disk": "ssd"})
    q.add(Obj("default/p", spec), 0.0)
    info = q.pop(0.0)
    old = NodeChange("n", {}, (), False, {})
    new = NodeChange("n", {"disk": "ssd"}, (), False, {})
    q.on_event(ClusterEvent(NODE, UPDATE_NODE_LABEL), old, new, 0.5)  # arrives while the pod is in flight
    q.add_unschedulable(info, 1.0, frozenset({"NodeAffinity"}))
    assert info.where == "backoff"
    other = q.add(Obj("default/q", Pod("q", node_selector={"disk": "nvme"})), 2.0)
    q.pop(2.0)
    q.on_event(ClusterEvent(NODE, UPDATE_NODE_LABEL), old, new, 2.5)  # does not make q schedulable
    q.add_unschedulable(other, 3.0, frozenset({"NodeAffinity"}))
    assert other.where == "unschedulable"
