"""One node's kubelet: its pod informer and the pod startup pipeline, as a chain of callbacks.

A pod bound to the node goes through (F4; each delay a named distribution in
:class:`~kbench.config.kubelet.KubeletConfig`)::

    watch delivery (kubelet_seen) -> admission (resources fit, else status Failed)
    -> status Pending (PATCH 1, J10) -> TokenRequest (create serviceaccounts/token, stores
       nothing: J12) -> RunPodSandbox incl. CNI (sandbox_ready) -> image pulls: per-node cache,
       serialized, registry QPS (image_pulled; Events Pulling, Pulled) -> create + start
       containers (started; Events Created, Started) -> PLEG notices at the node's next 1 s
       relist tick -> status Running, ready unless a readiness probe (PATCH 2; final state
       running when it commits) -> [readiness probe passes: PATCH 3] -> run spec.duration_s
    -> exit noticed at the next relist -> status Succeeded / Failed (finished)

Status writes go through the node's status manager (:mod:`kbench.cluster.kubelet.status`), which
the pod worker never waits for. A pod whose value arrives with ``deleting=True`` gets a status sync
(a GET), has its containers stopped (Event Killing; at most its termination grace period), then
the status manager writes its terminal phase and sends the final DELETE (deleted); a pod deleted
while starting aborts at once.

No pod is a SimPy process (issue 8). Each step is a method taking the pod; a wait is a timeout
whose callback is the pod record itself (:meth:`_Pod.__call__` runs the pod's next step), and API
writes take the process-free path of :class:`~kbench.cluster.kubelet.nodeclient.NodeClient`. The chain
keeps the events, their order and the random draws of a process per pod (the pod's worker) exactly:
it starts with the event a new process would start with (:func:`~kbench.simkernel.first_step`),
and a deletion or node failure wakes a sleeping pod with an urgent event, as ``Process.interrupt``
does. What is saved is the process's end event and the generator frames of every resume.
"""

from __future__ import annotations

import simpy

from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.kubelet.nodeclient import NodeClient
from kbench.cluster.kubelet.noderesources import NodeResources
from kbench.cluster.kubelet.status import StatusManager
from kbench.cluster.objects import GPU, Node
from kbench.cluster.objects.stored import POD_BYTES, PodObj
from kbench.simkernel import URGENT, first_step, trigger_in
from kbench.workload.podspec import FAIL_ANNOTATION, GRACE_ANNOTATION, PROBE_ANNOTATION

CONTAINER = "spec.containers{main}"
"""fieldPath of the kubelet's container Events (kbench pods have one container, ``main``)."""


class _Pod:
    """The kubelet's record of one pod (its latest value and how far it got).

    Calling it (as the callback of the event its worker waits on) runs its next step.
    """

    __slots__ = ("key", "uid", "obj", "kubelet", "proc", "sleeping", "deleting", "gone", "sandbox", "stopped",
                 "admitted", "done", "terminating", "req", "share", "next", "wait", "t0", "left", "attempt",
                 "want", "api_status", "sm_then", "sm_delete", "started", "phase")

    def __init__(self, obj: PodObj, kubelet: Kubelet):
        self.key, self.uid, self.obj, self.kubelet = obj.key, obj.uid, obj, kubelet
        self.proc = False  # a worker or a terminator (started on its own) is running
        self.sleeping = self.deleting = self.gone = self.sandbox = self.stopped = False
        self.admitted = self.done = self.terminating = False
        self.req: dict[str, float] = {}
        self.share = 0  # GPU-share thousandths held
        self.next = None  # the step to run when the awaited event fires: f(kubelet, pod)
        self.wait: simpy.Event | None = None  # the event of an interruptible sleep
        self.t0 = 0.0  # image pull start, s
        self.left = 0  # containers still to start
        self.attempt = 0  # of the current request
        self.want = self.api_status = None  # (phase, ready): set in memory / last written (status manager)
        self.sm_then: list | None = None  # status manager callbacks waiting for a PATCH
        self.sm_delete = False  # delete once the terminal status is written
        self.started = False  # containers started (Killing on deletion)
        self.phase = ""  # terminal phase the kubelet decided

    def __call__(self, _event) -> None:
        self.sleeping = False
        self.wait = None
        self.next(self.kubelet, self)

    def interrupted(self, _event) -> None:
        """A deletion or node failure woke the sleeping worker: it leaves the startup path."""
        ev, self.wait = self.wait, None
        if ev is None:
            return
        if ev.callbacks is not None:
            ev.callbacks.remove(self)
        self.kubelet._end(self)


class Kubelet(NodeResources, StatusManager):
    """One node's kubelet: informer of its pods, admission state, image cache, runtime slots,
    status manager.

    Args:
        fleet: The fleet (shared config, samplers, heartbeats).
        node: The node spec.
        index: Position in the fleet.
    """

    def __init__(self, fleet, node: Node, index: int):
        self.name, self.index = node.name, index
        w = fleet.world
        cc = w.scenario.client_class("kubelet")
        self.client = NodeClient(f"kubelet-{node.name}", "kubelet", f"system:node:{node.name}",
                                 ("system:nodes", "system:authenticated"), TokenBucket(cc.qps, cc.burst), cc)
        self.informer = w.informer(self.client, "pods", partition=node.name, object_bytes=POD_BYTES,
                                   on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete)
        self.pods: dict[str, _Pod] = {}
        NodeResources.__init__(self, fleet, node)
        self.world, self.env, self.timeline = w, fleet.env, w.timeline
        self.down = False  # partitioned or failed: no API traffic
        self.dead = False  # failed: nothing runs
        self.upstream = fleet.cfg.status_writes == "upstream"
        self._init_status()

    # ------------------------------------------------------------------------------- informer
    def _on_add(self, new: PodObj) -> None:
        if self.dead:
            return
        p = self.pods.get(new.key)
        if p is not None and p.uid == new.uid:
            self._on_update(p.obj, new)
            return
        p = self.pods[new.key] = _Pod(new, self)
        tl = self.timeline
        tl.mark(new.uid, "kubelet_seen", self.env.now)
        if tl.node[new.uid] < 0:
            tl.set_node(new.uid, self.name)  # created bound: no scheduler recorded the node
        if new.deleting:
            self._delete_requested(p)
        elif new.finished:
            p.done = True  # terminal before we saw it (relist): nothing runs
        elif new.phase == "Running" and new.uid in self.world.existing_uids:
            self._adopt(p)
        else:
            p.proc = True
            p.next = Kubelet._begin
            first_step(self.env, p)

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
        self.fleet.forget(p, self.name)
        if p.proc:
            self._wake(p)
        else:
            self._release(p)

    def _adopt(self, p: _Pod) -> None:
        """A pod already running before the run (a cluster dump's): its containers run on. The
        kubelet holds its resources and images and refreshes its token; it writes nothing now."""
        spec = p.obj.spec
        self._reserve(p, spec.requests(), spec.gpu_total_milli if spec.gpu_count and GPU not in spec.requests()
                      else 0)
        p.sandbox = p.started = True
        p.api_status = p.want = (p.obj.phase, p.obj.ready)
        now = self.env.now
        for image in spec.images():
            self.pulled.setdefault(image, now)
        if self.fleet.cfg.token_request:
            self.fleet.tokens.adopt(self, p)

    def _delete_requested(self, p: _Pod) -> None:
        p.deleting = True
        if self.upstream and p.api_status is not None:
            self.resync_status(p)  # SetPodStatus forces a sync of a pod with a deletion timestamp
        if p.proc:
            self._wake(p)
        elif not p.terminating:
            p.proc = True
            first_step(self.env, lambda _e: self._terminate(p))

    def _wake(self, p: _Pod) -> None:
        """Wake a sleeping worker, as ``Process.interrupt`` would (an urgent event now)."""
        if p.sleeping and p.proc:
            p.sleeping = False
            ev = simpy.Event(self.env)
            ev.callbacks.append(p.interrupted)
            trigger_in(self.env, ev, 0.0, priority=URGENT)

    # ------------------------------------------------------------------------------ pod worker
    def _sleep(self, p: _Pod, delay: float | None, nxt) -> None:
        """Run ``nxt(self, p)`` after ``delay`` seconds (None: never), unless woken (deletion,
        node failure); at once when ``delay <= 0``. A pod already deleting or gone, or a failed
        node, leaves the startup path (:meth:`_end`) instead."""
        if p.deleting or p.gone or self.dead:
            self._end(p)
            return
        if delay is not None and delay <= 0:
            nxt(self, p)
            return
        p.sleeping = True
        p.next = nxt
        ev = p.wait = self.env.timeout(delay) if delay is not None else self.env.event()
        ev.callbacks.append(p)

    def _aborts(self, p: _Pod) -> bool:
        """True (and the startup path is left) when the pod is deleting or gone or the node failed."""
        if p.deleting or p.gone or self.dead:
            self._end(p)
            return True
        return False

    def _end(self, p: _Pod) -> None:
        """The worker is done (or left the startup path): terminate, or release what it held."""
        p.proc = False
        if self.dead:
            return
        if p.deleting and not p.gone:
            self._terminate(p)
        elif p.gone or p.done:
            self._release(p)

    def _begin(self, p: _Pod) -> None:
        self._sleep(p, self.fleet.admission(), Kubelet._admitted)

    def _admitted(self, p: _Pod) -> None:
        if self._aborts(p):
            return
        reason = self._admit(p)
        if reason:
            f = self.fleet
            f.reject_reasons[reason] += 1
            self.world.counters["admission_rejected"] += 1
            f.event(p, "Warning", reason, f"Node didn't have enough resource: {reason[5:]}", self.name, "")
            self._finish(p, "Failed")
            return
        if self.upstream:
            self.set_status(p, "Pending", False)  # PATCH 1 (J10): hostIP, startTime, conditions
        if self.fleet.cfg.token_request:
            p.attempt = 0
            self._token_request(p)
        else:
            self._sandbox(p)

    def _token_request(self, p: _Pod) -> None:
        def done(resp) -> None:
            if resp.ok:
                self.world.counters["token_requests"] += 1
                self.fleet.tokens.schedule(self, p)
                if not self._aborts(p):
                    self._sandbox(p)
            else:
                self._sleep(p, self.fleet.retry_delay(resp, p.attempt), Kubelet._token_retry)

        self.client.write(self.world, "create", "serviceaccounts/token", f"{p.obj.spec.namespace}/default", None,
                          done, size_bytes=1024, component="kubelet")

    def _token_retry(self, p: _Pod) -> None:
        p.attempt += 1
        if not self._aborts(p):
            self._token_request(p)

    def _sandbox(self, p: _Pod) -> None:
        p.sandbox = True
        self._sleep(p, self._runtime_slot(self.fleet.sandbox()) - self.env.now, Kubelet._sandbox_ready)

    def _sandbox_ready(self, p: _Pod) -> None:
        now = self.env.now
        self.timeline.mark(p.uid, "sandbox_ready", now)
        if self._aborts(p):
            return
        ready = self._ensure_images(p.obj.spec)
        image = p.obj.spec.containers[0].image if p.obj.spec.containers else ""
        if ready > now:
            p.t0 = now
            self.fleet.event(p, "Normal", "Pulling", f'Pulling image "{image}"', self.name, CONTAINER)
            self._sleep(p, ready - now, Kubelet._pulled)
        else:
            self.fleet.event(p, "Normal", "Pulled", self.fleet.present_message(image), self.name, CONTAINER)
            self._images_present(p)

    def _pulled(self, p: _Pod) -> None:
        took = self.env.now - p.t0
        self.timeline.image_pull_s[p.uid] = took
        image = p.obj.spec.containers[0].image if p.obj.spec.containers else ""
        self.fleet.event(p, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s', self.name,
                         CONTAINER)
        self._images_present(p)

    def _images_present(self, p: _Pod) -> None:
        self.timeline.mark(p.uid, "image_pulled", self.env.now)
        if self._aborts(p):
            return
        p.left = len(p.obj.spec.containers)
        self._start_container(p)

    def _start_container(self, p: _Pod) -> None:
        if p.left > 0:
            p.left -= 1
            self._sleep(p, self._runtime_slot(self.fleet.container_start()) - self.env.now,
                        Kubelet._start_container)
            return
        now = self.env.now
        self.timeline.mark(p.uid, "started", now)
        p.started = True
        f = self.fleet
        f.event(p, "Normal", "Created", "Created container: main", self.name, CONTAINER)
        f.event(p, "Normal", "Started", "Started container main", self.name, CONTAINER)
        if not self._aborts(p):
            self._sleep(p, self._pleg_notice(now) - now, Kubelet._noticed)

    def _noticed(self, p: _Pod) -> None:
        if self._aborts(p):
            return
        probe = p.obj.spec.annotations.get(PROBE_ANNOTATION) if self.upstream else None
        self.set_status(p, "Running", probe is None, Kubelet._marked_running)  # PATCH 2
        if probe is not None:
            self._probe(p, probe)
        self._running(p)

    def _marked_running(self, p: _Pod, ok: bool) -> None:
        if ok and not p.done and not p.deleting:
            self.timeline.set_final(p.uid, "running")

    def _running(self, p: _Pod) -> None:
        duration = p.obj.spec.duration_s
        started = self.timeline.t["started"][p.uid]
        self._sleep(p, None if duration is None else started + duration - self.env.now, Kubelet._exited)

    def _exited(self, p: _Pod) -> None:
        if not self._aborts(p):
            now = self.env.now
            self._sleep(p, self._pleg_notice(now) - now, Kubelet._exit_noticed)

    def _exit_noticed(self, p: _Pod) -> None:
        if self._aborts(p):
            return
        prob = float(p.obj.spec.annotations.get(FAIL_ANNOTATION, 0) or 0)
        failed = prob > 0 and float(self.fleet.rng.random()) < prob
        p.stopped = True  # the containers exited
        self._finish(p, "Failed" if failed else "Succeeded")

    def _finish(self, p: _Pod, phase: str) -> None:
        """Set the terminal status (``finished`` and the final state when it commits); the worker ends."""
        p.done = True
        p.phase = phase
        self._release(p)
        self.set_status(p, phase, False, Kubelet._finished)
        self._end(p)

    def _finished(self, p: _Pod, ok: bool) -> None:
        if ok and not p.deleting:
            tl = self.timeline
            tl.mark(p.uid, "finished", self.env.now)
            tl.set_final(p.uid, p.phase.lower())

    # ------------------------------------------------------------------------------ termination
    def _terminate(self, p: _Pod) -> None:
        """Stop the containers of a deleting pod (at most its termination grace period), then
        write its terminal status and delete it (the status manager)."""
        p.terminating = True
        if p.sandbox and not p.stopped:
            p.stopped = True
            if p.started:
                self.fleet.event(p, "Normal", "Killing", "Stopping container main", self.name, CONTAINER)
            stop = self.fleet.container_stop()
            grace = p.obj.spec.annotations.get(GRACE_ANNOTATION)
            if grace is not None and float(grace) < stop:
                stop = float(grace)  # SIGKILL at the end of the grace period
            env = self.env
            env.timeout(self._runtime_slot(stop) - env.now).callbacks.append(lambda _e: self._stopped(p))
        else:
            self._stopped(p)

    def _stopped(self, p: _Pod) -> None:
        self._release(p)
        if not self.upstream or p.gone or self.dead:
            self._delete(p, 0)
            return
        if not p.phase:  # J10: the terminal phase of a deleted pod (exit on SIGTERM: kbench default)
            p.phase = self.fleet.cfg.deleted_pod_phase if p.started else "Failed"
        self.set_status(p, p.phase, False, delete=True)

    def _delete(self, p: _Pod, attempt: int) -> None:
        if p.gone or self.dead:
            self._terminated(p)
            return
        w = self.world

        def done(resp) -> None:
            if resp.ok or resp.code == 409:
                self._terminated(p)
            else:
                self.env.timeout(self.fleet.retry_delay(resp, attempt)).callbacks.append(
                    lambda _e: self._delete(p, attempt + 1))

        self.client.write(w, "delete", "pods", p.key, None, done, size_bytes=POD_BYTES, partition=self.name,
                          precondition=lambda cur, u=p.uid: cur is not None and cur.uid == u, grace_zero=True,
                          component="kubelet")

    def _terminated(self, p: _Pod) -> None:
        """The final DELETE is done. The record stays until the informer delivers the deletion, so
        that watch events of the pod's last writes, arriving after it, are not taken for a new pod."""
        p.proc = False
        p.done = True
        self.fleet.forget(p, self.name)
