"""The kubelet fleet: one kubelet per node, their heartbeats, and node faults (issue 4 item 3).

Each node's kubelet (:class:`~kbench.cluster.kubelet.podworker.Kubelet`) watches its pods and runs the pod
startup pipeline: admission, TokenRequest, sandbox, image pulls, containers, PLEG, status writes,
termination. The fleet holds what they share (config, random streams, image sizes) and sends the
heartbeats (:class:`~kbench.cluster.kubelet.heartbeats.Heartbeats`): a lease ``update`` about every 10 s
(F6) and a node status GET + PATCH every 5 min (F5), real apiserver and etcd load. Renewals due
within one ``lease_batch_tick_s`` go out as one batch (``Apiserver.submit_many``); no heartbeat is
a process. An idle node costs its heartbeats and an informer process blocked on its watch.

The kubelets' status writes go through each node's status manager (:mod:`.status`), their Events
through the fleet's recorder (:attr:`KubeletFleet.recorder`: one correlator whose keys carry the
node, each node's Event client its own token bucket, C4), and token refreshes through
:mod:`.tokens`.

Not modelled: the whole-second truncation of status timestamps (F16; timeline marks are exact),
liveness and startup probes, init containers, volumes other than the token, image GC,
container restarts, and the status reason of an admission rejection (counted in
:attr:`KubeletFleet.reject_reasons`; ``PodObj`` has no reason field).
"""

from __future__ import annotations

from collections import Counter

from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.kubelet.heartbeats import LEASE, STATUS, Heartbeats
from kbench.cluster.kubelet.nodeclient import NodeClient
from kbench.cluster.kubelet.podworker import Kubelet
from kbench.cluster.kubelet.tokens import TokenRefresher
from kbench.config.kubelet import KubeletConfig
from kbench.workload.podspec import FAIL_ANNOTATION

__all__ = ["FAIL_ANNOTATION", "IMAGE_BYTES_ANNOTATION", "Kubelet", "KubeletFleet", "NodeClient"]

IMAGE_BYTES_ANNOTATION = "kbench/image-bytes"
"""Optional image size, bytes, for images no template or node lists."""


class KubeletFleet:
    """Every node's kubelet, and their heartbeats.

    Args:
        world: The run's world (the sync strategy of class ``kubelet`` comes from its scenario).
        config: Overrides ``world.scenario.kubelet``.

    Attributes:
        kubelets: Kubelets by node name.
        heartbeats: The lease renewals and node status reports.
        dead_nodes: Nodes failed so far.
        reject_reasons: Admission rejections by reason (``OutOfcpu``, ``OutOfpods``...).
    """

    def __init__(self, world, config: KubeletConfig | None = None):
        self.world, self.env = world, world.env
        self.cfg = cfg = config or world.scenario.kubelet
        self.rng = rng = world.stream("kubelet")
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
        self.dead_nodes = 0
        self.heartbeats = Heartbeats(self)
        self.tokens = TokenRefresher(self)
        self._event_limiters: dict[str, TokenBucket] = {}
        self._present: dict[str, str] = {}
        self.recorder = world.events.recorder(
            "kubelet", "kubelet", None, hosts=max(1, len(world.node_specs)),
            client_for=lambda host: self.kubelets[host].client, limiter_for=self._event_limiter)
        self.emits = self.recorder.enabled

    # ------------------------------------------------------------------------------------ events
    def _event_limiter(self, host: str) -> TokenBucket:
        """The node's Event client bucket (C4: eventRecordQPS 50, eventBurst 100)."""
        lim = self._event_limiters.get(host)
        if lim is None:
            lim = self._event_limiters[host] = TokenBucket(self.cfg.event_qps, self.cfg.event_burst)
        return lim

    def event(self, p, etype: str, reason: str, message: str, host: str, field_path: str) -> None:
        """An Event of node ``host``'s kubelet about pod ``p`` (J8)."""
        if self.emits:
            spec = p.obj.spec
            self.recorder.emit(("Pod", p.uid), spec.namespace, spec.name, etype, reason, message, host=host,
                               field_path=field_path)

    def present_message(self, image: str) -> str:
        """``Container image "X" already present on machine`` (one string per image)."""
        msg = self._present.get(image)
        if msg is None:
            msg = self._present[image] = f'Container image "{image}" already present on machine'
        return msg

    def forget(self, p, host: str) -> None:
        """Pod ``p`` is gone from node ``host``: its Event correlation state goes too (a pod's
        Events all come from its one node, so the pod identifies them)."""
        if self.emits:
            self.recorder.forget(("Pod", p.uid))

    def start(self) -> None:
        """Create a kubelet for every node in ``world.node_specs`` and start the heartbeats."""
        for name in list(self.world.node_specs):
            self.add_node(name)
        self.heartbeats.start()

    def add_node(self, name: str) -> Kubelet:
        """Start the kubelet of node ``name`` (its spec must be in ``world.node_specs``)."""
        if name in self.kubelets:
            return self.kubelets[name]
        k = Kubelet(self, self.world.node_specs[name], len(self._list))
        self.kubelets[name] = k
        self._list.append(k)
        cfg, now = self.cfg, self.env.now
        k.informer.start(float(self.rng.random()) * cfg.start_spread_s)
        self.heartbeats.push(now + float(self.rng.random()) * cfg.lease_renew_interval_s, LEASE, k)
        self.heartbeats.push(now + float(self.rng.random()) * cfg.node_status_report_s, STATUS, k)
        return k

    # ----------------------------------------------------------------------------------- faults
    def fail(self, name: str) -> None:
        """Node ``name`` fails: no leases, no status, no progress, ever again."""
        k = self.kubelets[name]
        if not k.dead:
            self.dead_nodes += 1
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
        self.heartbeats.push(self.env.now, STATUS, k)

    def _cut(self, k: Kubelet) -> None:
        k.down = True
        if k.client.gate is None:
            k.client.gate = self.env.event()
        w = getattr(k.informer, "_watcher", None)
        if w is not None and w.open:
            self.world.api.cache("pods").close(w, "partition")

    # --------------------------------------------------------------------------------- helpers
    def retry_delay(self, resp, attempt: int) -> float:
        """After a 429 the Retry-After the server sent (A28); after other errors doubling up to the
        status sync (F16)."""
        cfg = self.cfg
        if resp.code == 429:
            return resp.retry_after_s or cfg.retry_after_s
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
