"""Every profile of a KubeSchedulerConfiguration runs, by schedulerName (issue 17, Build 6)."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from kbench.cluster.objects.stored import PodObj
from kbench.cluster.scheduler.scheduler import Scheduler
from tests.model.test_scheduler import create_at, etcd_pods, make_world, new_pod

KSC = textwrap.dedent("""\
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
    - schedulerName: default-scheduler
    - schedulerName: bin-packing
      plugins:
        score:
          disabled: [{name: "*"}]
          enabled: [{name: NodeResourcesFit, weight: 1}]
      pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
            resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
    """)


def test_each_pod_is_placed_by_its_own_profile(tmp_path):
    """A filler pod sits on node-0001. The default profile (LeastAllocated) puts a pod on an empty
    node, the bin-packing profile (MostAllocated only) on node-0001; a pod naming a scheduler no
    profile has stays pending, left alone and counted once."""
    path = tmp_path / "ksc.yaml"
    path.write_text(KSC)
    w = make_world(3, cpu_cores=4.0, scheduler={"policy": str(path)})
    s = Scheduler(w)
    assert list(s.profiles.frameworks) == ["default-scheduler", "bin-packing"]
    s.start()
    filler = new_pod(w, "filler", cpu=2.0)
    filler = filler.evolve(node_name="node-0001")
    spread_ = new_pod(w, "spread", cpu=0.5)
    packed = new_pod(w, "packed", cpu=0.5)
    packed = packed.evolve(spec=replace(packed.spec, scheduler_name="bin-packing"))
    other = new_pod(w, "other", cpu=0.5)
    other = other.evolve(spec=replace(other.spec, scheduler_name="someone-else"))
    create_at(w, [filler], 0.5)
    create_at(w, [spread_, packed, other], 2.0)
    w.env.run(until=10)
    pods = etcd_pods(w)
    assert pods[packed.key].node_name == "node-0001"
    assert pods[spread_.key].node_name in ("node-0000", "node-0002")
    assert pods[other.key].node_name is None
    assert w.counters["pods_without_profile"] == 1 and other.key not in s.queue
    assert s.stats()["profiles"] == ["default-scheduler", "bin-packing"]


def test_profiles_share_one_rotation_and_one_queue(tmp_path):
    path = tmp_path / "ksc.yaml"
    path.write_text(KSC)
    w = make_world(3, scheduler={"policy": str(path)})
    s = Scheduler(w)
    fws = list(s.profiles.frameworks.values())
    assert fws[0].rotation is fws[1].rotation
    assert isinstance(new_pod(w, "x"), PodObj)


def test_outcome_listeners_see_only_outcomes_and_bound_observers_each_binding_once():
    """The informer's view of a binding goes to ``bound_observers`` (scheduler_perf's collector),
    once per pod; outcome listeners (the FGD recorder, sequential replay) get no extra event."""
    w = make_world(2, cpu_cores=4.0)
    s = Scheduler(w)
    events: list[str] = []
    seen: list[str] = []
    s.listeners.append(lambda event, pod, now: events.append(event))
    s.bound_observers.append(lambda pod, now: seen.append(pod.key))
    s.start()
    pods = [new_pod(w, f"p{i}", cpu=0.5) for i in range(3)]
    create_at(w, pods, 1.0)
    w.env.run(until=10)
    assert sorted(seen) == sorted(p.key for p in pods)
    assert sorted(events) == ["bound"] * 3 + ["scheduled"] * 3


BATCHING_KSC = textwrap.dedent("""\
    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    profiles:
    - schedulerName: default-scheduler
      pluginConfig:
      - name: PodTopologySpread
        args: {defaultingType: List}
    """)


def test_the_scheduler_batches_pods_that_fill_their_nodes(tmp_path):
    """OpportunisticBatching in the running scheduler (kbench/policy/batching.py): 6 pods of 3 cores
    created together on 8 nodes of 4 cores are scheduled in consecutive cycles well within 0.5 s,
    each fills its node, so every cycle after the first takes the last one's next best node as its
    hint; the default profile (System default spreading) batches none."""
    path = tmp_path / "ksc.yaml"
    path.write_text(BATCHING_KSC)
    for policy, batched in ((str(path), 5), ("default", 0)):
        w = make_world(8, cpu_cores=4.0, scheduler={"policy": policy})
        s = Scheduler(w)
        s.start()
        create_at(w, [new_pod(w, f"p{i}", cpu=3.0) for i in range(6)], 1.0)
        w.env.run(until=10)
        nodes = [p.node_name for p in etcd_pods(w).values()]
        assert len(set(nodes)) == 6 and None not in nodes
        assert s.stats()["batched_pods"] == batched
