"""Event recorders and the batched sinks that write their Events through the apiserver.

Every component that emits Events gets an :class:`EventRecorder` from the world's :class:`EventHub`
(``world.events.recorder(...)``): the kubelet fleet one for all its kubelets (keys carry the node),
each controller its own, the scheduler one with the events.k8s.io series cache. ``emit`` passes the
event through client-go's correlation (:mod:`kbench.cluster.events.correlator`) and hands the
resulting write (CREATE of a new Event, PATCH of an existing one) to the recorder's
:class:`EventSink`.

Each write is a real API request through APF, admission, etcd (the events etcd when
``events.separate_etcd``) and the statistics. To keep the cost in SimPy events low, a sink sends the
writes due within one ``events.flush_tick_s`` as one batch per verb (``World.send_many``: k seats in
one APF admission, k handler CPU bookings, one etcd proposal of k entries), as the kubelets' lease
renewals are; every member is still admitted by its own client's token bucket (a member that would
wait goes to the tick of its reservation), and ``flush_tick_s: 0`` sends each write alone at its
exact time. The broadcaster's queue (``events.queue_length``, J1) drops writes when full; failed
writes are retried (J1: up to 12 tries, 10 s apart, the first after a random fraction of 10 s;
events.k8s.io: 10 s plus up to 25 %, J5); a PATCH of an Event that expired meanwhile becomes a
CREATE of the same name (upstream's fallback on NotFound; the failed PATCH itself is not sent).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

from kbench.cluster.events.correlator import CoreCorrelator, CorrelatorConfig, SeriesCache
from kbench.cluster.objects.stored import GenericObj

RESOURCE = "events"


class EventStats:
    """What happened to emitted Events (the summary's ``events`` block).

    Attributes:
        created: Event CREATEs that completed (200).
        patched: Event PATCHes that completed (200).
        aggregated: Emitted events that did not become an Event object of their own: repeats
            de-duplicated into a PATCH of the count, series repeats (PATCH or in-memory count), and
            messages combined into a "(combined from similar events)" Event.
        dropped: Events dropped, by cause (``spam``, ``queue``, ``retries``).
        expired: Events deleted by their TTL (lease revocation).

    ``emitted``, ``by_reason`` and ``by_component`` are read from the recorders' own counts (one
    dict update per emitted event instead of three).
    """

    def __init__(self, recorders: list | None = None) -> None:
        self.created = self.patched = self.aggregated = self.expired = 0
        self.dropped: Counter[str] = Counter()
        self._recorders = recorders if recorders is not None else []

    @property
    def emitted(self) -> int:
        """Recorder calls."""
        return sum(sum(rec.emits.values()) for rec in self._recorders)

    @property
    def by_reason(self) -> Counter[str]:
        """Emitted events by reason."""
        out: Counter[str] = Counter()
        for rec in self._recorders:
            out.update(rec.emits)
        return out

    @property
    def by_component(self) -> Counter[str]:
        """Emitted events by component."""
        out: Counter[str] = Counter()
        for rec in self._recorders:
            n = sum(rec.emits.values())
            if n:
                out[rec.component] += n
        return out

    def summary(self, virtual_s: float) -> dict:
        written = self.created + self.patched
        return {"emitted": self.emitted, "created": self.created, "patched": self.patched, "written": written,
                "aggregated": self.aggregated,
                "dropped": {k: int(self.dropped[k]) for k in ("spam", "queue", "retries")},
                "expired": self.expired, "per_s": round(written / virtual_s, 4) if virtual_s > 0 else 0.0,
                "by_reason": dict(sorted(self.by_reason.items())),
                "by_component": dict(sorted(self.by_component.items()))}


class EventHub:
    """The run's event machinery: recorders, sinks, statistics.

    Args:
        world: The run's world (``scenario.events``, the ``events`` random stream).
    """

    def __init__(self, world):
        self.world = world
        self.env = world.env
        self.cfg = world.scenario.events
        self.recorders: list[EventRecorder] = []
        self.stats = EventStats(self.recorders)
        self.rng = world.stream("events")
        self._names = 0
        c = self.cfg
        self.corr_cfg = CorrelatorConfig(c.aggregate_max_events, c.aggregate_interval_s, c.spam_burst, c.spam_qps,
                                         c.lru_entries)

    def recorder(self, component: str, group: str, client, *, series: bool = False, hosts: int = 1,
                 client_for: Callable | None = None, limiter_for: Callable | None = None,
                 writer: str | None = None) -> EventRecorder:
        """A recorder for ``component`` (``kubelet``, ``replicaset-controller``...).

        Args:
            component: The source component (reportingController).
            group: Which ``events.components`` switch applies (scheduler, kubelet, controllers).
            client: The client that writes its Events (APF identity and, unless ``limiter_for``,
                the token bucket).
            series: The events.k8s.io series recorder (the scheduler) instead of core/v1.
            hosts: Sources sharing it (a fleet's kubelets): scales the LRU cap and the queue.
            client_for: ``f(host) -> client`` of each source (a fleet's kubelets).
            limiter_for: ``f(host) -> TokenBucket`` of each source's event client.
            writer: The component its writes are booked to (``writes_by_component``) when it is not
                ``component`` (kube-scheduler reports as ``default-scheduler``).
        """
        rec = EventRecorder(self, component, self.cfg.emits(group), client, series=series, hosts=hosts,
                            client_for=client_for, limiter_for=limiter_for, writer=writer)
        self.recorders.append(rec)
        return rec

    def new_name(self, namespace: str, name: str) -> str:
        """The key of a new Event object: ``<ns>/<involved name>.<hex counter>``."""
        self._names += 1
        return f"{namespace}/{name}.{self._names:x}"

    def start(self) -> None:
        """Start the series recorders' timers."""
        for rec in self.recorders:
            if rec.series is not None and rec.enabled:
                rec.start_timers()


class EventRecorder:
    """``record.EventRecorder`` / ``events.EventRecorder`` of one component (see the module docstring)."""

    def __init__(self, hub: EventHub, component: str, enabled: bool, client, *, series: bool, hosts: int,
                 client_for: Callable | None, limiter_for: Callable | None, writer: str | None = None):
        self.hub, self.component, self.enabled = hub, component, enabled
        self.env = hub.env
        self.emits: dict[str, int] = {}  # emitted events by reason
        cfg = hub.cfg
        self.core = None if series else CoreCorrelator(hub.corr_cfg, hosts)
        self.series = SeriesCache(cfg.series_finish_s) if series else None
        self.sink = EventSink(hub, writer or component, client, hosts, client_for, limiter_for, series)

    def emit(self, obj, namespace: str, name: str, etype: str, reason: str, message: str, *, host: str = "",
             field_path: str = "", action: str = "") -> None:
        """Record one event about the object ``obj`` (a hashable identity, e.g. ``("Pod", uid)``,
        unique across the sources sharing the recorder) named ``namespace/name``; ``host`` is the
        emitting node (kubelets)."""
        if not self.enabled:
            return
        emits = self.emits
        emits[reason] = emits.get(reason, 0) + 1
        hub = self.hub
        now = self.env.now
        if self.series is not None:
            st = hub.stats
            out = self.series.record((obj, etype, reason, action), now, hub.new_name, namespace, name)
            if out is None:
                st.aggregated += 1
                return
            verb, key, count = out
            if verb == "patch":
                st.aggregated += 1
            self.sink.put(verb, key, reason, count, host, 0)
            return
        out = self.core.correlate(obj, etype, reason, message, field_path, now, hub.new_name, namespace, name)
        if out is None:
            hub.stats.dropped["spam"] += 1
            return
        if out[3]:
            hub.stats.aggregated += 1
        self.sink.put(out[0], out[1], reason, out[2], host, 0)

    def forget(self, obj) -> None:
        """The object is gone: drop its correlation state (it emits nothing any more)."""
        if self.core is not None:
            self.core.forget(obj)

    # ------------------------------------------------------------------------------ series timers
    def start_timers(self) -> None:
        env, cfg = self.hub.env, self.hub.cfg
        env.timeout(cfg.series_finish_s).callbacks.append(self._finish)
        env.timeout(cfg.series_refresh_s).callbacks.append(self._refresh)

    def _finish(self, _e) -> None:
        env, cfg = self.hub.env, self.hub.cfg
        for name, count, key in self.series.finish(env.now):
            self.sink.put("patch", name, key[2], count, "", 0)
        env.timeout(cfg.series_finish_s).callbacks.append(self._finish)

    def _refresh(self, _e) -> None:
        env, cfg = self.hub.env, self.hub.cfg
        for name, count, key in self.series.refresh():
            self.sink.put("patch", name, key[2], count, "", 0)
        env.timeout(cfg.series_refresh_s).callbacks.append(self._refresh)


class EventSink:
    """The writes of one recorder, sent in batches per tick (see the module docstring)."""

    def __init__(self, hub: EventHub, component: str, client, hosts: int, client_for, limiter_for, series: bool):
        # component: the writer, as writes_by_component books it
        self.hub, self.component, self.client = hub, component, client
        self.world, self.env, self.cfg = hub.world, hub.env, hub.cfg
        self.client_for, self.limiter_for = client_for, limiter_for
        self.series = series
        self.limit = hub.cfg.queue_length * max(1, hosts)
        self.queued = 0
        self._ticks: dict[int, list] = {}
        self._sending = -1  # the tick being sent
        self._creating: set[str] = set()  # Events whose CREATE is in flight

    def put(self, verb: str, key: str, reason: str, count: int, host: str, attempt: int, at: float | None = None,
            fresh: bool = True, paid: bool = False) -> None:
        """Queue a write of Event ``key`` (sent at the tick of ``at``, default now; ``fresh``: a new
        write, counted against the queue; ``paid``: its client token is already reserved)."""
        if fresh and attempt == 0:
            if self.queued >= self.limit:
                self.hub.stats.dropped["queue"] += 1  # ActionOrDrop on a full broadcaster queue (J1)
                return
            self.queued += 1
        env, tick = self.env, self.cfg.flush_tick_s
        item = (verb, key, reason, count, host, attempt, paid)
        t = env.now if at is None else at
        if tick <= 0:
            if t > env.now:
                env.timeout(t - env.now).callbacks.append(lambda _e: self._send([item], env.now))
            else:
                self._send([item], t)
            return
        self._bucket(t, at is not None).append(item)

    def _bucket(self, t: float, deferred: bool) -> list:
        """The queue of the tick that sends writes due at ``t`` (made, with its flush, if new); a
        deferred write never goes to the tick being sent."""
        tick = self.cfg.flush_tick_s
        n = math.ceil(t / tick - 1e-9)
        if deferred and n <= self._sending:
            n = self._sending + 1
        bucket = self._ticks.get(n)
        if bucket is None:
            bucket = self._ticks[n] = []
            self.env.timeout(max(0.0, n * tick - self.env.now)).callbacks.append(lambda _e: self._flush(n))
        return bucket

    def _flush(self, n: int) -> None:
        self._sending = n
        self._send(self._ticks.pop(n), self.env.now)

    def _send(self, items: list, now: float) -> None:
        etcd = self.world.api.etcd_for(RESOURCE)
        groups: dict[str, list] = {}
        creating = self._creating
        batched = self.cfg.flush_tick_s > 0
        limiter_for = self.limiter_for
        shared = self.client.limiter if limiter_for is None else None
        for item in items:
            verb, key, reason, count, host, attempt, paid = item
            if not paid:
                # client-go's limiter (rate.Limiter.Wait): the write reserves its token now, in
                # order with its client's other requests, and is sent when the token is due
                wait = (shared if shared is not None else limiter_for(host)).reserve(now)
                if wait > 0:
                    if batched:
                        self._bucket(now + wait, True).append((verb, key, reason, count, host, attempt, True))
                    else:
                        self.put(verb, key, reason, count, host, attempt, at=now + wait, fresh=False, paid=True)
                    continue
            if verb == "patch":
                if key in creating:  # upstream sends it once the CREATE returned
                    self.put(verb, key, reason, count, host, attempt, at=now + max(self.cfg.flush_tick_s, 1e-3),
                             fresh=False, paid=True)
                    continue
                if not etcd.has(RESOURCE, key):
                    verb = "create"  # expired (TTL): CREATE on NotFound
            if verb == "create":
                creating.add(key)
            group = groups.get(verb)
            if group is None:
                group = groups[verb] = []
            group.append(item if verb == item[0] else (verb, *item[1:]))
        for verb, group in groups.items():
            self._write(verb, group)

    def _write(self, verb: str, group: list) -> None:
        world, cfg = self.world, self.cfg
        host0 = group[0][4]
        client = self.client_for(host0) if self.client_for is not None and host0 else self.client
        if cfg.store_values:
            comp = self.component
            items = [(it[1], GenericObj(it[1], {"reason": it[2], "count": it[3], "component": comp})) for it in group]
        else:
            items = [(it[1], None) for it in group]
        size = cfg.event_bytes if verb == "create" else cfg.patch_bytes

        pending = list(group)  # the apiserver may split the batch: each part answers for its keys

        def done(keys, resp) -> None:
            if keys is None or len(keys) == len(pending):
                part = pending[:]
                pending.clear()
            else:
                need = Counter(keys)
                part, rest = [], []
                for it in pending:
                    if need[it[1]] > 0:
                        need[it[1]] -= 1
                        part.append(it)
                    else:
                        rest.append(it)
                pending[:] = rest
            if verb == "create":
                self._creating.difference_update(it[1] for it in part)
            if resp.ok:
                self.queued -= len(part)
                if verb == "create":
                    self.hub.stats.created += len(part)
                else:
                    self.hub.stats.patched += len(part)
                return
            self._retry(part)

        if len(items) == 1:
            req = world.request(client, verb, RESOURCE, items[0][0], items[0][1], size, None, None,
                                {"component": self.component, "stored_bytes": cfg.event_bytes})
            world.api.submit(req, lambda resp: done(None, resp))
            return
        world.send_many(client, items, verb, RESOURCE, done, size_bytes=size, component=self.component,
                        stored_bytes=cfg.event_bytes)

    def _retry(self, group: list) -> None:
        cfg, rng, now = self.cfg, self.hub.rng, self.env.now
        for verb, key, reason, count, host, attempt, _paid in group:
            tries = attempt + 1
            if tries >= cfg.max_tries:
                self.queued -= 1
                self.hub.stats.dropped["retries"] += 1
                continue
            if self.series:
                delay = cfg.retry_s * (1.0 + cfg.series_retry_jitter * float(rng.random()))
            else:
                delay = cfg.retry_s * float(rng.random()) if tries == 1 else cfg.retry_s
            self.put(verb, key, reason, count, host, tries, at=now + delay, fresh=False)
