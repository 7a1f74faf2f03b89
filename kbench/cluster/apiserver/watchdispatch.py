"""One watch event on its way from the cache to every interested watcher (I9, I17, I18, A21, A22).

What upstream's cacher does per event, and what kbench books for it:

1. The serial dispatcher offers the event to each interested watcher in turn, a non-blocking
   channel send each (``watch_dispatch_s_per_watcher``): watcher ``j`` is offered it at
   ``t0 + (j + 1) d``. Active watchers (scheduler, kubelets, controllers) first, then each
   passive group (:mod:`.watchpassive`).
2. With at least 3 watchers the event is serialized once and the bytes shared (I9, PR #84043):
   one job of ``encode`` on the core pool; with fewer, each watcher encodes it itself.
3. Each watcher's goroutine filters, frames and writes the event (``watch_send_cpu_s`` plus
   ``watch_send_cpu_s_per_byte``, I17) on the same core pool the request handlers use, in
   parallel with them (:mod:`.fanout`); the bytes leave through the client's link and the shared
   NIC, and every delivery is counted in the egress ledger.
4. A watcher whose buffer (``channels_per_watcher`` channels of the A21 size) is full blocks the
   dispatcher, which waits from the time budget of A22; one that would need more is terminated
   (``terminated_watchers``) and its client re-watches from the last event it received, or
   relists (:mod:`kbench.cluster.clients.reflector`). Only watchers whose client takes time per
   event (``process_s > 0``) can fill their buffer.

Active watchers get a callback per event at their delivery time through one
:class:`~kbench.simkernel.Fanout` per event (not one SimPy event per watcher).
"""

from __future__ import annotations

import heapq

from kbench.cluster.apiserver.fanout import book_fill
from kbench.cluster.apiserver.watchpassive import dispatch_passive
from kbench.simkernel import Fanout, call_later


def dispatch(cache, rec, part) -> None:
    """Deliver the event ``rec`` (partition ``part``) to every interested watcher of ``cache``."""
    active = cache._all_list
    if part is not None:
        bucket = cache._by_part.get(part)
        if bucket:
            active = (*active, *bucket.values())
    sel = []
    k = len(active)
    if cache.passive:
        ipart = part if isinstance(part, int) else -1
        for g in cache.passive:
            idx = g.members(ipart)
            if idx.size:
                sel.append((g, idx))
                k += idx.size
    if k == 0:
        return
    api = cache.api
    cfg = cache.cfg
    env = cache.env
    now = env.now
    cores = api._cores
    b = rec.size_bytes
    nb = b + cfg.watch_event_frame_bytes
    d = cfg.watch_dispatch_s_per_watcher
    send = cfg.watch_send_cpu_s + b * cfg.watch_send_cpu_s_per_byte
    enc = cfg.watch_event_encode_cpu_s + b * cfg.encode_cpu_s_per_byte
    t0 = cache._dispatch_free_s
    if t0 < now:
        t0 = now
    # The dispatcher's own loop (k x 0.2 us) is charged to the CPU total but not booked on a core:
    # it never delays anything measurably and would cost a heap operation per event.
    if k >= 3:  # serialize once, share the bytes (I9)
        t_enc = _encode(cores, t0, enc)
        s = send
        cpu = k * (d + s) + enc
    else:
        t_enc = t0
        s = send + enc
        cpu = k * (d + s)
    link = nb / cfg.network_bytes_per_s
    off = t0
    stall = 0.0
    if active:
        off, stall = _active(cache, active, rec, off, t_enc, s, link, nb)
    for g, idx in sel:
        off, st, _n = dispatch_passive(g, idx, api, cache._budget, off, t_enc, s, link, nb, rec)
        stall += st
    cache._dispatch_free_s = off + stall
    cache.events_dispatched += 1
    cache.deliveries += k
    api.cpu_s += cpu
    api.cpu_watch_s += cpu


def _encode(cores: list[float], t: float, enc: float) -> float:
    """Book the event's one shared encode on the earliest free core from ``t``; when it is done."""
    free = cores[0]
    done = (t if t > free else free) + enc
    heapq.heapreplace(cores, done)
    return done


def _active(cache, active, rec, off: float, t_enc: float, s: float, link: float, nb: float):
    """Active watchers of one event: their bookings and one Fanout; returns the dispatcher's
    position after them and its stall on full buffers, seconds. Bytes go to each watcher's
    ``sent_bytes`` (folded into the egress ledger when it closes: no ledger call per delivery)."""
    api = cache.api
    cfg = cache.cfg
    env = cache.env
    d = cfg.watch_dispatch_s_per_watcher
    step = nb / cfg.nic_bytes_per_s
    revision = rec.revision
    slow = False
    stall = 0.0
    k = len(active)
    ends = None if k <= cfg.watch_small_fanout else book_fill(api._cores, max(off, t_enc), s, k).tolist()
    cores = api._cores
    nic_free = api.nic_free_s
    f = None
    sent = 0
    for j, w in enumerate(active):
        off += d
        if w.process_s:
            wait = w.backlog_until - (w.buffer - 1) * w.process_s - off
            if wait > 0.0:
                budget = cache._budget
                budget.refill(off)
                if wait > budget.s:
                    cache.terminate(w)
                    continue
                budget.s -= wait
                if wait > stall:
                    stall = wait
            slow = True
        if ends is None:
            free = cores[0]
            st = off if off > t_enc else t_enc
            end = (st if st > free else free) + s
            heapq.heapreplace(cores, end)
        else:
            end = ends[j]
            if end < off + s:
                end = off + s
        nic_free = (end if end > nic_free else nic_free) + step
        arrive = end + link
        if nic_free > arrive:
            arrive = nic_free
        w.sent_bytes += nb
        sent += 1
        if w.on_event is None:
            w.rv = revision
            continue
        if w.process_s:
            arrive = (arrive if arrive > w.backlog_until else w.backlog_until) + w.process_s
            w.backlog_until = arrive
        if f is None:
            f = Fanout(env, rec)
        w.pending += 1
        f.add(w, arrive)
    api.nic_free_s = nic_free
    api.traffic.by_kind["watch"] += sent * nb
    if f is not None:
        if slow and len(f.watchers) > 1:  # a slow client's processing reorders deliveries
            f.sort_by_time()
        f.start()
    return off, stall


def dispatch_many(cache, recs: list, parts: list) -> None:
    """:func:`dispatch` for several events at once (active watchers only, the lease renewals of
    one tick): the same work per event and watcher; each watcher gets its events in one delivery,
    at the time its last one would have arrived."""
    api = cache.api
    cfg = cache.cfg
    env = cache.env
    now = env.now
    cores = api._cores
    d = cfg.watch_dispatch_s_per_watcher
    t = cache._dispatch_free_s
    if t < now:
        t = now
    cpu = 0.0
    batches: dict = {}
    by_part = cache._by_part
    nic_rate, link_rate = cfg.nic_bytes_per_s, cfg.network_bytes_per_s
    frame = cfg.watch_event_frame_bytes
    send_cpu, send_per_byte = cfg.watch_send_cpu_s, cfg.watch_send_cpu_s_per_byte
    enc_cpu, enc_per_byte = cfg.watch_event_encode_cpu_s, cfg.encode_cpu_s_per_byte
    nic_free = api.nic_free_s
    watch_bytes = 0.0
    heapreplace = heapq.heapreplace
    # Nothing in the loop changes the watchers or the sizes' arithmetic: the watchers of the last
    # partition and the costs of the last size (a batch's records usually share both) are reused.
    last_part, last_b = object(), None
    all_list = cache._all_list
    for rec, part in zip(recs, parts, strict=True):
        if part != last_part:
            last_part = part
            active = all_list
            if part is not None:
                bucket = by_part.get(part)
                if bucket:
                    active = (*active, *bucket.values())
            k = len(active)
        if not k:
            continue
        b = rec.size_bytes
        if b != last_b:
            last_b = b
            nb = b + frame
            s0 = send_cpu + b * send_per_byte
            enc = enc_cpu + b * enc_per_byte
            nic_step, link = nb / nic_rate, nb / link_rate
        if k >= 3:
            t_enc = _encode(cores, t, enc)
            cpu += enc
            s = s0
        else:
            t_enc = t
            s = s0 + enc
        cpu += k * (d + s)
        for w in active:
            t += d
            st = t if t > t_enc else t_enc
            free = cores[0]
            end = (st if st > free else free) + s
            heapreplace(cores, end)
            nic_free = (end if end > nic_free else nic_free) + nic_step
            arrive = end + link
            if nic_free > arrive:
                arrive = nic_free
            w.sent_bytes += nb
            watch_bytes += nb
            if w.on_event is None:
                w.rv = rec.revision
            else:
                bt = batches.get(w)
                if bt is None:
                    bt = batches[w] = [0.0, w]
                bt[0] = arrive
                bt.append(rec)
        cache.deliveries += k
        cache.events_dispatched += 1
    if watch_bytes:
        api.nic_free_s = nic_free
        api.traffic.by_kind["watch"] += watch_bytes
    if not cpu:
        return
    for w, bt in batches.items():
        w.pending += 1
        call_later(env, bt[0] - now, cache._deliver_many, bt)
    cache._dispatch_free_s = t
    api.cpu_s += cpu
    api.cpu_watch_s += cpu
