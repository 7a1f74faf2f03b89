"""One node's kubelet: its pod informer, the pod startup pipeline, admission and node resources.

A pod bound to the node goes through (F4; each delay a named distribution in
:class:`~kbench.configs.kubelet.KubeletConfig`)::

    watch delivery (kubelet_seen) -> admission (resources fit, else status Failed)
    -> TokenRequest (create serviceaccounts/token: the projected token volume)
    -> RunPodSandbox incl. CNI (sandbox_ready) -> image pulls: per-node cache, serialized,
       registry QPS (image_pulled) -> create + start containers (started)
    -> PLEG notices at the node's next 1 s relist tick -> status PATCH Running, ready
       (final state running) -> run spec.duration_s -> exit noticed at the next relist
    -> status Succeeded / Failed (finished)

A pod whose value arrives with ``deleting=True`` has its containers stopped, then the kubelet
sends the final ``delete`` (deleted); a pod deleted while starting aborts at once.
"""

from __future__ import annotations

import heapq
import math

import simpy

from kbench.cluster.clients import TokenBucket
from kbench.cluster.nodeclient import NodeClient
from kbench.cluster.objects import GPU, Node
from kbench.cluster.state import POD_BYTES, PodObj
from kbench.workload.podspec import FAIL_ANNOTATION


class _Abort(Exception):
    """The pod is being deleted or is gone, or the node failed: leave the startup path."""


class _Pod:
    """The kubelet's record of one pod (its latest value and how far it got)."""

    __slots__ = ("key", "uid", "obj", "proc", "sleeping", "deleting", "gone", "sandbox", "stopped",
                 "admitted", "done", "terminating", "req", "share")

    def __init__(self, obj: PodObj):
        self.key, self.uid, self.obj = obj.key, obj.uid, obj
        self.proc: simpy.Process | None = None
        self.sleeping = self.deleting = self.gone = self.sandbox = self.stopped = False
        self.admitted = self.done = self.terminating = False
        self.req: dict[str, float] = {}
        self.share = 0  # GPU-share thousandths held


class Kubelet:
    """One node's kubelet: informer of its pods, admission state, image cache, runtime slots.

    Args:
        fleet: The fleet (shared config, samplers, heartbeats).
        node: The node spec.
        index: Position in the fleet.
    """

    def __init__(self, fleet, node: Node, index: int):
        self.fleet, self.node, self.name, self.index = fleet, node, node.name, index
        w = fleet.world
        cc = w.scenario.client_class("kubelet")
        self.client = NodeClient(f"kubelet-{node.name}", "kubelet", f"system:node:{node.name}",
                                 ("system:nodes", "system:authenticated"), TokenBucket(cc.qps, cc.burst), cc)
        self.informer = w.informer(self.client, "pods", partition=node.name, object_bytes=POD_BYTES,
                                   on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete)
        self.pods: dict[str, _Pod] = {}
        self.used: dict[str, float] = {}
        self.npods = 0
        self.gpu_milli = 0
        self.pulled: dict[str, float] = {}  # image -> time present (pulled or being pulled)
        self._pull_slots: list[float] | None = None
        self._pull_qps: TokenBucket | None = None
        self._runtime: list[float] | None = None
        self.pleg_phase = float(fleet.rng.random()) * fleet.cfg.pleg_relist_period_s
        self.down = False  # partitioned or failed: no API traffic
        self.dead = False  # failed: nothing runs

    # ------------------------------------------------------------------------------- informer
    def _on_add(self, new: PodObj) -> None:
        if self.dead:
            return
        p = self.pods.get(new.key)
        if p is not None and p.uid == new.uid:
            self._on_update(p.obj, new)
            return
        p = self.pods[new.key] = _Pod(new)
        tl = self.fleet.world.timeline
        tl.mark(new.uid, "kubelet_seen", self.fleet.env.now)
        if tl.node[new.uid] < 0:
            tl.set_node(new.uid, self.name)  # created bound: no scheduler recorded the node
        if new.deleting:
            self._delete_requested(p)
        elif new.finished:
            p.done = True  # terminal before we saw it (relist): nothing runs
        else:
            p.proc = self.fleet.env.process(self._worker(p))

    def _on_update(self, _old: PodObj, new: PodObj) -> None:
        if self.dead:
            return
        p = self.pods.get(new.key)
        if p is None or p.uid != new.uid:
            self._on_add(new)
            return
        p.obj = new
        if new.deleting and not p.deleting:
            self._delete_requested(p)

    def _on_delete(self, old: PodObj) -> None:
        p = self.pods.get(old.key)
        if p is None or p.uid != old.uid:
            return
        p.gone = True
        del self.pods[old.key]
        if p.proc is not None:
            self._wake(p)
        else:
            self._release(p)

    def _delete_requested(self, p: _Pod) -> None:
        p.deleting = True
        if p.proc is not None:
            self._wake(p)
        elif not p.terminating:
            p.proc = self.fleet.env.process(self._terminate(p))

    @staticmethod
    def _wake(p: _Pod) -> None:
        if p.sleeping and p.proc is not None and p.proc.is_alive:
            p.sleeping = False
            p.proc.interrupt("wake")

    # ------------------------------------------------------------------------------ pod worker
    def _sleep(self, p: _Pod, delay: float | None):
        """Wait ``delay`` seconds (None: until woken), interruptible by deletion.

        Raises:
            _Abort: The pod is already deleting or gone, or the node failed.
        """
        self._check(p)
        if delay is not None and delay <= 0:
            return
        p.sleeping = True
        try:
            yield self.fleet.env.timeout(delay) if delay is not None else self.fleet.env.event()
        finally:
            p.sleeping = False

    def _check(self, p: _Pod) -> None:
        if p.deleting or p.gone or self.dead:
            raise _Abort

    def _worker(self, p: _Pod):
        try:
            started = yield from self._startup(p)
            if started:
                yield from self._run(p)
        except (simpy.Interrupt, _Abort):
            pass
        p.proc = None
        if self.dead:
            return
        if p.deleting and not p.gone:
            yield from self._terminate(p)
        elif p.gone or p.done:
            self._release(p)

    def _startup(self, p: _Pod):
        f, env, tl = self.fleet, self.fleet.env, self.fleet.world.timeline
        yield from self._sleep(p, f.admission())
        self._check(p)
        reason = self._admit(p)
        if reason:
            f.reject_reasons[reason] += 1
            f.world.counters["admission_rejected"] += 1
            yield from self._finish(p, "Failed")
            return False
        if f.cfg.token_request:
            yield from self._token_request(p)
            self._check(p)
        p.sandbox = True
        yield from self._runtime_op(p, f.sandbox())
        tl.mark(p.uid, "sandbox_ready", env.now)
        self._check(p)
        t0 = env.now
        ready = self._ensure_images(p.obj.spec)
        if ready > t0:
            yield from self._sleep(p, ready - t0)
            tl.image_pull_s[p.uid] = env.now - t0
        tl.mark(p.uid, "image_pulled", env.now)
        self._check(p)
        for _ in p.obj.spec.containers:
            yield from self._runtime_op(p, f.container_start())
        tl.mark(p.uid, "started", env.now)
        self._check(p)
        yield from self._sleep(p, self._pleg_notice(env.now) - env.now)
        self._check(p)
        if (yield from self._status(p, "Running", True)):
            tl.set_final(p.uid, "running")
        return True

    def _run(self, p: _Pod):
        f, env = self.fleet, self.fleet.env
        duration = p.obj.spec.duration_s
        started = f.world.timeline.t["started"][p.uid]
        yield from self._sleep(p, None if duration is None else started + duration - env.now)
        self._check(p)
        yield from self._sleep(p, self._pleg_notice(env.now) - env.now)
        self._check(p)
        prob = float(p.obj.spec.annotations.get(FAIL_ANNOTATION, 0) or 0)
        failed = prob > 0 and float(f.rng.random()) < prob
        p.stopped = True  # the containers exited
        yield from self._finish(p, "Failed" if failed else "Succeeded")

    def _finish(self, p: _Pod, phase: str):
        """Write the terminal status; on commit mark ``finished`` and the final state."""
        p.done = True
        self._release(p)
        if (yield from self._status(p, phase, False)):
            tl = self.fleet.world.timeline
            tl.mark(p.uid, "finished", self.fleet.env.now)
            tl.set_final(p.uid, phase.lower())

    def _terminate(self, p: _Pod):
        """Stop the containers of a deleting pod, then send the final delete."""
        f, env = self.fleet, self.fleet.env
        p.terminating = True
        if p.sandbox and not p.stopped:
            p.stopped = True
            yield env.timeout(self._runtime_slot(f.container_stop()) - env.now)
        self._release(p)
        attempt = 0
        while not (p.gone or self.dead):
            resp = yield from f.world.write(self.client, "delete", "pods", p.key, size_bytes=POD_BYTES,
                                            precondition=lambda cur, u=p.uid: cur is not None and cur.uid == u,
                                            partition=self.name)
            if resp.ok:
                f.world.timeline.mark(p.uid, "deleted", env.now)
                f.world.timeline.set_final(p.uid, "deleted")
                f.world.counters["pods_deleted"] += 1
                break
            if resp.code == 409:
                break
            yield env.timeout(f.retry_delay(resp, attempt))
            attempt += 1
        if self.pods.get(p.key) is p:
            del self.pods[p.key]
        p.proc = None

    def _status(self, p: _Pod, phase: str, ready: bool):
        """PATCH the pod's status; True when it committed, False on 409 (deleting or gone)."""
        f = self.fleet
        attempt = 0
        while True:
            value = p.obj.evolve(phase=phase, ready=ready)
            resp = yield from f.world.write(
                self.client, "patch", "pods", p.key, value, size_bytes=POD_BYTES, partition=self.name,
                precondition=lambda cur, u=p.uid: cur is not None and cur.uid == u and not cur.deleting)
            if resp.ok:
                p.obj = value
                f.world.counters["status_updates"] += 1
                return True
            if resp.code == 409 or self.dead:
                return False
            yield from self._sleep(p, f.retry_delay(resp, attempt))
            attempt += 1
            if self.dead or p.gone:
                return False

    def _token_request(self, p: _Pod):
        f = self.fleet
        attempt = 0
        while True:
            resp = yield from f.world.write(self.client, "create", "serviceaccounts/token",
                                            f"{p.obj.spec.namespace}/default", None, size_bytes=1024)
            if resp.ok:
                f.world.counters["token_requests"] += 1
                return
            yield from self._sleep(p, f.retry_delay(resp, attempt))
            attempt += 1
            self._check(p)

    # ------------------------------------------------------------------------- node resources
    def _admit(self, p: _Pod) -> str:
        """Admit ``p`` if its requests fit what admitted pods left; else the upstream reason."""
        spec, alloc = p.obj.spec, self.node.allocatable
        if self.npods + 1 > alloc.get("pods", math.inf):
            return "OutOfpods"
        req = spec.requests()
        for r, v in req.items():
            if v > 0 and self.used.get(r, 0.0) + v > alloc.get(r, 0.0) + 1e-9:
                return f"OutOf{r}"
        share = spec.gpu_total_milli if spec.gpu_count and GPU not in req else 0
        if share and self.gpu_milli + share > self.node.gpu_count * 1000:
            return f"OutOf{GPU}"
        for r, v in req.items():
            self.used[r] = self.used.get(r, 0.0) + v
        self.npods += 1
        self.gpu_milli += share
        p.req, p.share, p.admitted = req, share, True
        return ""

    def _release(self, p: _Pod) -> None:
        if not p.admitted:
            return
        p.admitted = False
        self.npods -= 1
        self.gpu_milli -= p.share
        for r, v in p.req.items():
            self.used[r] -= v

    def _runtime_slot(self, duration: float) -> float:
        """Book ``duration`` on the node's container runtime (FIFO slots); returns the end time."""
        now = self.fleet.env.now
        slots = self._runtime
        if slots is None:
            slots = self._runtime = [now] * self.fleet.cfg.runtime_parallelism
        end = max(now, heapq.heappop(slots)) + duration
        heapq.heappush(slots, end)
        return end

    def _runtime_op(self, p: _Pod, duration: float):
        yield from self._sleep(p, self._runtime_slot(duration) - self.fleet.env.now)

    def _ensure_images(self, spec) -> float:
        """Start the pulls ``spec`` needs; returns when every image is present (F10, F11)."""
        f = self.fleet
        now = f.env.now
        ready = now
        for image in spec.images():
            if image in self.node.images:
                continue
            t = self.pulled.get(image)
            if t is None:
                if self._pull_slots is None:
                    self._pull_slots = [now] * f.cfg.image_pull_slots
                    self._pull_qps = TokenBucket(f.cfg.registry_pull_qps, f.cfg.registry_burst)
                    self._pull_qps.t = now
                start = max(now + self._pull_qps.reserve(now), heapq.heappop(self._pull_slots))
                t = start + f.pull_latency() + f.image_size(image, spec) / f.cfg.registry_bytes_per_s
                heapq.heappush(self._pull_slots, t)
                self.pulled[image] = t
                f.world.counters["image_pulls"] += 1
            ready = max(ready, t)
        return ready

    def _pleg_notice(self, t: float) -> float:
        """When the kubelet notices a container state change at ``t`` (F4, F16, F20)."""
        cfg = self.fleet.cfg
        if cfg.pleg == "evented":
            return t + self.fleet.evented()
        period, phase = cfg.pleg_relist_period_s, self.pleg_phase
        return max(t, phase + math.ceil((t - phase) / period - 1e-9) * period)
