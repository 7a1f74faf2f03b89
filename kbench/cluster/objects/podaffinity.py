"""Inter-pod affinity terms and host ports, as kube-scheduler reads them from a pod.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/types.go`` (``AffinityTerm``,
``newAffinityTerm``, ``getNamespacesFromPodAffinityTerm``, ``NewPodInfo``'s parse errors),
``interpodaffinity/plugin.go`` @ 4a37f009ca615534484b1116d0f147f1f23cf067
(``mergeAffinityTermNamespacesIfNotEmpty``), ``pkg/registry/core/pod/strategy.go`` (matchLabelKeys
merged at admission), ``pkg/scheduler/util`` (``GetHostPorts``) and ``nodeports/node_ports.go``
(the 0.0.0.0 conflict rule) — docs/VALIDATION.md's sources give the commits.

* A term's namespaces default to the namespace of the pod that **owns** the term when it lists
  none and has no namespace selector; a nil namespace selector matches nothing, ``{}`` every
  namespace. ``matches(pod, ns_labels)``: the pod's namespace is listed or its namespace's labels
  match the namespace selector, and the pod's labels match the label selector.
* ``matchLabelKeys`` / ``mismatchLabelKeys`` are folded into the label selector when the pod is
  admitted (``key In (value)`` / ``key NotIn (value)`` for keys among the pod's own labels; nothing
  when the term has no label selector), as the apiserver does with the MatchLabelKeysInPodAffinity
  gate on; the scheduler never sees the keys.
* A selector value that is not a valid label value does not fail parsing: the pod keeps upstream's
  message in :attr:`PodAffinity.parse_error` and InterPodAffinity reports it at PreFilter/PreScore.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from kbench.cluster.objects.selectors import LabelSelector, Requirement

HOSTNAME = "kubernetes.io/hostname"
BIND_ALL = "0.0.0.0"
"""``hostIP`` "" means every address (upstream ``DefaultBindAllHostIP``)."""


@dataclass(frozen=True, eq=False)
class AffinityTerm:
    """One pod (anti-)affinity term (upstream ``framework.AffinityTerm``).

    Attributes:
        selector: Pods it selects.
        namespaces: Namespaces it looks in (the owner's when it names none and has no selector).
        namespace_selector: Namespaces it looks in by their labels (nothing when absent).
        topology_key: The node label whose value is the domain.
        weight: Weight of a preferred term (0 for a required one).
    """

    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector
    topology_key: str
    weight: int = 0

    @functools.cached_property
    def key(self) -> tuple:
        """Hashable identity (selector, namespaces, namespace selector, topology key, weight)."""
        return (self.selector.key, tuple(sorted(self.namespaces)), self.namespace_selector.key,
                self.topology_key, self.weight)

    def matches(self, pod, ns_labels: dict[str, str] | None) -> bool:
        """Upstream ``AffinityTerm.Matches``: ``pod`` is in one of the term's namespaces (by name,
        or its namespace's labels ``ns_labels`` match the namespace selector) and its labels match."""
        if pod.namespace in self.namespaces or self.namespace_selector.matches(ns_labels or {}):
            return self.selector.matches(pod.labels)
        return False

    def merged(self, namespaces_matching: Callable[[LabelSelector], list[str]]) -> AffinityTerm:
        """The incoming pod's term with its namespace selector unrolled into names (upstream
        ``mergeAffinityTermNamespacesIfNotEmpty``): ``{}`` is kept (every namespace); otherwise the
        namespaces whose labels match are added and the selector becomes nothing."""
        if self.namespace_selector.empty:
            return self
        names = self.namespaces | frozenset(namespaces_matching(self.namespace_selector))
        return AffinityTerm(self.selector, names, LabelSelector(None), self.topology_key, self.weight)


@dataclass(frozen=True)
class PodAffinity:
    """A pod's ``affinity.podAffinity`` and ``affinity.podAntiAffinity``, parsed.

    Attributes:
        required_affinity, required_anti: ``requiredDuringSchedulingIgnoredDuringExecution`` terms.
        preferred_affinity, preferred_anti: ``preferredDuringScheduling...`` terms (with weights).
        parse_error: Upstream's aggregated parse message, or None.
    """

    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[AffinityTerm, ...] = ()
    preferred_anti: tuple[AffinityTerm, ...] = ()
    parse_error: str | None = None

    @property
    def has_required(self) -> bool:
        """Any required affinity or anti-affinity term."""
        return bool(self.required_affinity or self.required_anti)

    @property
    def has_preferred(self) -> bool:
        """Any preferred affinity or anti-affinity term (upstream PreScore's ``hasConstraints``)."""
        return bool(self.preferred_affinity or self.preferred_anti)

    @property
    def any(self) -> bool:
        """Any term at all (upstream ``PodsWithAffinity``)."""
        return self.has_required or self.has_preferred

    @property
    def term_count(self) -> int:
        """Number of terms of all four kinds."""
        return (len(self.required_affinity) + len(self.required_anti) + len(self.preferred_affinity)
                + len(self.preferred_anti))


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host port a pod binds: ``(ip, protocol, port)``, ip "" read as 0.0.0.0, protocol "" as TCP."""

    ip: str
    protocol: str
    port: int

    def conflicts(self, used: dict[str, int]) -> bool:
        """Whether this port conflicts with a node's used ``{ip: count}`` for the same (protocol,
        port): 0.0.0.0 conflicts with any address; an address with itself or 0.0.0.0."""
        if self.ip == BIND_ALL:
            return any(c > 0 for c in used.values())
        return used.get(self.ip, 0) > 0 or used.get(BIND_ALL, 0) > 0


@dataclass(frozen=True, slots=True)
class ContainerPort:
    """A container port: ``host_port`` 0 means none."""

    container_port: int = 0
    host_port: int = 0
    host_ip: str = ""
    protocol: str = "TCP"


# ----- parsing (Kubernetes object shapes) ---------------------------------------------------------

def _selector(raw, pod_labels: dict[str, str], match_keys, mismatch_keys) -> LabelSelector:
    if raw is None:
        return LabelSelector(None)
    extra = tuple(Requirement(k, "In", (pod_labels[k],)) for k in match_keys if k in pod_labels)
    extra += tuple(Requirement(k, "NotIn", (pod_labels[k],)) for k in mismatch_keys if k in pod_labels)
    return LabelSelector(raw, extra=extra)


def affinity_term(raw: dict, namespace: str, pod_labels: dict[str, str], weight: int = 0,
                  match_label_keys: bool = True) -> AffinityTerm:
    """Upstream ``newAffinityTerm`` for a term of a pod in ``namespace`` with ``pod_labels``
    (``match_label_keys``: fold matchLabelKeys/mismatchLabelKeys in, as admission does)."""
    keys = raw.get("matchLabelKeys") or () if match_label_keys else ()
    anti_keys = raw.get("mismatchLabelKeys") or () if match_label_keys else ()
    sel = _selector(raw.get("labelSelector"), pod_labels, keys, anti_keys)
    listed = [str(n) for n in raw.get("namespaces") or ()]
    ns_raw = raw.get("namespaceSelector")
    namespaces = frozenset(listed) if listed or ns_raw is not None else frozenset((namespace,))
    return AffinityTerm(sel, namespaces, LabelSelector(ns_raw), str(raw.get("topologyKey") or ""), int(weight))


def _first_error(terms: list[AffinityTerm]) -> str | None:
    for t in terms:
        err = t.selector.error or t.namespace_selector.error
        if err is not None:
            return err
    return None


def parse_pod_affinity(affinity: dict | None, namespace: str, pod_labels: dict[str, str],
                       match_label_keys: bool = True) -> PodAffinity | None:
    """A pod's PodAffinity from its ``spec.affinity`` mapping (None when it has no pod terms).

    Args:
        affinity: ``spec.affinity`` as the API prints it (node affinity is ignored here).
        namespace: The pod's namespace (terms default to it).
        pod_labels: The pod's labels (for matchLabelKeys).
        match_label_keys: The MatchLabelKeysInPodAffinity gate (default on upstream).
    """
    affinity = affinity or {}
    aff = affinity.get("podAffinity") or {}
    anti = affinity.get("podAntiAffinity") or {}
    if not aff and not anti:
        return None
    req = "requiredDuringSchedulingIgnoredDuringExecution"
    pref = "preferredDuringSchedulingIgnoredDuringExecution"

    def required(part):
        return tuple(affinity_term(t, namespace, pod_labels, 0, match_label_keys) for t in part.get(req) or ())

    def preferred(part):
        return tuple(affinity_term(w.get("podAffinityTerm") or {}, namespace, pod_labels, int(w.get("weight", 0)),
                                   match_label_keys) for w in part.get(pref) or ())

    out = PodAffinity(required(aff), required(anti), preferred(aff), preferred(anti))
    errors = []
    for label, terms in (("requiredAffinityTerms", out.required_affinity),
                         ("requiredAntiAffinityTerms", out.required_anti),
                         ("weightedAffinityTerms", out.preferred_affinity),
                         ("weightedAntiAffinityTerms", out.preferred_anti)):
        err = _first_error(list(terms))
        if err is not None:
            errors.append(f"{label}: {err}")
    if errors:  # apimachinery's aggregate: one error as is, several as [a, b]
        msg = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        out = PodAffinity(out.required_affinity, out.required_anti, out.preferred_affinity, out.preferred_anti, msg)
    return out


def host_ports_of(containers, init_containers) -> tuple[HostPort, ...]:
    """Host ports of app containers and of restartable (sidecar) init containers (upstream
    ``GetHostPorts``): hostPort > 0 only."""
    if not init_containers and not any(c.ports for c in containers):
        return ()
    out = []
    for c in (*[i for i in init_containers if i.restart_policy == "Always"], *containers):
        for p in c.ports:
            if p.host_port > 0:
                out.append(HostPort(p.host_ip or BIND_ALL, p.protocol or "TCP", int(p.host_port)))
    return tuple(out)

