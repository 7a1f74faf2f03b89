"""A watch cache's arrival of a batch of records (the lease renewals of one tick), in one loop.

:func:`arrive_keyed` does what :meth:`WatchCache._arrive
<kbench.cluster.apiserver.watchcache.WatchCache._arrive>` does record by record, for the caches
where nothing can observe the cache between two records of the batch; the dispatch to the watchers
follows for the whole batch (:func:`~kbench.cluster.apiserver.watchdispatch.dispatch_many`).
``tests/unit/test_batch_apply.py`` compares the two on random sequences. :func:`trim_history` is
the history's bound (A19), for both.
"""

from __future__ import annotations

from collections import deque


def trim_history(cache, now: float, nbytes: float) -> float:
    """Drop the oldest events of ``cache``'s history while it holds more than
    ``history_events_max``, or more than ``history_events_min`` and the oldest is older than
    ``fresh_duration_s`` at ``now`` (A19); ``cache.oldest_rv`` follows. Returns ``nbytes`` (the
    history's bytes) less those of the events dropped."""
    h, wc = cache.history, cache.wc
    lo, hi, fresh_s = wc.history_events_min, wc.history_events_max, wc.fresh_duration_s
    while len(h) > hi or (len(h) > lo and now - h[0][1] > fresh_s):
        old = h.popleft()
        cache.oldest_rv = old[0]
        nbytes -= old[2].size_bytes
    return nbytes


def arrive_keyed(cache, recs: list) -> list:
    """``cache._arrive(rec, dispatch=False)`` for each of ``recs`` in order, for a cache partitioned
    by key (or not at all) with no consistent read waiting: the same updates in one loop (no waiter
    can observe the cache between two records, so none is released mid-batch). Returns the
    records' partitions."""
    now = cache.env.now
    h, store, part_of, part_hist = cache.history, cache.store, cache.partition_of, cache._part_history
    log = cache.log
    log_rev, log_commit, log_part = log.new_revs.append, log.new_commits.append, log.new_parts.append
    nbytes = cache.history_bytes
    if not part_of and cache.wc.fresh_duration_s >= 0:
        # No record is partitioned: the history is trimmed once, after the batch. The final
        # history is the same: trimming pops from the front while a condition holds that more
        # entries only make truer, and the entries that arrived now are not aged.
        for rec in recs:
            key = rec.key
            rev = rec.revision
            h.append((rev, now, rec, -1))
            nbytes += rec.size_bytes
            if rec.op == "delete":
                store.pop(key, None)
            else:
                store[key] = rec.value
            log_rev(rev)
            log_commit(rec.time_s)
        parts = [-1] * len(recs)
        log.new_parts.extend(parts)
        cache.history_bytes = trim_history(cache, now, nbytes)
        if recs:
            cache.revision = recs[-1].revision
        return parts
    parts = []
    for rec in recs:
        key = rec.key
        rev = rec.revision
        part = part_of.get(key, -1)
        h.append((rev, now, rec, part))
        if part != -1:
            ph = part_hist.get(part)
            if ph is None:
                ph = part_hist[part] = deque()
            else:
                first = h[0][0]
                while ph and ph[0][0] < first:
                    ph.popleft()
            ph.append((rev, rec))
        nbytes = trim_history(cache, now, nbytes + rec.size_bytes)
        if rec.op == "delete":
            store.pop(key, None)
        else:
            store[key] = rec.value
        log_rev(rev)
        log_commit(rec.time_s)
        log_part(part)
        parts.append(part)
    cache.history_bytes = nbytes
    if recs:
        cache.revision = recs[-1].revision
    return parts
