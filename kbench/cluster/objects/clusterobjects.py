"""The other objects kube-scheduler's plugins list: Namespaces, Services, ReplicationControllers,
ReplicaSets and StatefulSets.

InterPodAffinity reads namespace labels (``namespaceSelector``); PodTopologySpread builds a pod's
default spreading selector from the Services, ReplicationControllers, ReplicaSets and StatefulSets
that select it (upstream ``helper.DefaultSelector``, CALIBRATION E15). A snapshot fills this from
its objects (``kbench explain``); a run fills it from the scenario (Deployments' ReplicaSets and
Services, the namespaces in use).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/helper/spread.go``
(``DefaultSelector``, ``GetPodServices``) and ``interpodaffinity/plugin.go`` @ 4a37f009
(``GetNamespaceLabelsSnapshot``: a namespace that is not found has no labels).
"""

from __future__ import annotations

from kbench.cluster.objects.selectors import LabelSelector

NAME_LABEL = "kubernetes.io/metadata.name"
"""The apiserver labels every Namespace with its own name."""


class ClusterObjects:
    """Namespaces and the pod selectors of Services and controllers, by namespace.

    Attributes:
        version: Bumped on every change.
    """

    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, str]] = {}
        self._services: dict[str, dict[str, dict[str, str]]] = {}
        # the Services' selectors parsed once (default_selector runs again after every change)
        self._service_sels: dict[str, dict[str, LabelSelector | None]] = {}
        self._owners: dict[tuple[str, str, str], LabelSelector] = {}  # (kind, ns, name) -> selector
        self._rc_labels: dict[tuple[str, str], dict[str, str]] = {}
        self._default_cache: dict[str, dict[tuple, LabelSelector]] = {}  # namespace -> (owner, labels) -> selector
        self._ns_version: dict[str, int] = {}
        self.version = 0

    def _changed(self, namespace: str) -> None:
        self.version += 1
        self._ns_version[namespace] = self.version
        self._default_cache.pop(namespace, None)

    def namespace_version(self, namespace: str) -> int:
        """The :attr:`version` of the last change to the Services or controllers of ``namespace``
        (0: none yet). A default selector depends only on its namespace's objects, so caches of
        derived selectors key on this: a ReplicaSet created in one namespace leaves the others'."""
        return self._ns_version.get(namespace, 0)

    # ----- namespaces -------------------------------------------------------------------------
    def add_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        """Add or replace a Namespace (``kubernetes.io/metadata.name`` is added)."""
        self._namespaces[name] = {**(labels or {}), NAME_LABEL: name}
        self.version += 1  # namespace labels are not part of any default selector

    def has_namespace(self, name: str) -> bool:
        """Whether a Namespace object ``name`` exists."""
        return name in self._namespaces

    def namespace_labels(self, name: str) -> dict[str, str]:
        """The labels of namespace ``name`` ({} when there is no such Namespace object)."""
        return self._namespaces.get(name, {})

    def namespaces_matching(self, selector: LabelSelector) -> list[str]:
        """Names of the Namespaces whose labels match ``selector``, sorted."""
        return sorted(n for n, lab in self._namespaces.items() if selector.matches(lab))

    @property
    def namespace_names(self) -> list[str]:
        """Every Namespace name, sorted."""
        return sorted(self._namespaces)

    # ----- services and controllers -------------------------------------------------------------
    def add_service(self, namespace: str, name: str, selector: dict[str, str] | None) -> None:
        """A Service and its ``spec.selector`` map (None: a Service without a selector)."""
        self._services.setdefault(namespace, {})[name] = None if selector is None else dict(selector)
        self._service_sels.setdefault(namespace, {})[name] = None if selector is None else LabelSelector.of_labels(selector)
        self._changed(namespace)

    def add_controller(self, kind: str, namespace: str, name: str, selector: dict | None) -> None:
        """A ReplicaSet, StatefulSet (``selector`` a LabelSelector dict) or ReplicationController
        (``selector`` a plain labels map)."""
        if kind == "ReplicationController":
            self._rc_labels[(namespace, name)] = dict(selector or {})
        else:
            self._owners[(kind, namespace, name)] = LabelSelector(selector)
        self._changed(namespace)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        """Forget a Service or controller (no error when unknown)."""
        if kind == "Service":
            self._services.get(namespace, {}).pop(name, None)
            self._service_sels.get(namespace, {}).pop(name, None)
        elif kind == "ReplicationController":
            self._rc_labels.pop((namespace, name), None)
        else:
            self._owners.pop((kind, namespace, name), None)
        self._changed(namespace)

    def default_selector(self, pod) -> LabelSelector:
        """Upstream ``helper.DefaultSelector``: the merged selectors of the Services in the pod's
        namespace that select it, plus its controlling ReplicationController's, ReplicaSet's or
        StatefulSet's (when that object exists). Empty (``{}``) when none apply. Cached per
        (namespace, owner, labels) until an object of that namespace changes."""
        key = (pod.owner, tuple(sorted(pod.labels.items())))
        cache = self._default_cache.get(pod.namespace)
        if cache is None:
            cache = self._default_cache[pod.namespace] = {}
        hit = cache.get(key)
        if hit is not None:
            return hit
        merged: dict[str, str] = {}
        parsed = self._service_sels.get(pod.namespace, {})
        for name, sel in self._services.get(pod.namespace, {}).items():
            if sel is not None and parsed[name].matches(pod.labels):
                merged.update(sel)
        out = LabelSelector.of_labels(merged)
        kind, _, name = (pod.owner or "").partition("/")
        if kind == "ReplicationController" and (pod.namespace, name) in self._rc_labels:
            out = LabelSelector.of_labels({**merged, **self._rc_labels[(pod.namespace, name)]})
        elif kind in ("ReplicaSet", "StatefulSet"):
            owner = self._owners.get((kind, pod.namespace, name))
            if owner is not None and not owner.nothing:
                out = out.and_(owner)
        cache[key] = out
        return out
