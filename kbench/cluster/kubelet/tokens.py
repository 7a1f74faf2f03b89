"""The kubelet token manager's refreshes: a new TokenRequest per running pod every ~48 min (J13).

The kubelet caches each pod's projected service-account token and asks for a new one once the
cached token is older than 80 % of the TTL it requested (3607 s) less a random jitter of up to
10 s (kubernetes/kubernetes pkg/kubelet/token/token_manager.go @ 064c7f8c, ``requiresRefresh``). A
TokenRequest stores nothing (J12): it costs the apiserver's CPU (signing), a quorum read of the
ServiceAccount and the pod, and its response.

:class:`TokenRefresher` keeps the due refreshes of the whole fleet in buckets of
``kubelet.token_batch_tick_s`` (one timeout per bucket, no process) and sends each bucket's
requests as one batch (``World.send_many``), every member admitted by its kubelet's token bucket
first (a member that must wait goes to a later tick), as lease renewals are. A pod that stopped
running, or whose node failed, drops out; a failed batch is retried at the next tick.
"""

from __future__ import annotations

import math

from kbench.cluster.clients.ratelimit import try_take

RESOURCE = "serviceaccounts/token"


class TokenRefresher:
    """Token refreshes of a kubelet fleet.

    Args:
        fleet: The :class:`~kbench.cluster.kubelet.fleet.KubeletFleet`.
    """

    def __init__(self, fleet):
        self.fleet, self.world, self.env, self.cfg = fleet, fleet.world, fleet.env, fleet.cfg
        self.rng = fleet.world.stream("kubelet/token")
        self._draws: list[float] = []  # uniform draws, taken 1,024 at a time (the same sequence)
        self._ticks: dict[int, list] = {}
        self._sending = -1
        self.sent = 0
        self._existing_rng = None

    def schedule(self, k, p) -> None:
        """Pod ``p`` of kubelet ``k`` just got a token: its refresh falls due (J13)."""
        cfg = self.cfg
        if not cfg.token_refresh:
            return
        draws = self._draws
        if not draws:
            draws.extend(self.rng.random(1024)[::-1].tolist())
        due = self.env.now + cfg.token_refresh_fraction * cfg.token_expiration_s - cfg.token_jitter_s * draws.pop()
        self._put(due, (k, p))

    def adopt(self, k, p) -> None:
        """Pod ``p`` of kubelet ``k`` was running before the run: its token's age is unknown, so its
        first refresh falls uniformly over the refresh period (a fleet in steady state), drawn
        from its own stream ``kubelet/token/existing``."""
        cfg = self.cfg
        if not cfg.token_refresh:
            return
        if self._existing_rng is None:
            self._existing_rng = self.world.stream("kubelet/token/existing")
        due = self.env.now + float(self._existing_rng.random()) * cfg.token_refresh_fraction * cfg.token_expiration_s
        self._put(due, (k, p))

    def _put(self, due: float, member) -> None:
        tick = max(self.cfg.token_batch_tick_s, 1e-3)
        n = math.ceil(due / tick)
        if n <= self._sending:  # never the tick being sent or an earlier one
            n = self._sending + 1
        bucket = self._ticks.get(n)
        if bucket is not None:
            bucket.append(member)
            return
        self._ticks[n] = [member]
        self.env.timeout(max(0.0, n * tick - self.env.now)).callbacks.append(lambda _e: self._due(n))

    def _due(self, n: int) -> None:
        self._sending = n
        now = self.env.now
        batch = []
        for k, p in self._ticks.pop(n):
            if k.dead or p.done or p.deleting or p.gone or k.pods.get(p.key) is not p:
                continue
            wait = try_take(k.client.limiter, now) if k.client.gate is None else self.cfg.token_batch_tick_s
            if wait > 0:
                self._put(now + wait, (k, p))
                continue
            batch.append((k, p))
        if not batch:
            return

        pending = list(batch)

        def done(keys, resp) -> None:
            # the apiserver may split the batch; each part answers for len(keys) members (the keys
            # are all ``<ns>/default``, so the members are taken in order)
            part = pending[:len(keys)]
            del pending[:len(keys)]
            if resp.ok:
                self.sent += len(part)
                self.world.counters["token_requests"] += len(part)
                for k, p in part:
                    self.schedule(k, p)
            else:
                for member in part:
                    self._put(self.env.now + self.cfg.token_batch_tick_s, member)

        items = [(f"{p.obj.spec.namespace}/default", None) for _k, p in batch]
        self.world.send_many(batch[0][0].client, items, "create", RESOURCE, done, size_bytes=1024,
                             component="kubelet")
