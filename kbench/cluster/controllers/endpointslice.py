"""EndpointSlice controller: the ready pods of each Service, in slices of at most 100 (H4).

A Service (``services/<ns>/<name>``, ``data["selector"]`` a label map) selects the pods of its
namespace whose labels include the selector. Its endpoints are the selected pods that are ready
and not being deleted. They are kept in slices ``endpointslices/<ns>/<name>-<i>`` of at most
``max-endpoints-per-slice`` (100) endpoints; a change rewrites only the slices it touches (as
upstream's reconciler: endpoints that left are removed from their slice, new ones first fill the
slices already being rewritten, then other slices with room, then new slices; a Service without
endpoints keeps one empty placeholder slice). A Service without a selector gets no slices from
this controller (upstream: they are written out of band through the API).

Each slice written carries ``trigger_s``, the time the controller observed the newest pod change it
reflects (upstream's ``endpoints.kubernetes.io/last-change-trigger-time``; here the watch delivery
time, a few ms after the kubelet's status commit), so kube-proxies can measure network programming
latency (H5). Sizes: 100 B per endpoint + 500 B (I5). Each successful write counts
``endpointslice_writes``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers.common import Controller, generic, namespace_of
from kbench.cluster.objects.stored import PodObj


@dataclass(eq=False)
class _Svc:
    key: str
    selector: dict
    members: set[str] = field(default_factory=set)
    slices: dict[int, list[str]] = field(default_factory=dict)
    written: dict[int, tuple[str, ...]] = field(default_factory=dict)
    last_change_s: float = 0.0


def slice_bytes(endpoints: int) -> int:
    """Size of a slice with ``endpoints`` endpoints, bytes (I5: about 100 B each)."""
    return 100 * endpoints + 500


def reconcile_slices(slices: dict[int, list[str]], desired: set[str], max_per_slice: int
                     ) -> dict[int, list[str]]:
    """The new slice layout for endpoints ``desired``, changing as few slices as it can.

    Args:
        slices: Current layout, slice index -> endpoints.
        desired: Endpoints the Service should have.
        max_per_slice: Capacity of a slice.

    Returns:
        The new layout (slices that became empty are gone, except one placeholder when the
        Service has no endpoint at all).
    """
    new = {i: [e for e in eps if e in desired] for i, eps in slices.items()}
    changed = {i for i in slices if len(new[i]) != len(slices[i])}
    present = {e for eps in new.values() for e in eps}
    added = sorted(desired - present)
    pos = 0
    for i in sorted(changed) + sorted(i for i in new if i not in changed):
        room = max_per_slice - len(new[i])
        if pos >= len(added):
            break
        if room > 0:
            new[i].extend(added[pos:pos + room])
            pos += min(room, len(added) - pos)
    idx = 0
    while pos < len(added):
        while idx in new:
            idx += 1
        new[idx] = added[pos:pos + max_per_slice]
        pos += max_per_slice
    nonempty = {i: eps for i, eps in new.items() if eps}
    if nonempty:
        return nonempty
    return {min(new) if new else 0: []}


class EndpointSliceController(Controller):
    """EndpointSlices of Services (``--concurrent-service-endpoint-syncs`` workers)."""

    name = "endpointslice"
    component = "endpointslice-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.endpointslice_workers)
        self._svcs: dict[str, _Svc] = {}
        self._by_label: dict[tuple[str, str, str], set[str]] = {}  # (ns, key, value) -> services

    def handlers(self) -> dict:
        """Handlers of the ``services`` informer."""
        return {"on_add": self._svc_set, "on_update": lambda old, new: self._svc_set(new),
                "on_delete": self._svc_gone}

    def slice_keys(self, ns: str) -> list[str]:
        """Slices this controller wrote in namespace ``ns``."""
        return [f"{k}-{i}" for k, st in self._svcs.items() if namespace_of(k) == ns for i in st.written]

    # ---------------------------------------------------------------------------- services, pods
    def _unindex(self, st: _Svc) -> None:
        ns = namespace_of(st.key)
        for k, v in st.selector.items():
            svcs = self._by_label.get((ns, k, v))
            if svcs is not None:
                svcs.discard(st.key)

    def _svc_set(self, svc) -> None:
        selector = dict(svc.data.get("selector") or {})
        st = self._svcs.get(svc.key)
        if st is None:
            st = self._svcs[svc.key] = _Svc(svc.key, selector)
        elif st.selector == selector:
            self.queue.add(svc.key)
            return
        else:
            self._unindex(st)
            st.selector = selector
        ns = namespace_of(svc.key)
        for k, v in selector.items():
            self._by_label.setdefault((ns, k, v), set()).add(svc.key)
        pods = self.mgr.cache("pods")
        st.members = {key for key in self.mgr.pods_by_ns.get(ns, ())
                      if self._serves(st, pods.get(key))} if selector else set()
        st.last_change_s = self.env.now
        self.queue.add(svc.key)

    def _svc_gone(self, svc) -> None:
        st = self._svcs.get(svc.key)
        if st is not None:
            self._unindex(st)
            st.selector, st.members = {}, set()
        self.queue.add(svc.key)

    @staticmethod
    def _serves(st: _Svc, pod: PodObj | None) -> bool:
        if pod is None or not pod.ready or pod.deleting or not st.selector:
            return False
        labels = pod.spec.labels
        return all(labels.get(k) == v for k, v in st.selector.items())

    def _pod_changed(self, pod: PodObj, gone: bool = False) -> None:
        if not self._by_label:
            return
        ns = namespace_of(pod.key)
        cands: set[str] = set()
        for k, v in pod.spec.labels.items():
            svcs = self._by_label.get((ns, k, v))
            if svcs:
                cands |= svcs
        for svc_key in cands:
            st = self._svcs[svc_key]
            want = not gone and self._serves(st, pod)
            if want != (pod.key in st.members):
                if want:
                    st.members.add(pod.key)
                else:
                    st.members.discard(pod.key)
                st.last_change_s = self.env.now
                self.queue.add(svc_key)

    def pod_added(self, pod: PodObj) -> None:
        self._pod_changed(pod)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        if old.ready != new.ready or old.deleting != new.deleting:
            self._pod_changed(new)

    def pod_deleted(self, pod: PodObj) -> None:
        self._pod_changed(pod, gone=True)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        st = self._svcs.get(key)
        if st is None:
            return True
        present = key in self.mgr.cache("services")
        if present and not st.selector:
            return True  # no selector: its slices are written out of band, not by this controller (upstream)
        if not present:
            if namespace_of(key) in self.mgr.terminating_ns:
                self._svcs.pop(key)  # the namespace controller deletes the slices
                return True
            target: dict[int, list[str]] = {}
        else:
            st.slices = target = reconcile_slices(st.slices, st.members, self.cfg.max_endpoints_per_slice)
        ok = True
        for i in sorted(set(target) | set(st.written)):
            eps = target.get(i)
            old = st.written.get(i)
            slice_key = f"{key}-{i}"
            if eps is None:
                resp = yield from self.write("delete", "endpointslices", slice_key, size_bytes=500)
                if resp.ok or resp.code == 409:
                    del st.written[i]
                    self.world.counters["endpointslice_writes"] += resp.ok
                else:
                    ok = False
                continue
            eps_t = tuple(eps)
            if eps_t == old:
                continue
            value = generic(slice_key, service=key, endpoints=eps_t, trigger_s=st.last_change_s)
            resp = yield from self.write("create" if old is None else "update", "endpointslices", slice_key,
                                         value, size_bytes=slice_bytes(len(eps_t)))
            if resp.ok:
                st.written[i] = eps_t
                self.world.counters["endpointslice_writes"] += 1
            else:
                ok = False
        if not target and not st.written:
            self._svcs.pop(key, None)
        return ok
