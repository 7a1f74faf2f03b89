"""One scheduler's profiles: a framework per ``schedulerName`` of its configuration (Build 6 of issue 17).

Upstream runs every profile of a KubeSchedulerConfiguration in one scheduler: one scheduling queue
(profiles must share the queueSort plugin), one cache and node snapshot, one round-robin start index
(``nextStartNodeIndex``), and a QueueingHint map per profile; a pod is scheduled by the profile its
``spec.schedulerName`` names and ignored when none does (``responsibleForPod``). Each profile's
plugins draw from their own random stream: the first profile's is the seed tree's ``policy`` stream
(as with one profile), the others' ``policy/<schedulerName>``.

:attr:`Profiles.ignored` lists what the run does not model, for the summary, the manifest and a
warning: the configuration's own ignored items, feature gates kbench does not know or model, and
the listers kube-scheduler fills from informers that kbench does not simulate.
"""

from __future__ import annotations

from kbench.cluster.scheduler.hints import build_hint_map
from kbench.config.features import FeatureGates
from kbench.policy.api import Handle
from kbench.policy.framework import Framework
from kbench.policy.resolve import resolve_scheduler_config

INFORMERS_NOTE = ("kube-scheduler's Namespace informer is not simulated (no LIST/WATCH load): the namespaces "
                  "come from the scenario (its Service, ReplicaSet and StatefulSet informers are)")


class Profiles:
    """The frameworks of one scheduler (see the module docstring).

    Args:
        policy: The scheduler's ``policy`` (a name, a KubeSchedulerConfiguration or a Python file).
        stream: ``f(name) -> numpy Generator`` (the run's seed tree).
        objects: The listers' objects (:class:`~kbench.cluster.objects.clusterobjects.ClusterObjects`).
        gates: The feature gates in force.

    Attributes:
        config: The parsed configuration (content and hash for the manifest).
        frameworks: schedulerName → framework, in configuration order.
        default: The first profile's framework.
        hint_maps: schedulerName → QueueingHint registrations.
        ignored: What is accepted but not modelled (one line each).
    """

    def __init__(self, policy: str, stream, objects, gates: FeatureGates):
        self.config, registry = resolve_scheduler_config(policy)
        self.frameworks: dict[str, Framework] = {}
        rotation = [0]
        for i, profile in enumerate(self.config.profiles):
            name = profile.scheduler_name
            rng = stream("policy" if i == 0 else f"policy/{name}")
            handle = Handle(rng=rng, profile=profile.name, objects=objects, features=gates)
            fw = Framework(profile, rng, registry=registry, handle=handle)
            fw.rotation = rotation
            self.frameworks[name] = fw
        self.default = next(iter(self.frameworks.values()))
        self.hint_maps = {name: build_hint_map(fw, gates["SchedulerQueueingHints"])
                          for name, fw in self.frameworks.items()}
        self.ignored = [*self.config.ignored, *gates.ignored(), INFORMERS_NOTE]

    def of(self, spec) -> Framework | None:
        """The framework of a pod spec's schedulerName (None when no profile has it)."""
        return self.frameworks.get(spec.scheduler_name)

    def pre_enqueue(self, spec):
        """The pod's profile's PreEnqueue verdict (None: may be queued)."""
        fw = self.frameworks.get(spec.scheduler_name, self.default)
        return fw.pre_enqueue(spec)
