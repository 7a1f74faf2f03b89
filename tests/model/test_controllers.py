"""kube-controller-manager in a World: rate-limited pod creation, Jobs, node failure and eviction,
EndpointSlices, namespace deletion and quota writes.

No scheduler or kubelet is needed: a tiny fake node agent in this file binds pending pods round-robin
(straight to Running and ready), finishes pods after their duration, completes graceful deletions
(a DELETE with grace 0, as the kubelet's status manager) and renews node leases every 10 s, all
through the apiserver.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.controllers import ControllerManager
from kbench.cluster.objects.stored import LEASE_BYTES, POD_BYTES, GenericObj
from kbench.cluster.objects.workloads import ApiObj
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.workload import DeploymentSpec, JobSpec, PodTemplate
from kbench.dist import Dist
from kbench.workload.podspec import nodes_from_groups

SA = ("system:serviceaccounts", "system:authenticated")


class FakeAgent:
    """Binds, runs, finishes and deletes pods; renews leases. Nodes in ``dead`` do nothing."""

    def __init__(self, world: World, *, ready_delay_s: float = 0.5):
        self.world, self.env = world, world.env
        self.client = world.client("fake-agent", "kubelet", "system:node:fake", ("system:nodes", "system:authenticated"))
        self.nodes = sorted(world.node_specs)
        self.dead: set[str] = set()
        self.ready_delay_s = ready_delay_s
        self._rr = 0
        self._busy: set[str] = set()
        self.informer = world.informer(self.client, "pods", object_bytes=POD_BYTES, on_add=self._seen,
                                       on_update=lambda old, new: self._seen(new))

    def start(self):
        self.informer.start()
        for i, n in enumerate(self.nodes):
            self.env.process(self._leases(n, i * 10.0 / len(self.nodes)))

    def _leases(self, node, offset):
        yield self.env.timeout(offset)
        while True:
            if node not in self.dead:
                yield from self.world.write(self.client, "update", "leases", node,
                                            GenericObj(node, {"renew_s": self.env.now}), size_bytes=LEASE_BYTES)
            yield self.env.timeout(10.0)

    def _seen(self, pod):
        if pod.node_name in self.dead or pod.key in self._busy:
            return
        self._busy.add(pod.key)
        self.env.process(self._act(pod))

    def _act(self, pod):
        w, env = self.world, self.env
        try:
            if pod.deleting:
                yield env.timeout(0.2)
                yield from w.write(self.client, "delete", "pods", pod.key, size_bytes=POD_BYTES,
                                   precondition=lambda cur: cur is not None, partition=pod.node_name, grace_zero=True)
            elif pod.node_name is None:
                live = [n for n in self.nodes if n not in self.dead]
                if not live:
                    return
                node = live[self._rr % len(live)]
                self._rr += 1
                yield env.timeout(self.ready_delay_s)
                yield from w.write(self.client, "update", "pods", pod.key,
                                   pod.evolve(node_name=node, phase="Running", ready=True), size_bytes=POD_BYTES,
                                   precondition=lambda cur: cur is pod, partition=node)
            elif pod.phase == "Running" and pod.spec.duration_s is not None and pod.ready:
                yield env.timeout(pod.spec.duration_s)
                fail = pod.spec.annotations.get("kbench/fail-probability") == "1.0"
                phase = "Failed" if fail else "Succeeded"
                resp = yield from w.write(self.client, "update", "pods", pod.key,
                                          pod.evolve(phase=phase, ready=False), size_bytes=POD_BYTES,
                                          precondition=lambda cur: cur is pod, partition=pod.node_name)
                if resp.ok:
                    w.timeline.mark(pod.uid, "finished", env.now)
                    w.timeline.set_final(pod.uid, phase.lower())
        finally:
            self._busy.discard(pod.key)
        cur = self.informer.cache.get(pod.key)
        if cur is not None and cur is not pod:
            self._seen(cur)


def build(nodes=4, agent=True, **scenario):
    sc = scenario_from_dict({"name": "ctl", "seed": 7, "duration_s": 600,
                             "cluster": {"nodes": [{"count": nodes, "name_prefix": "n"}]}, **scenario})
    world = World(sc)
    world.add_nodes(nodes_from_groups(sc.cluster.nodes))
    world.plane.start()
    mgr = ControllerManager(world)
    mgr.start()
    fake = FakeAgent(world) if agent else None
    if fake:
        fake.start()
    driver = world.client("driver", "scheduler", "system:serviceaccount:default:driver", SA)
    return world, mgr, fake, driver


def put(world, driver, resource, key, data, at_s=0.0, verb="create"):
    """Create an object (an ApiObj with a uid), or update its data (a new generation)."""

    def bump(cur):
        new = cur.with_data(**data)
        new.generation = cur.generation + 1
        return new

    def go():
        if at_s:
            yield world.env.timeout(at_s)
        if verb == "create":
            resp = yield from world.write(driver, verb, resource, key, ApiObj(key, data, uid=world.new_uid()),
                                          size_bytes=2048)
        else:
            resp = yield from world.write(driver, verb, resource, key, size_bytes=2048, mutate=bump)
        assert resp.ok, resp
    world.env.process(go())


def replicasets_of(world, deployment):
    """The ReplicaSets a Deployment owns (``<deployment>-<pod-template-hash>``)."""
    return {k: v for k, v in world.plane.etcd.values("replicasets").items() if v.owner == f"Deployment/{deployment}"}


def created_times(world):
    t = world.timeline.column("created")
    return np.sort(t[~np.isnan(t)])


# ------------------------------------------------------------------------------------------ tests
def test_3000_replicas_are_created_no_faster_than_20_per_s_after_the_burst_of_30():
    world, mgr, _, driver = build(nodes=1, agent=False)
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=3000)}, at_s=1.0)
    world.env.run(until=200)
    t = created_times(world)
    assert len(t) == 3000 and world.counters["pods_created"] == 3000
    # Token bucket (C3): any run of k consecutive creations spans at least (k - 30) / 20 s.
    a = np.arange(len(t)) - 20.0 * t
    assert np.max(a - np.minimum.accumulate(a)) + 1 <= 30 + 1e-6
    assert t[29] - t[0] < 0.5  # the burst goes out at once
    rate = (len(t) - 30) / (t[-1] - t[29])
    assert 18.5 <= rate <= 20.0  # (status writes and Events share the bucket)
    (rs_key, rs), = replicasets_of(world, "default/web").items()
    assert rs.data["replicas"] == 3000 and rs_key == f"default/web-{rs.data['hash']}"
    keys = set(world.plane.etcd.values("pods"))
    assert f"{rs_key}-1" in keys and f"{rs_key}-3000" in keys


def test_each_controller_has_its_own_token_bucket():
    """Upstream each controller builds its own clientset, hence its own QPS 20 / burst 30 bucket
    (C3; clientbuilder ``ClientOrDie``): a Deployment and a Job scaled at once create pods at
    ~20/s each. One shared bucket would allow at most 30 + 20 t creations in t seconds for both."""
    world, mgr, _, driver = build(nodes=1, agent=False)
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=2000)}, at_s=1.0)
    put(world, driver, "jobs", "default/batch", {"spec": JobSpec(name="batch", completions=2000, parallelism=2000)},
        at_s=1.0)
    world.env.run(until=21.0)
    by = world.api.writes.by_component()
    rs, job = by["replicaset-controller"]["pods.create"], by["job-controller"]["pods.create"]
    span = world.env.now - 1.0
    assert rs + job > 30 + 20 * span  # more than one bucket could give
    for created in (rs, job):  # each within its own bucket, less its status writes and Events
        assert 0.85 * (30 + 20 * span) <= created <= 30 + 20 * span
    assert mgr.replicasets.client.limiter is not mgr.jobs.client.limiter
    assert mgr.replicasets.client.limiter is not mgr.client.limiter  # the shared informers' own


def test_replicaset_scales_down_and_deployment_deletion_deletes_pods():
    world, mgr, fake, driver = build()
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=10)})
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=4)},
        at_s=20, verb="update")
    world.env.run(until=40)
    pods = world.plane.etcd.values("pods")
    assert len(pods) == 4 and all(p.phase == "Running" for p in pods.values())
    (rs_key, rs), = replicasets_of(world, "default/web").items()
    assert rs.data["replicas"] == 4 and rs.data["status"][:3] == (4, 4, 4)  # replicas, ready, available
    assert world.plane.etcd.get("deployments", "default/web").data["status"]["available"] == 4

    def delete():
        yield from world.write(driver, "delete", "deployments", "default/web", size_bytes=2048)
    world.env.process(delete())
    world.env.run(until=60)
    assert world.plane.etcd.values("pods") == {}
    assert world.plane.etcd.get("replicasets", rs_key) is None
    assert mgr.gc.deleted == {"replicasets": 1, "pods": 4}  # the garbage collector's cascade (K7)
    # graceful: the replicaset controller's 6 and the GC's 4 deletions were finished by the (fake) kubelet
    assert world.api.writes.total(verb="delete", resource="pods", component="kubelet") == 10
    assert world.counters["pods_deleted"] == 10
    assert set(world.timeline.to_frame()["state"]) == {"deleted"}


def test_job_runs_parallelism_pods_until_completions():
    world, mgr, fake, driver = build()
    tmpl = PodTemplate(duration_s=Dist.const(10.0))
    put(world, driver, "jobs", "default/batch", {"spec": JobSpec(name="batch", completions=5, parallelism=2,
                                                                 template=tmpl)})
    world.env.run(until=120)
    status = world.plane.etcd.get("jobs", "default/batch").data
    assert status["complete"] and status["succeeded"] == 5 and status["failed"] == 0 and status["active"] == 0
    df = world.timeline.to_frame()
    assert len(df) == 5 and set(df["state"]) == {"succeeded"}
    # never more than 2 running at once
    starts, ends = np.sort(df["created_s"].to_numpy()), np.sort(df["finished_s"].to_numpy())
    for s in starts:
        assert np.sum(starts <= s) - np.sum(ends <= s) <= 2
    assert world.counters["jobs_complete"] == 1 and mgr.summary()["job"]["complete"] == 1


def test_job_fails_after_backoff_limit_with_doubling_delays():
    world, mgr, fake, driver = build()
    tmpl = PodTemplate(duration_s=Dist.const(1.0), fail_probability=1.0)
    put(world, driver, "jobs", "default/bad", {"spec": JobSpec(name="bad", completions=1, parallelism=1,
                                                               backoff_limit=2, template=tmpl)})
    world.env.run(until=200)
    status = world.plane.etcd.get("jobs", "default/bad").data
    assert status["condition"] == "Failed" and status["failed"] == 3 and status["succeeded"] == 0
    t = created_times(world)
    assert len(t) == 3  # 1 + backoffLimit 2 re-creations
    gaps = np.diff(t)
    # each pod runs ~1.5 s (bind 0.5 s + 1 s); the next waits 10 s, then 20 s after the failure
    assert 10.0 < gaps[0] < 13.5 and 20.0 < gaps[1] < 23.5
    assert world.counters["jobs_failed"] == 1


def test_job_durations_do_not_depend_on_other_jobs():
    def durations(extra):
        world, mgr, fake, driver = build()
        tmpl = PodTemplate(duration_s=Dist.exponential(5.0))
        if extra:
            put(world, driver, "jobs", "default/aaa", {"spec": JobSpec(name="aaa", completions=3, template=tmpl)})
        put(world, driver, "jobs", "default/zzz", {"spec": JobSpec(name="zzz", completions=3, template=tmpl)})
        world.env.run(until=5)
        pods = world.plane.etcd.values("pods")
        return [pods[k].spec.duration_s for k in sorted(pods) if k.startswith("default/zzz")]

    assert durations(False) == durations(True)


def test_node_whose_leases_stop_goes_not_ready_and_its_pods_are_evicted_after_300s():
    world, mgr, fake, driver = build(nodes=4)
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=8)})
    env = world.env
    env.run(until=95)
    victim = "n-0000"
    on_victim = {k for k, p in world.plane.etcd.values("pods").items() if p.node_name == victim}
    assert len(on_victim) == 2
    fake.dead.add(victim)  # its kubelet dies: no more leases
    last_renew = world.plane.etcd.get("leases", victim).data["renew_s"]
    not_ready_t = None
    while env.now < 200 and not_ready_t is None:
        env.run(until=env.now + 1)
        if not world.plane.etcd.get("nodes", victim).ready:
            not_ready_t = env.now
    assert not_ready_t is not None
    # upstream tryUpdateNodeHealth: the probe time is the first monitor pass that sees the renewal
    # (<= 5 s after it), NotReady the first pass more than the 50 s grace (F7) after that: 55-60 s
    assert last_renew + 55 < not_ready_t <= last_renew + 60 + 1
    node = world.plane.etcd.get("nodes", victim)
    assert {(t.key, t.effect) for t in node.taints} == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                        ("node.kubernetes.io/unreachable", "NoExecute")}
    assert world.counters["node_not_ready"] == 1 and world.counters["evictions"] == 0
    # MarkPodsNotReady: the victim's pods are no longer ready (endpoints drop them)
    assert not any(world.plane.etcd.get("pods", k).ready for k in on_victim)
    env.run(until=not_ready_t + 290)
    assert world.counters["evictions"] == 0
    env.run(until=not_ready_t + 320)
    assert world.counters["evictions"] == 2  # F8: 300 s after the NoExecute taint
    df = world.timeline.to_frame().set_index("pod")
    deleted = df.loc[sorted(on_victim), "deleted_s"].to_numpy()
    assert np.all((deleted > not_ready_t + 299) & (deleted < not_ready_t + 302))
    env.run(until=not_ready_t + 340)
    pods = world.plane.etcd.values("pods")
    assert len(pods) == 8 and all(p.node_name != victim and p.ready for p in pods.values())  # replaced
    # the kubelet comes back: Ready again, taints gone
    fake.dead.discard(victim)
    env.run(until=env.now + 20)
    node = world.plane.etcd.get("nodes", victim)
    assert node.ready and node.taints == ()


def test_no_eviction_when_every_node_stops_renewing():
    """All zones fully disrupted: the control plane more likely lost its network than every node."""
    world, mgr, fake, driver = build(nodes=3)
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=6)})
    world.env.run(until=50)
    fake.dead.update(fake.nodes)
    world.env.run(until=600)
    assert world.counters["node_not_ready"] == 3
    assert world.counters["evictions"] == 0
    assert all(("node.kubernetes.io/unreachable", "NoExecute") not in {(t.key, t.effect) for t in n.taints}
               for n in world.plane.etcd.values("nodes").values())


def test_same_seed_same_run():
    def run():
        world, mgr, fake, driver = build(nodes=3)
        tmpl = PodTemplate(duration_s=Dist.exponential(20.0))
        put(world, driver, "jobs", "default/j", {"spec": JobSpec(name="j", completions=12, parallelism=4,
                                                                 template=tmpl)})
        put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=30)})
        world.env.run(until=60)
        fake.dead.add(fake.nodes[0])
        world.env.run(until=500)
        return world.timeline.to_frame(), dict(world.counters)

    (a, ca), (b, cb) = run(), run()
    assert ca == cb and ca["evictions"] > 0
    assert a.equals(b)


def test_endpointslices_follow_readiness():
    world, mgr, fake, driver = build(nodes=4)
    put(world, driver, "services", "default/web", {"selector": {"app": "web"}})
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=250)}, at_s=1)
    env = world.env
    env.run(until=1.2)  # the first pods become ready at about 1.5 s
    slices = world.plane.etcd.values("endpointslices")
    assert set(slices) == {"default/web-0"} and slices["default/web-0"].data["endpoints"] == ()  # placeholder
    env.run(until=40)
    slices = world.plane.etcd.values("endpointslices")
    assert sorted(len(s.data["endpoints"]) for s in slices.values()) == [50, 100, 100]  # H4
    eps = [e for s in slices.values() for e in s.data["endpoints"]]
    assert len(set(eps)) == 250
    writes = world.counters["endpointslice_writes"]
    # ten pods of slice 1 become not ready: only that slice is rewritten
    victims = list(slices["default/web-1"].data["endpoints"][:10])

    def unready():
        for k in victims:
            p = world.plane.etcd.get("pods", k)
            yield from world.write(driver, "update", "pods", k, p.evolve(ready=False), size_bytes=POD_BYTES)
    t0 = env.now
    env.process(unready())
    env.run(until=60)
    after = world.plane.etcd.values("endpointslices")
    assert after["default/web-0"] is slices["default/web-0"] and after["default/web-2"] is slices["default/web-2"]
    assert len(after["default/web-1"].data["endpoints"]) == 90
    assert not set(victims) & set(after["default/web-1"].data["endpoints"])
    assert 1 <= world.counters["endpointslice_writes"] - writes <= 10
    assert after["default/web-1"].data["trigger_s"] > t0


def test_namespace_deletion_deletes_its_objects_and_quota_is_written():
    world, mgr, fake, driver = build(nodes=2, workload={"quota_namespaces": ["team"]})
    put(world, driver, "namespaces", "team", {"phase": "Active"})
    put(world, driver, "services", "team/api", {"selector": {"app": "api"}})
    put(world, driver, "deployments", "team/api", {"spec": DeploymentSpec(name="api", namespace="team", replicas=6)})
    put(world, driver, "deployments", "default/keep", {"spec": DeploymentSpec(name="keep", replicas=2)})
    env = world.env
    env.run(until=30)
    assert world.plane.etcd.get("resourcequotas", "team/quota").data == {"used_pods": 6}
    assert world.counters["quota_writes"] >= 6  # one admission charge per pod
    def delete_ns():  # the apiserver sets phase Terminating (the kubernetes finalizer keeps it)
        yield from world.write(driver, "delete", "namespaces", "team", size_bytes=512)
    env.process(delete_ns())
    # K8: the first pass 5 s later empties it but the pods are still terminating and Events keep
    # coming; the second pass (estimate / 2 + 1 = 16 s later) finds it empty and finalizes
    env.run(until=60)
    etcd = world.plane.etcd
    for resource in ("pods", "deployments", "services", "endpointslices", "replicasets", "resourcequotas",
                     "serviceaccounts", "configmaps"):
        assert not [k for k in etcd.values(resource) if k.startswith("team/")], resource
    assert etcd.get("namespaces", "team") is None and world.counters["namespaces_deleted"] == 1
    # K8: one DELETECOLLECTION per resource type that held something, none per object
    st = world.plane.stats
    assert st.total("count", verb="deletecollection", client="controller-manager") == mgr.namespaces.collections
    assert 6 <= mgr.namespaces.collections <= 13
    assert world.api.writes.total(verb="delete", component="namespace-controller") == 0
    assert len([k for k in etcd.values("pods") if k.startswith("default/")]) == 2  # others untouched


@pytest.mark.parametrize("sync", ["poll:2s"])
def test_controllers_work_with_a_polling_informer(sync):
    world, mgr, fake, driver = build(sync_strategies={"controller-manager": sync})
    put(world, driver, "deployments", "default/web", {"spec": DeploymentSpec(name="web", replicas=20)})
    world.env.run(until=30)
    pods = world.plane.etcd.values("pods")
    assert len(pods) == 20 and all(p.ready for p in pods.values())
    assert world.counters["pods_created"] == 20  # no duplicates from a stale cache


def _collection_latency(workers: int, n: int = 60):
    """Latency of a DELETECOLLECTION of ``n`` ConfigMaps, and of a single write sent while it runs."""
    world, mgr, fake, driver = build(nodes=1, agent=False, apiserver={"delete_collection_workers": workers})
    env = world.env
    for i in range(n):
        put(world, driver, "configmaps", f"team/cm-{i:03d}", {"v": i})
    env.run(until=5)
    assert len([k for k in world.plane.etcd.values("configmaps") if k.startswith("team/")]) == n
    writes0 = world.plane.etcd.stats.writes
    out = {}

    def collection():
        t0 = env.now
        req = world.request(driver, "deletecollection", "configmaps", "", None, 512, None, None, {})
        req.namespace = "team"
        resp = yield from driver.call(env, world.api, req)
        assert resp.ok and resp.objects == n
        out["collection_s"] = env.now - t0

    def single():
        yield env.timeout(0.002)  # while the collection runs
        t0 = env.now
        resp = yield from world.write(driver, "create", "configmaps", "default/other", ApiObj("default/other", {},
                                                                                               uid=world.new_uid()))
        assert resp.ok
        out["single_s"] = env.now - t0

    env.process(collection())
    env.process(single())
    env.run(until=30)
    assert not [k for k in world.plane.etcd.values("configmaps") if k.startswith("team/")]
    out["writes"] = world.plane.etcd.stats.writes - writes0
    return out


def test_deletecollection_deletes_one_item_at_a_time_per_worker():
    """Upstream Store.DeleteCollection: items go to --delete-collection-workers workers (default 1),
    each deleted as a DELETE of its own: one worker takes about n item round trips, four about a
    quarter of that, and a write sent meanwhile is not queued behind the whole collection."""
    one, four, twice = _collection_latency(1), _collection_latency(4), _collection_latency(1, n=120)
    assert 1.8 < twice["collection_s"] / one["collection_s"] < 2.2  # linear in the items (one batch was ~flat)
    assert one["collection_s"] > 2.0 * four["collection_s"]  # 4 workers: < 4x (group commit, fixed costs)
    assert one["single_s"] < one["collection_s"] / 10  # not queued behind the collection
    assert one["writes"] == 60 + 1 and twice["writes"] == 120 + 1  # each item its own etcd write, + the create
