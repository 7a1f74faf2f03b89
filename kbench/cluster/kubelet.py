"""Kubelets, one per node: the pod startup pipeline, status reporting and heartbeats (issue 4 item 3).

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

Heartbeats are real apiserver and etcd load: a lease ``update`` about every 10 s (F6) and a node
status GET + PATCH every 5 min (F5). One fleet process sends whatever is due at each instant, so an
idle node costs its heartbeats and an informer process blocked on its watch, nothing else; a lease
renewal is not even a process (``Apiserver.submit``: the same request path driven by callbacks), and
renewals due within one ``lease_batch_tick_s`` go out as one batch (``Apiserver.submit_many``).

Not modelled: the whole-second truncation of status timestamps (F16; timeline marks are exact),
readiness probes (ready with Running), init containers, volumes other than the token, image GC,
container restarts, and the status reason of an admission rejection (counted in
:attr:`KubeletFleet.reject_reasons`; ``PodObj`` has no reason field).
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections import Counter
from dataclasses import dataclass

import simpy

from kbench.cluster.clients import Client, TokenBucket
from kbench.cluster.objects import GPU, Node
from kbench.cluster.state import LEASE_BYTES, NODE_BYTES, POD_BYTES, GenericObj, NodeObj, PodObj
from kbench.configs.kubelet import KubeletConfig
from kbench.workload.podspec import FAIL_ANNOTATION

IMAGE_BYTES_ANNOTATION = "kbench/image-bytes"
"""Optional image size, bytes, for images no template or node lists."""
_LEASE, _STATUS = 0, 1


class _Abort(Exception):
    """The pod is being deleted or is gone, or the node failed: leave the startup path."""


@dataclass(eq=False)
class NodeClient(Client):
    """A kubelet's client: while ``gate`` is set (node failed or partitioned) requests wait on it."""

    gate: simpy.Event | None = None

    def call(self, env, api, req, *, rv=0):
        while self.gate is not None:
            yield self.gate
        resp = yield from Client.call(self, env, api, req, rv=rv)
        return resp

    def send(self, env, api, req, done) -> None:
        """:meth:`call` for a write without a process (``Apiserver.submit``): ``done(response)``."""
        if self.gate is not None:
            self.gate.callbacks.append(lambda _e: self.send(env, api, req, done))
            return
        wait = self.limiter.reserve(env.now)
        if wait > 0:
            env.timeout(wait).callbacks.append(lambda _e: api.submit(req, done))
        else:
            api.submit(req, done)


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

    def __init__(self, fleet: KubeletFleet, node: Node, index: int):
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


class KubeletFleet:
    """Every node's kubelet, and the one process that sends their heartbeats.

    Args:
        world: The run's world (the sync strategy of class ``kubelet`` comes from its scenario).
        config: Overrides ``world.scenario.kubelet``.

    Attributes:
        kubelets: Kubelets by node name.
        reject_reasons: Admission rejections by reason (``OutOfcpu``, ``OutOfpods``...).
    """

    def __init__(self, world, config: KubeletConfig | None = None):
        self.world, self.env = world, world.env
        self.cfg = cfg = config or world.scenario.kubelet
        self.rng = rng = world.stream("kubelet")
        # With batching, renewal jitter has its own stream: batching changes when and in which order
        # renewals finish, and that must not reshuffle the pod draws (failures, delays) of ``kubelet``.
        self._lease_rng = world.stream("kubelet/lease") if cfg.lease_batch_tick_s > 0 else rng
        self.admission = cfg.admission_s.sampler(rng)
        self.sandbox = cfg.sandbox_s.sampler(rng)
        self.container_start = cfg.container_start_s.sampler(rng)
        self.container_stop = cfg.container_stop_s.sampler(rng)
        self.pull_latency = cfg.image_pull_latency_s.sampler(rng)
        self.evented = cfg.evented_pleg_s.sampler(rng)
        self.kubelets: dict[str, Kubelet] = {}
        self._list: list[Kubelet] = []
        self.reject_reasons: Counter[str] = Counter()
        self._images = _template_images(world.scenario)
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = 0
        self._hb: simpy.Process | None = None
        self._hb_sleeping = False
        self._hb_next = math.inf

    def start(self) -> None:
        """Create a kubelet for every node in ``world.node_specs`` and start the heartbeats."""
        for name in list(self.world.node_specs):
            self.add_node(name)
        self._hb = self.env.process(self._heartbeats())

    def add_node(self, name: str) -> Kubelet:
        """Start the kubelet of node ``name`` (its spec must be in ``world.node_specs``)."""
        if name in self.kubelets:
            return self.kubelets[name]
        k = Kubelet(self, self.world.node_specs[name], len(self._list))
        self.kubelets[name] = k
        self._list.append(k)
        cfg, now = self.cfg, self.env.now
        k.informer.start(float(self.rng.random()) * cfg.start_spread_s)
        self._push(now + float(self.rng.random()) * cfg.lease_renew_interval_s, _LEASE, k)
        self._push(now + float(self.rng.random()) * cfg.node_status_report_s, _STATUS, k)
        return k

    # ----------------------------------------------------------------------------------- faults
    def fail(self, name: str) -> None:
        """Node ``name`` fails: no leases, no status, no progress, ever again."""
        k = self.kubelets[name]
        k.dead = True
        self._cut(k)
        for p in list(k.pods.values()):
            k._wake(p)

    def partition(self, name: str) -> None:
        """Node ``name`` loses the apiserver: pods keep running, no request leaves the node."""
        self._cut(self.kubelets[name])

    def heal(self, name: str) -> None:
        """End a partition: held requests go out, heartbeats resume, node status is posted."""
        k = self.kubelets[name]
        if k.dead or not k.down:
            return
        k.down = False
        gate, k.client.gate = k.client.gate, None
        gate.succeed()
        self._push(self.env.now, _STATUS, k)

    def _cut(self, k: Kubelet) -> None:
        k.down = True
        if k.client.gate is None:
            k.client.gate = self.env.event()
        w = getattr(k.informer, "_watcher", None)
        if w is not None and w.open:
            self.world.api.cache("pods").close(w, "partition")

    # ------------------------------------------------------------------------------ heartbeats
    def _push(self, due: float, kind: int, k: Kubelet) -> None:
        tick = self.cfg.lease_batch_tick_s
        if kind == _LEASE and tick > 0:  # renewals due within one tick go out together
            n = math.ceil(due / tick)
            due = n * tick if n * tick >= due else (n + 1) * tick
        heapq.heappush(self._heap, (due, self._seq, kind, k.index))
        self._seq += 1
        if due < self._hb_next and self._hb_sleeping:
            self._hb_sleeping = False
            self._hb.interrupt("earlier")

    def _heartbeats(self):
        env, heap, cfg = self.env, self._heap, self.cfg
        batched = cfg.lease_batch_tick_s > 0
        while True:
            now = env.now
            leases: list[Kubelet] = []
            while heap and heap[0][0] <= now:
                _, _, kind, i = heapq.heappop(heap)
                k = self._list[i]
                if k.dead:
                    continue
                if kind == _LEASE:
                    if batched:
                        leases.append(k)
                    else:
                        self._renew(k)
                else:
                    self._push(now + cfg.node_status_report_s, _STATUS, k)
                    if not k.down:
                        env.process(self._post_status(k))
            if len(leases) > 1:
                self._renew_batch(leases, 0, cfg.lease_retry_initial_s)
            elif leases:
                self._renew(leases[0])
            self._hb_next = heap[0][0] if heap else math.inf
            self._hb_sleeping = True
            with contextlib.suppress(simpy.Interrupt):  # an earlier heartbeat was pushed
                yield env.timeout(self._hb_next - now) if heap else env.event()
            self._hb_sleeping = False

    def _renew(self, k: Kubelet) -> None:
        """One lease renewal (F6: update of ``leases/<node>``, retried with backoff).

        No process: the update goes through ``World.send`` (``Apiserver.submit``), the retries
        through timeout callbacks; the requests, events and their order are those of a process
        running the same loop (the golden tests pin this), one process start and end fewer.
        """
        self._renew_try(k, 0, self.cfg.lease_retry_initial_s, self.cfg.lease_retries if not k.down else 0)

    def _renew_try(self, k: Kubelet, attempt: int, delay: float, attempts: int) -> None:
        env, cfg, w = self.env, self.cfg, self.world
        if attempt >= attempts:
            self._renewed(k)
            return

        def done(resp) -> None:
            if resp.ok:
                w.counters["lease_renewals"] += 1
                self._renewed(k)
                return
            w.counters["lease_failures"] += 1
            if attempt + 1 < cfg.lease_retries:
                nxt = min(2 * delay, cfg.lease_retry_max_s)
                env.timeout(delay).callbacks.append(lambda _e: self._renew_try(k, attempt + 1, nxt, attempts))
            else:
                self._renewed(k)

        w.send(k.client, "update", "leases", k.name, GenericObj(k.name, {"renew_s": env.now}), done,
               size_bytes=LEASE_BYTES)

    def _renew_batch(self, ks: list[Kubelet], attempt: int, delay: float) -> None:
        """Attempt ``attempt`` of the renewals of ``ks`` as one batch (``World.send_many``).

        A node that is cut off (its requests wait on the gate) or whose client must wait for its
        rate limiter leaves the batch and takes the per-lease path (:meth:`_renew_try`), so
        partitions, node failures and client QPS behave as without batching. Every member shares
        the batch's outcome and, on failure, its retry.
        """
        env, cfg, w = self.env, self.cfg, self.world
        now = env.now
        writes = []
        for k in ks:
            if attempt == 0 and k.down:  # as _renew: no attempt from a node cut off
                self._renewed(k)
                continue
            c = k.client
            if c.gate is not None:
                self._renew_try(k, attempt, delay, cfg.lease_retries)
                continue
            if c.limiter.reserve(now) > 0:
                c.limiter.tokens += 1.0  # give the token back: the per-lease path reserves it again
                self._renew_try(k, attempt, delay, cfg.lease_retries)
                continue
            writes.append((k.name, GenericObj(k.name, {"renew_s": now})))
        if not writes:
            return

        def done(names, resp) -> None:
            group = [self.kubelets[n] for n in names]
            if resp.ok:
                w.counters["lease_renewals"] += len(group)
                for k in group:
                    self._renewed(k)
                return
            w.counters["lease_failures"] += len(group)
            if attempt + 1 < cfg.lease_retries:
                nxt = min(2 * delay, cfg.lease_retry_max_s)
                env.timeout(delay).callbacks.append(lambda _e: self._renew_batch(group, attempt + 1, nxt))
            else:
                for k in group:
                    self._renewed(k)

        w.send_many(self.kubelets[writes[0][0]].client, writes, "update", "leases", done, size_bytes=LEASE_BYTES)

    def _renewed(self, k: Kubelet) -> None:
        """The renewal is over (renewed or given up): schedule the next one."""
        if not k.dead:
            cfg = self.cfg
            jitter = 1.0 + cfg.lease_renew_jitter * float(self._lease_rng.random())
            self._push(self.env.now + cfg.lease_renew_interval_s * jitter, _LEASE, k)

    def _post_status(self, k: Kubelet):
        """Full node status (F5): GET the Node from the cache, PATCH it (retried on conflict)."""
        w = self.world
        for _ in range(5):
            resp = yield from w.get(k.client, "nodes", k.name, size_bytes=NODE_BYTES)
            cur = resp.items if resp.ok else None
            if not isinstance(cur, NodeObj) or k.down:
                return
            resp = yield from w.write(k.client, "patch", "nodes", k.name, cur.evolve(ready=True),
                                      size_bytes=NODE_BYTES, precondition=lambda v, c=cur: v is c)
            if resp.ok:
                w.counters["node_status_updates"] += 1
                return
            if resp.code != 409:
                return

    # --------------------------------------------------------------------------------- helpers
    def retry_delay(self, resp, attempt: int) -> float:
        """After a 429 the Retry-After (A28); after other errors doubling up to the status sync (F16)."""
        cfg = self.cfg
        if resp.code == 429:
            return cfg.retry_after_s
        return min(cfg.retry_after_s * 2.0**attempt, cfg.status_retry_s)

    def image_size(self, image: str, spec) -> float:
        """Bytes of ``image``: the pod's annotation, else the workload templates, else the default."""
        ann = spec.annotations.get(IMAGE_BYTES_ANNOTATION)
        if ann is not None:
            return float(ann)
        return self._images.get(image, self.cfg.default_image_bytes)


def _template_images(scenario) -> dict[str, float]:
    """Image sizes from every pod template of the scenario's workload."""
    wl = scenario.workload
    out: dict[str, float] = {}
    for spec in (*wl.deployments, *wl.jobs, *wl.pods):
        out.setdefault(spec.template.image, float(spec.template.image_bytes))
    return out
