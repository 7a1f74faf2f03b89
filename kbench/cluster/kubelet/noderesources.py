"""A node's resources as its kubelet books them: admission, container runtime slots, image pulls, PLEG.

Everything here is arithmetic on the node's state (no events): admission against what admitted
pods hold, FIFO runtime slots and image pull slots as heaps of end times (F10, F11, F17), and
when the PLEG notices a container state change (F4, F20).
"""

from __future__ import annotations

import heapq
import math

from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.objects import GPU, Node


class NodeResources:
    """Admission state, image cache and runtime slots of one node (a base of the node's kubelet).

    Args:
        fleet: The fleet (shared config, samplers).
        node: The node spec.
    """

    def __init__(self, fleet, node: Node):
        self.fleet, self.node = fleet, node
        self.used: dict[str, float] = {}
        self.npods = 0
        self.gpu_milli = 0
        self.pulled: dict[str, float] = {}  # image -> time present (pulled or being pulled)
        self._pull_slots: list[float] | None = None
        self._pull_qps: TokenBucket | None = None
        self._runtime: list[float] | None = None
        self.pleg_phase = float(fleet.rng.random()) * fleet.cfg.pleg_relist_period_s

    def _admit(self, p) -> str:
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
        self._reserve(p, req, share)
        return ""

    def _reserve(self, p, req: dict[str, float], share: int) -> None:
        """Hold ``p``'s requests on the node (admitted, or adopted as already running)."""
        for r, v in req.items():
            self.used[r] = self.used.get(r, 0.0) + v
        self.npods += 1
        self.gpu_milli += share
        p.req, p.share, p.admitted = req, share, True

    def _release(self, p) -> None:
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
