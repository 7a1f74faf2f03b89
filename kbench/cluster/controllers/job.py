"""Job controller: run pods until ``completions`` succeeded, at most ``parallelism`` at once.

A Job (``jobs/<ns>/<name>``, ``data["spec"]`` a :class:`~kbench.config.workload.JobSpec`) owns
pods ``<name>-<counter>`` (label ``job-name=<name>``, owner ``Job/<ns>/<name>``). Outcomes are
counted from the pod informer's events, once per pod: a pod that Succeeded or Failed, or that
disappeared while still running (evicted, preempted) counts as failed, as upstream's finalizer
tracking does. A sync:

* wants ``min(parallelism, completions - succeeded)`` active pods, creating the missing ones
  (expectations and slow-start batches as the ReplicaSet controller) and deleting extra ones;
* re-creates a pod after failures only after ``10 s x 2^(failures - 1)`` (capped at 10 min;
  upstream ``DefaultJobPodFailureBackOff``/``MaxJobPodFailureBackOff``);
* marks the Job Complete when ``succeeded >= completions``, Failed when ``failed > backoffLimit``
  (deleting its active pods);
* writes the Job's status (``active``, ``succeeded``, ``failed``, ``complete``, ``condition``)
  when it changed (``update jobs/status``);
* records Events on the Job: ``SuccessfulCreate`` per pod, ``Completed``, ``BackoffLimitExceeded``
  (message texts are kbench's).

A deleted Job's pods are deleted by the garbage collector (its pods' owner references), and a pod
deleted by someone else counts when it ends: a terminal phase reported while it was being deleted
is not an outcome.

Pod events are batched for ``syncJobBatchPeriod`` (1 s) before a sync, as upstream. Pod run times
come from a per-Job stream ``workload/job/<ns>/<name>``, drawn in pod order, so the k-th pod of a
Job runs as long whatever the policy or the interleaving of Jobs. Restart policy is ``Never``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers.common import Controller
from kbench.cluster.controllers.replicaset import EXPECTATIONS_TIMEOUT_S, deletion_rank
from kbench.cluster.objects.stored import PodObj
from kbench.config.workload import JobSpec
from kbench.workload.podspec import draw_duration, pod_from_template

OWNER = "Job/"


@dataclass(eq=False)
class _Job:
    key: str
    counter: int = 0
    active: dict[str, PodObj] = field(default_factory=dict)
    succeeded: int = 0
    failed: int = 0
    counted: set[str] = field(default_factory=set)
    ours: set[str] = field(default_factory=set)  # pods this controller deleted (not failures)
    last_fail_s: float = 0.0
    expect_adds: int = 0
    expect_dels: set[str] = field(default_factory=set)
    expect_since: float = 0.0
    condition: str = ""  # "", "Complete" or "Failed"
    written: tuple | None = None
    rng: object = None


def failure_backoff_s(failures: int, initial_s: float, max_s: float) -> float:
    """Delay before re-creating a pod after ``failures`` failures, seconds (0 when none)."""
    if failures <= 0:
        return 0.0
    return min(initial_s * 2.0 ** (failures - 1), max_s)


class JobController(Controller):
    """Jobs (``--concurrent-job-syncs`` workers)."""

    name = "job"
    component = "job-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.job_workers)
        self._jobs: dict[str, _Job] = {}
        self._counters: dict[str, int] = {}
        self._done = {"Complete": 0, "Failed": 0}

    def handlers(self) -> dict:
        """Handlers of the ``jobs`` informer."""
        return self.key_handlers()

    def complete_count(self) -> int:
        """Jobs that completed."""
        return self._done["Complete"]

    def failed_count(self) -> int:
        """Jobs that failed (backoff limit exceeded)."""
        return self._done["Failed"]

    # ---------------------------------------------------------------------------------- pod hooks
    def _state(self, pod: PodObj) -> _Job | None:
        owner = pod.owner
        if owner is None or not owner.startswith(OWNER):
            return None
        return self._jobs.get(owner[len(OWNER):])

    def _enqueue(self, st: _Job) -> None:
        self.queue.add_after(st.key, self.cfg.job_sync_batch_s)

    def _count(self, st: _Job, pod: PodObj, failed: bool) -> None:
        st.counted.add(pod.key)
        if failed:
            st.failed += 1
            st.last_fail_s = self.env.now
        else:
            st.succeeded += 1

    def pod_added(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        if st.expect_adds > 0:
            st.expect_adds -= 1
        if not pod.deleting and not pod.finished:
            st.active[pod.key] = pod
        self._enqueue(st)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        st = self._state(new)
        if st is None:
            return
        if new.finished and not new.deleting and new.key not in st.counted:
            self._count(st, new, new.phase == "Failed")
        if new.deleting:
            st.expect_dels.discard(new.key)
        if new.finished or new.deleting:
            st.active.pop(new.key, None)
        elif new.key in st.active:
            st.active[new.key] = new
        if old.phase != new.phase or old.deleting != new.deleting:
            self._enqueue(st)

    def pod_deleted(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        st.active.pop(pod.key, None)
        st.expect_dels.discard(pod.key)
        if pod.key not in st.counted and pod.key not in st.ours:
            self._count(st, pod, True)  # gone before it finished: evicted or preempted
        self._enqueue(st)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        obj = self.mgr.cache("jobs").get(key)
        st = self._jobs.get(key)
        if obj is None:
            self._jobs.pop(key, None)  # its pods: the garbage collector
            return True
        spec: JobSpec = obj.data["spec"]
        if st is None:
            st = self._jobs[key] = _Job(key, counter=self._counters.get(key, 0),
                                 rng=self.world.stream(f"workload/job/{key}"))
        now = self.env.now
        if st.expect_adds > 0 or st.expect_dels:
            if now - st.expect_since < EXPECTATIONS_TIMEOUT_S:
                return True
            st.expect_adds, st.expect_dels = 0, set()
        ok = True
        if not st.condition:
            if st.failed > spec.backoff_limit:
                st.condition = "Failed"
            elif st.succeeded >= spec.completions:
                st.condition = "Complete"
            if st.condition:
                self._done[st.condition] += 1
                self.world.counters[f"jobs_{st.condition.lower()}"] += 1
                ns, _, name = key.partition("/")
                if st.condition == "Complete":
                    self.event(("Job", obj.uid), ns, name, "Normal", "Completed", "Job completed")
                else:
                    self.event(("Job", obj.uid), ns, name, "Warning", "BackoffLimitExceeded",
                               "Job has reached the specified backoff limit")
        if st.condition:
            ok = yield from self._delete_active(st)
        else:
            want = min(spec.parallelism, spec.completions - st.succeeded)
            diff = want - len(st.active)
            if diff > 0 and spec.namespace not in self.mgr.terminating_ns:
                ready_at = st.last_fail_s + failure_backoff_s(st.failed, self.cfg.job_backoff_initial_s,
                                                              self.cfg.job_backoff_max_s)
                if now < ready_at:
                    self.queue.add_after(key, ready_at - now)
                else:
                    n = min(diff, self.cfg.burst_replicas)
                    st.expect_adds += n
                    st.expect_since = now
                    undone = yield from self.create_pods(n, lambda: self._new_pod(st, spec, obj.uid),
                                                         on_done=lambda pod, ok: ok and self.event(
                                                             ("Job", obj.uid), spec.namespace, spec.name, "Normal",
                                                             "SuccessfulCreate", f"Created pod: {pod.spec.name}"))
                    if undone:
                        st.expect_adds = max(0, st.expect_adds - undone)
                        ok = False
            elif diff < 0:
                victims = sorted(st.active.values(), key=deletion_rank)[:-diff]
                ok = yield from self._delete(st, victims)
        status = (len(st.active), st.succeeded, st.failed, st.condition)
        if status != st.written:
            fields = {"active": status[0], "succeeded": status[1], "failed": status[2],
                      "complete": st.condition == "Complete", "condition": st.condition}

            def mutate(cur):
                return None if cur is None else cur.with_data(**fields)

            resp = yield from self.write("update", "jobs/status", key, mutate=mutate)
            if resp.ok:
                st.written = status
            elif resp.code != 409:  # 409: the Job was deleted meanwhile
                ok = False
        return ok

    def _new_pod(self, st: _Job, spec: JobSpec, uid: int) -> PodObj:
        st.counter += 1
        self._counters[st.key] = st.counter  # names are never reused, even if the owner is re-created
        name = f"{spec.name}-{st.counter}"
        key = f"{spec.namespace}/{name}"
        t = spec.template
        pod = pod_from_template(name, spec.namespace, t, owner=f"Job/{spec.name}",
                                labels={"job-name": spec.name}, duration_s=draw_duration(t, st.rng))
        return PodObj(key, self.world.pod_uid(key, "Job"), pod, owner=OWNER + st.key, owner_uid=uid)

    def _delete(self, st: _Job, victims: list[PodObj]) -> Generator[simpy.Event, object, bool]:
        st.ours.update(p.key for p in victims)  # deletions the Job made itself are not failures
        return (yield from self.delete_pods_expecting(st, victims))

    def _delete_active(self, st: _Job) -> Generator[simpy.Event, object, bool]:
        victims = [p for p in st.active.values() if not p.deleting]
        return (yield from self._delete(st, victims))
