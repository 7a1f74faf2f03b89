"""The kubelet's status manager: pod status PATCHes, one pod at a time, and the final DELETE.

Upstream (kubernetes/kubernetes pkg/kubelet/status/status_manager.go @
0033cb0a31e95198abfb1be70ce5befdf4e7eec1; CALIBRATION J9, J10): the pod workers set a pod's
status in memory (``SetPodStatus``) and signal a one-slot channel, so changes made before the
status goroutine runs coalesce into one sync carrying the newest status; that single goroutine
syncs pods one after the other: a GET of the pod (resourceVersion "", from etcd), then a PATCH of
``pods/status`` unless the status is unchanged, then, for a pod that is deleting and terminal, a
DELETE with grace period 0 and a UID precondition. The pod workers never wait for it.

:class:`StatusManager` is that goroutine for one :class:`~kbench.cluster.kubelet.podworker.Kubelet`
(a part of it, as :class:`~kbench.cluster.kubelet.noderesources.NodeResources` is), with no SimPy
process: a queue of pods in the order their status changed (a pod queued again keeps its place:
the coalescing), served serially. The GET is *charged*
(:func:`~kbench.cluster.apiserver.charged.charge_get`: its CPU, etcd read and latency are booked
without events, and its latency delays the PATCH) when ``kubelet.status_get`` is ``charged``; the
PATCH is a real request whose value the apiserver merges into the stored pod (phase and ready
only, so a deletion timestamp set meanwhile is kept). Failed PATCHes (429, 5xx) are retried after
``retry_delay`` while the other pods go on.

Status writes per pod (``kubelet.status_writes: upstream``, J10): admitted → Pending (PATCH 1);
containers running (PLEG) → Running, ready unless a readiness probe (PATCH 2); the probe's first
success → ready (PATCH 3); natural exit → Succeeded/Failed; deletion → a sync that finds the status
unchanged (a GET only), then after the containers stopped the terminal phase (PATCH) and the final
DELETE. ``minimal`` keeps only the Running and natural-exit PATCHes (before issue 18).

The readiness probe's worker (:meth:`StatusManager._probe`) is here too: its only effect in kbench
is the Ready status it sets.
"""

from __future__ import annotations

from kbench.cluster.apiserver.charged import charge_get
from kbench.cluster.objects.stored import POD_BYTES

STATUS_PATCH_BYTES = 600
"""Body of a pods/status PATCH (phase, conditions, container states, pod IP), bytes (kbench
default; the stored pod stays ``POD_BYTES``)."""


def _status_patch(uid: int, phase: str, ready: bool):
    """The merge the apiserver applies: phase and ready on the current pod of the same uid."""

    def mutate(cur):
        if cur is None or cur.uid != uid:
            return None
        return cur.evolve(phase=phase, ready=ready)

    return mutate


def _same_uid(uid: int):
    return lambda cur: cur is not None and cur.uid == uid


class StatusManager:
    """The status goroutine of one kubelet (a part of ``Kubelet``; state ``sm_queue``, ``sm_busy``)."""

    def _init_status(self) -> None:
        self.sm_queue: dict = {}
        self.sm_busy = False
        self.status_syncs = 0
        self._sm_req = None  # the GET request (only its identity and size are read)

    def set_status(self, p, phase: str, ready: bool, then=None, *, delete: bool = False) -> None:
        """Set pod ``p``'s status in memory and queue its sync; ``then(kubelet, p, ok)`` once a
        PATCH carrying it (or a newer status) committed (ok) or can no longer (not ok); with
        ``delete`` the pod is deleted (grace 0) after its terminal status is written."""
        p.want = (phase, ready)
        if then is not None:
            if p.sm_then is None:
                p.sm_then = [then]
            else:
                p.sm_then.append(then)
        if delete:
            p.sm_delete = True
        if p.key not in self.sm_queue:
            self.sm_queue[p.key] = p
        if not self.sm_busy:
            self._sm_next()

    def resync_status(self, p) -> None:
        """A sync with no new status (upstream forces one when the pod gets a deletion timestamp)."""
        if p.key not in self.sm_queue:
            self.sm_queue[p.key] = p
        if not self.sm_busy:
            self._sm_next()

    def _sm_next(self) -> None:
        q = self.sm_queue
        if not q or self.dead:
            self.sm_busy = False
            return
        self.sm_busy = True
        key = next(iter(q))
        p = q.pop(key)
        self._sm_sync(p, 0)

    def _sm_get(self) -> float:
        """The GET before a PATCH (J9): its latency when charged, seconds."""
        cfg = self.fleet.cfg
        if cfg.status_get != "charged" or self.down:
            return 0.0
        req = self._sm_req
        if req is None:
            req = self._sm_req = self.client.request("get", "pods", name="", size_bytes=POD_BYTES)
        return charge_get(self.world.api, req)

    def _sm_sync(self, p, attempt: int) -> None:
        if self.dead:
            self.sm_busy = False
            return
        if p.gone and not p.sm_delete:
            self._sm_done(p, False)
            return
        want = p.want
        delay = self._sm_get() if attempt == 0 else 0.0
        self.status_syncs += 1
        if want is None or want == p.api_status:
            if p.sm_delete and p.api_status is not None and p.api_status[0] in ("Succeeded", "Failed"):
                self._sm_delete(p, delay, 0)
                return
            self._sm_done(p, True, delay)
            return
        then, p.sm_then = p.sm_then or (), None

        def done(resp) -> None:
            if resp.ok:
                p.api_status = want
                self.world.counters["status_updates"] += 1
                for cb in then:
                    cb(self, p, True)
                if p.sm_delete and want[0] in ("Succeeded", "Failed") and p.want == want:
                    self._sm_delete(p, 0.0, 0)
                else:
                    self._sm_next()
            elif resp.code == 409 or self.dead:  # the pod is gone (or another one has its name)
                for cb in then:
                    cb(self, p, False)
                self._sm_next()
            else:  # retried later; the other pods go on
                p.sm_then = [*then, *(p.sm_then or ())]
                delay_s = self.fleet.retry_delay(resp, attempt)
                self.env.timeout(delay_s).callbacks.append(lambda _e: self._sm_requeue(p))
                self._sm_next()

        self.client.write(self.world, "patch", "pods/status", p.key, None, done, size_bytes=STATUS_PATCH_BYTES,
                          partition=self.name, delay_s=delay, mutate=_status_patch(p.uid, want[0], want[1]),
                          stored_bytes=POD_BYTES, component="kubelet")

    def _sm_requeue(self, p) -> None:
        if not self.dead and not (p.gone and not p.sm_delete):
            self.resync_status(p)

    def _sm_done(self, p, ok: bool, delay: float = 0.0) -> None:
        then, p.sm_then = p.sm_then, None
        for cb in then or ():
            cb(self, p, ok)
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _e: self._sm_next())
        else:
            self._sm_next()

    def _sm_delete(self, p, delay: float, attempt: int) -> None:
        """``canBeDeleted``: the DELETE with grace 0 and a UID precondition; then the next pod."""
        w = self.world

        def done(resp) -> None:
            if resp.ok or resp.code == 409:
                self._terminated(p)
            elif not self.dead:  # retried later; the other pods go on
                p.sm_delete = True
                self.env.timeout(self.fleet.retry_delay(resp, attempt)).callbacks.append(
                    lambda _e: self._sm_requeue(p))
            self._sm_next()

        p.sm_delete = False
        self.client.write(w, "delete", "pods", p.key, None, done, size_bytes=POD_BYTES, partition=self.name,
                          precondition=_same_uid(p.uid), grace_zero=True, delay_s=delay, component="kubelet")

    # ----------------------------------------------------------------------------- readiness
    def _probe(self, p, text: str) -> None:
        """The readiness probe worker (kubernetes/kubernetes pkg/kubelet/prober/worker.go @
        00421113e1c655426f1954d9865726f491265bcd): it probes when the pod worker starts (taken as
        when the kubelet saw the pod) and every period; a probe passes once the container has run
        ``initial_delay``; ``success`` passes in a row make the pod ready (PATCH 3). Not modelled:
        failures (``failureThreshold``), liveness and startup probes."""
        initial, period, success = (float(x) for x in text.split(","))
        t_w = self.timeline.t["kubelet_seen"][p.uid]
        started = self.timeline.t["started"][p.uid]
        first = started + initial
        k = max(0.0, -(-(first - t_w) // period)) if period > 0 else 0.0
        ready_at = t_w + k * period + (success - 1) * period
        if ready_at < first:
            ready_at = first
        self.env.timeout(max(0.0, ready_at - self.env.now)).callbacks.append(lambda _e: self._probe_passed(p))

    def _probe_passed(self, p) -> None:
        if not (p.done or p.deleting or p.gone or self.dead):
            self.set_status(p, "Running", True)
