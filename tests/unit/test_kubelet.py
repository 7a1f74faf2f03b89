"""Kubelet: image cache, serialized pulls, PLEG ticks, admission, deletion, faults (exact traces)."""

import math

import pytest

from kbench.cluster.kubelet.fleet import FAIL_ANNOTATION, IMAGE_BYTES_ANNOTATION, KubeletFleet
from kbench.cluster.objects.stored import GenericObj, PodObj
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.config.kubelet import KubeletConfig
from kbench.config.workload import PodTemplate
from kbench.errors import ConfigError
from kbench.workload.podspec import nodes_from_groups, pod_from_template

# Constant delays make every trace exact: sandbox 0.5 s, container start/stop 0.25 s, a pull
# 1 s + bytes / 1 MB/s, no admission delay, kubelets start at t = 0.
EXACT = {"admission_s": 0, "sandbox_s": 0.5, "container_start_s": 0.25, "container_stop_s": 0.25,
         "image_pull_latency_s": 1.0, "registry_bytes_per_s": 1e6, "start_spread_s": 0}


class Harness:
    """A world with ``nodes`` kubelets and a driver that creates pods already bound."""

    def __init__(self, nodes=1, *, kubelet=None, cpu=4.0, images=None, sync=None, seed=1):
        data = {"duration_s": 600, "kubelet": {**EXACT, **(kubelet or {})}}
        if sync:
            data["sync_strategies"] = {"kubelet": sync}
        self.w = w = World(scenario_from_dict(data), seed)
        w.add_nodes(nodes_from_groups([NodeGroup(count=nodes, cpu_cores=cpu, images=images or {})]))
        w.plane.start()
        self.fleet = KubeletFleet(w)
        self.fleet.start()
        self.nodes = list(w.node_specs)
        self.client = w.client("driver", "controller-manager", "system:kube-controller-manager",
                               ("system:authenticated",))
        self.client.limiter.qps = 0
        self.commits = []  # (key, op, phase, deleting, time) of every pod commit
        w.plane.etcd.subscribe(lambda rec: rec.resource == "pods" and self.commits.append(
            (rec.key, rec.op, getattr(rec.value, "phase", None), getattr(rec.value, "deleting", None), w.env.now)))

    def pod(self, name, *, at=0.0, node=0, image="img", image_bytes=None, duration=None, cpu=0.1,
            annotations=None):
        """Create pod ``name`` bound to node ``node`` at time ``at``; returns its uid."""
        w = self.w
        spec = pod_from_template(name, "default", PodTemplate(cpu_cores=cpu, image=image), duration_s=duration)
        if image_bytes is not None:
            spec.annotations[IMAGE_BYTES_ANNOTATION] = str(image_bytes)
        spec.annotations.update(annotations or {})
        key = f"default/{name}"
        uid = w.pod_uid(key)

        def go():
            yield w.env.timeout(at)
            yield from w.create_pod(self.client, PodObj(key, uid, spec, node_name=self.nodes[node]))
        w.env.process(go())
        return uid

    def delete_at(self, name, at):
        """Mark pod ``name`` deleting at time ``at`` (as a controller does)."""
        w = self.w

        def go():
            yield w.env.timeout(at)
            cur = w.plane.etcd.get("pods", f"default/{name}")
            yield from w.write(self.client, "update", "pods", cur.key, cur.evolve(deleting=True))
        w.env.process(go())

    def run(self, until):
        self.w.env.run(until=until)

    def t(self, phase, uid):
        return float(self.w.timeline.t[phase][uid])

    def state(self, uid):
        return self.w.timeline.to_frame().state[uid]

    def running_commit(self, name):
        return next(t for k, op, ph, _, t in self.commits if k == f"default/{name}" and ph == "Running")


def test_second_pod_with_the_same_image_skips_the_pull():
    h = Harness()
    a = h.pod("a", image_bytes=2e6)
    b = h.pod("b", at=10.0)
    h.run(20)
    assert h.t("image_pulled", a) - h.t("sandbox_ready", a) == pytest.approx(1.0 + 2.0)  # latency + 2 MB / 1 MB/s
    assert h.w.timeline.image_pull_s[a] == pytest.approx(3.0)
    assert h.t("image_pulled", b) == h.t("sandbox_ready", b)
    assert h.w.timeline.image_pull_s[b] == 0.0
    assert h.w.counters["image_pulls"] == 1


def test_pre_pulled_images_are_not_pulled():
    h = Harness(images={"img": 1e9})
    a = h.pod("a")
    h.run(10)
    assert h.t("image_pulled", a) == h.t("sandbox_ready", a)
    assert h.w.counters["image_pulls"] == 0


def test_serialized_pulls_queue_behind_each_other():
    h = Harness()
    a = h.pod("a", image="x", image_bytes=2e6)
    b = h.pod("b", image="y", image_bytes=1e6)
    h.run(20)
    # F10: one pull at a time: y starts when x is done (3 s) and takes 1 + 1 s.
    assert h.t("image_pulled", b) == pytest.approx(h.t("image_pulled", a) + 2.0)
    assert h.w.counters["image_pulls"] == 2


def test_parallel_pulls_overlap_when_not_serialized():
    h = Harness(kubelet={"serialize_image_pulls": False, "max_parallel_image_pulls": 2})
    a = h.pod("a", image="x", image_bytes=2e6)
    b = h.pod("b", image="y", image_bytes=1e6)
    h.run(20)
    assert h.t("image_pulled", b) - h.t("sandbox_ready", b) == pytest.approx(2.0)
    assert h.t("image_pulled", b) < h.t("image_pulled", a)


def test_containers_start_after_the_pull_and_running_is_written_at_the_next_pleg_tick():
    h = Harness(images={"img": 1})
    uid = h.pod("a", at=0.37)
    h.run(10)
    k = h.fleet.kubelets[h.nodes[0]]
    assert h.t("started", uid) == pytest.approx(h.t("image_pulled", uid) + 0.25)
    started = h.t("started", uid)
    tick = k.pleg_phase + math.ceil(started - k.pleg_phase)  # F4: relist every 1 s
    assert started <= tick < started + 1.0
    assert tick < h.running_commit("a") < tick + 0.05  # a PATCH through the apiserver: milliseconds
    assert h.state(uid) == "running"


def test_pleg_notice_arithmetic():
    h = Harness()
    k = h.fleet.kubelets[h.nodes[0]]
    k.pleg_phase = 0.3
    assert k._pleg_notice(1.0) == pytest.approx(1.3)
    assert k._pleg_notice(1.3) == pytest.approx(1.3)
    assert k._pleg_notice(1.31) == pytest.approx(2.3)
    ev = Harness(kubelet={"pleg": "evented"}).fleet
    assert next(iter(ev.kubelets.values()))._pleg_notice(1.0) == pytest.approx(1.001)  # F20


def test_a_pod_with_a_duration_succeeds_or_fails_and_releases_its_resources():
    h = Harness(images={"img": 1})
    ok = h.pod("ok", duration=5.0, cpu=1.0)
    bad = h.pod("bad", duration=5.0, cpu=1.0, annotations={FAIL_ANNOTATION: "1"})
    h.run(20)
    assert h.state(ok) == "succeeded" and h.state(bad) == "failed"
    assert h.t("started", ok) + 5.0 <= h.t("finished", ok) < h.t("started", ok) + 6.1
    k = h.fleet.kubelets[h.nodes[0]]
    assert k.npods == 0 and k.used["cpu"] == pytest.approx(0.0)
    assert h.w.counters["status_updates"] == 6  # Pending, Running and a terminal status each (J10)


def test_admission_rejects_a_pod_that_does_not_fit():
    h = Harness(cpu=1.0, images={"img": 1})
    a = h.pod("a", cpu=0.6)
    b = h.pod("b", cpu=0.6, at=1.0)
    h.run(10)
    assert h.state(a) == "running"
    assert h.state(b) == "failed" and not math.isnan(h.t("finished", b))
    assert math.isnan(h.t("sandbox_ready", b))
    assert h.fleet.reject_reasons == {"OutOfcpu": 1}


def test_a_deleting_pod_is_stopped_then_deleted():
    h = Harness(images={"img": 1})
    uid = h.pod("a")
    h.delete_at("a", 5.0)
    h.run(10)
    marked = next(t for k, op, ph, d, t in h.commits if d)
    deleted = next(t for k, op, ph, d, t in h.commits if op == "delete")
    # Watch delivery (ms), stop containers 0.25 s (F17), then the final delete (ms).
    assert marked + 0.25 < deleted < marked + 0.35
    assert h.t("deleted", uid) == pytest.approx(deleted, abs=0.01)
    assert h.state(uid) == "deleted"
    assert h.w.plane.etcd.get("pods", "default/a") is None
    assert h.w.counters["pods_deleted"] == 1
    assert h.fleet.kubelets[h.nodes[0]].pods == {}


def test_a_pod_deleted_while_starting_aborts_cleanly():
    h = Harness()
    uid = h.pod("a", image_bytes=5e6)  # pulling until about 6.5 s
    h.delete_at("a", 2.0)
    h.run(15)
    assert math.isnan(h.t("started", uid))
    assert h.state(uid) == "deleted"
    # the create, the status at admission (PATCH 1, J10), the deletion mark, then the terminal status
    # written before the final delete (a pod that never started ends Failed)
    assert [ph for k, op, ph, d, t in h.commits if op != "delete"] == ["Pending", "Pending", "Pending", "Failed"]
    k = h.fleet.kubelets[h.nodes[0]]
    assert k.npods == 0 and k.pods == {}


def test_a_pod_deleted_at_any_stage_ends_deleted_and_frees_the_node():
    h = Harness(nodes=1, kubelet={"runtime_parallelism": 64})
    uids = [h.pod(f"p{i}", image_bytes=1e6) for i in range(60)]
    for i in range(60):
        h.delete_at(f"p{i}", 0.02 + 0.08 * i)  # before seen, pulling, starting, at the PLEG tick, running
    h.run(20)
    states = h.w.timeline.to_frame().state
    assert all(states[u] == "deleted" for u in uids)
    k = h.fleet.kubelets[h.nodes[0]]
    assert k.pods == {} and k.npods == 0
    assert h.w.counters["pods_deleted"] == 60


def test_failed_node_stops_leases_and_pod_progress():
    h = Harness(nodes=2)
    h.run(30)
    uid = h.pod("a", at=30.0, image_bytes=5e6)
    h.w.env.timeout(31.0 - h.w.env.now).callbacks.append(lambda _e: h.fleet.fail(h.nodes[0]))
    renewals = []
    h.w.plane.etcd.subscribe(lambda rec: rec.resource == "leases" and renewals.append((rec.key, h.w.env.now)))
    h.run(90)
    assert not any(k == h.nodes[0] and t > 31.5 for k, t in renewals)
    assert sum(k == h.nodes[1] for k, t in renewals) >= 5
    assert math.isnan(h.t("started", uid))


def test_partition_holds_requests_until_healed():
    h = Harness(images={"img": 1})
    h.run(5)
    h.fleet.partition(h.nodes[0])
    uid = h.pod("a", at=6.0)
    h.run(20)
    assert math.isnan(h.t("kubelet_seen", uid))  # the watch is cut
    h.fleet.heal(h.nodes[0])
    h.run(40)
    assert h.state(uid) == "running"
    assert h.t("kubelet_seen", uid) >= 20.0
    assert h.w.counters["node_status_updates"] >= 1  # posted at once on heal


def test_lease_renewals_carry_the_renew_time():
    h = Harness(nodes=3)
    h.run(35)
    lease = h.w.plane.etcd.get("leases", h.nodes[0])
    cfg = h.fleet.cfg
    longest = cfg.lease_renew_interval_s * (1 + cfg.lease_renew_jitter) + cfg.lease_batch_tick_s  # 10.5 s
    assert isinstance(lease, GenericObj) and 35.0 - longest < lease.data["renew_s"] <= 35.0
    assert 9 <= h.w.counters["lease_renewals"] <= 11  # 3 nodes x 35 s / ~10.2 s


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError):
        KubeletConfig(pleg="fast")
    with pytest.raises(ConfigError):
        KubeletConfig(runtime_parallelism=0)
    assert KubeletConfig().image_pull_slots == 1  # F10
    assert KubeletConfig(serialize_image_pulls=False).image_pull_slots == 16
