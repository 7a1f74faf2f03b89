"""The write mix of a run: completed API writes by component, verb and (sub)resource (issue 18).

The apiserver counts every write it answered with 200 (:class:`WriteMix.add`, called where the
request statistics record it), keyed by the component that sent it (``replicaset-controller``,
``garbage-collector``, ``kubelet``, ``scheduler``; the client class when a request names none), the
verb and the resource as the client named it (``pods/status``, ``pods/binding``, ``events``). The
summary divides by the pods created (``writes_per_pod.<resource>.<verb>``) and groups by component
(``writes_by_component``). A write that stored nothing (TokenRequest) still counts: it is a request
the apiserver served; what etcd stored is in ``etcd.writes``.
"""

from __future__ import annotations

from collections import Counter

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")


class WriteMix:
    """Counts of completed writes by (component, verb, resource)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, component: str, verb: str, resource: str, count: int = 1) -> None:
        """Count ``count`` completed writes."""
        self.counts[(component, verb, resource)] += count

    def total(self, *, verb: str | None = None, resource: str | None = None, component: str | None = None) -> int:
        """Completed writes matching every given field."""
        return sum(n for (c, v, r), n in self.counts.items()
                   if (verb is None or v == verb) and (resource is None or r == resource)
                   and (component is None or c == component))

    def per_pod(self, pods: int) -> dict[str, dict[str, float]]:
        """``{resource: {verb: writes / pods}}`` (sorted; pods < 1 counts as 1)."""
        by: Counter[tuple[str, str]] = Counter()
        for (_c, v, r), n in self.counts.items():
            by[(r, v)] += n
        out: dict[str, dict[str, float]] = {}
        for (r, v), n in sorted(by.items()):
            out.setdefault(r, {})[v] = round(n / max(pods, 1), 4)
        return out

    def by_component(self) -> dict[str, dict[str, int]]:
        """``{component: {"<resource>.<verb>": writes}}`` (sorted)."""
        out: dict[str, dict[str, int]] = {}
        for (c, v, r), n in sorted(self.counts.items()):
            out.setdefault(c, {})[f"{r}.{v}"] = n
        return out

    def table(self, pods: int) -> list[dict]:
        """One row per (resource, verb, component): count and count per pod, for reports."""
        return [{"resource": r, "verb": v, "component": c, "count": n, "per_pod": round(n / max(pods, 1), 4)}
                for (c, v, r), n in sorted(self.counts.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0]))]
