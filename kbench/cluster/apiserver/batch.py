"""Batched writes: the kubelets' lease renewals due at one tick served as few requests.

:func:`submit_many` serves unconditional updates of one resource from one client class as
batches: one APF admission of k seats, k parallel handler CPU bookings, one etcd proposal of k
entries, one encode-and-transfer timeout, one watch-cache arrival per batch (issue 8: events, not requests, were the cost of lease
renewals). Stats and APF counters still count k requests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import simpy
from simpy.events import Timeout

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.serving import Response
from kbench.cluster.apiserver.storage import NONE, storage_of
from kbench.errors import EtcdQuotaExceeded


def submit_many(api, head: Request, items: list[tuple[str, object]],
                done: Callable[[list[str], Response], None]) -> None:
    """Serve unconditional updates of one resource from one client class as batches (the
    kubelets' lease renewals due at the same tick); ``done(keys, response)`` once per batch.

    ``head`` is one member's request (verb, resource, identity, size of each object);
    ``items`` are the ``(key, value)`` of every member. A batch of k requests is admitted by APF
    as one request holding k times the seats of one (batches are split so that none is wider
    than the level's current concurrency limit, so queueing and 429s stay honest), books one request's
    handler and encode CPU k times on the core pool (in parallel, as k requests would run),
    proposes its k entries to etcd as one call (each entry its own revision) and reaches the
    watch cache as one arrival. Every member shares the outcome; stats and APF counters count
    k requests.

    Args:
        api: The :class:`~kbench.cluster.apiserver.server.Apiserver`.
        head: One member's request.
        items: ``(key, value)`` of every member, in order.
        done: Called once per batch with its keys and the response.
    """
    fc = api.fc
    fc.classify(head)
    fc.estimate(head)
    one = max(head.seats, head.final_seats, 1)
    cl = fc.current_cl(head.level)  # the level's limit now (borrowing moves it)
    cap = max(1, cl // one) if cl > 0 else len(items)
    for i in range(0, len(items), cap):
        _submit_batch(api, head if i == 0 else copy.copy(head), items[i:i + cap], done)


def _submit_batch(api, head: Request, items: list[tuple[str, object]],
                  done: Callable[[list[str], Response], None]) -> None:
    env, cfg, stats, fc = api.env, api.cfg, api.stats, api.fc
    k = len(items)
    keys = [key for key, _ in items]
    if not api.up:
        key0 = (head.verb, head.resource, head.client, "")

        def refused(_e):
            stats.record_error(key0, k)
            done(keys, Response(503))

        env.timeout(0.001).callbacks.append(refused)
        return
    gen = api.generation
    t0 = env.now
    head.arrival_s = t0
    api._inflight_change(+k)
    fc.classify(head)
    fc.estimate(head)
    head.seats *= k
    counts = fc.level_counters(head.level)
    key = (head.verb, head.resource, head.client, head.level)

    def finish(resp: Response) -> None:
        api._inflight_change(-k)
        api.completed += k
        api.sojourn_sum_s += k * (env.now - t0)
        done(keys, resp)

    def sent(resp: Response) -> None:
        t1 = env.now
        wait = t_disp - t0
        stats.record(key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes, count=k)
        api.writes.add(head.component or head.client, head.verb, head.resource, k)
        finish(resp)

    def released(resp: Response) -> Response:  # seats freed; a restart or timeout meanwhile wins
        fc.release(head)
        counts["completed"] += k - 1
        if gen != api.generation:
            return Response(503)
        if env.now - t0 > cfg.request_timeout_s:
            return Response(504)
        return resp

    def handled(resp: Response) -> None:  # a storage error, before any encoding
        stats.record_error(key, k)
        finish(released(resp))

    def written(e: simpy.Event) -> None:
        if not e.ok:
            e.defused = True
            if isinstance(e.value, EtcdQuotaExceeded) or type(e.value).__name__.startswith("Etcd"):
                handled(Response(500))
                return
            raise e.value
        out = min(head.size_bytes, 4096)
        rev = e.value[-1] if isinstance(e.value, list) else e.value
        if op == NONE:
            out = cfg.token_response_bytes
        resp = Response(200, revision=rev, objects=1, size_bytes=out)
        # encode and transfer as one timeout, seats held until the responses are written (serving.py)
        delay = api._cpu_many_delay(k, out * cfg.encode_cpu_s_per_byte) + out / cfg.network_bytes_per_s
        Timeout(env, delay).callbacks.append(lambda _e: responded(resp))

    def responded(resp: Response) -> None:
        resp = released(resp)
        if not resp.ok:
            stats.record_error(key, k)
            finish(resp)
        else:
            sent(resp)

    def store(_e=None) -> None:
        etcd = api.etcds.get(resource) or api.etcd
        if op == NONE:  # TokenRequests: each reads two objects; one read stands for the batch's k
            etcd.read(resource, objects_scanned=2 * k, bytes_returned=2 * k * cfg.token_read_bytes,
                      linearizable=True).callbacks.append(written)
            return
        etcd.write_many(resource, op, head.stored_bytes or head.size_bytes, items).callbacks.append(written)

    def admitted(e: simpy.Event | None) -> None:
        nonlocal t_disp
        counts["arrived"] += k - 1
        counts["queued"] += queued * (k - 1)
        if e is not None and not e.value:
            counts["rejected_" + head.reject_reason.replace("-", "_")] += k - 1
            stats.record_rejected(key, k, flow_schema=head.flow.partition("/")[0], reason=head.reject_reason)
            finish(Response(429))
            return
        counts["dispatched"] += k - 1
        t_disp = env.now
        cpu = cfg.request_base_cpu_s + cfg.admission_cpu_s + (cfg.token_sign_cpu_s if op == NONE else 0.0)
        ev = api._cpu_many(k, cpu)
        if cfg.webhook_enabled:
            ev.callbacks.append(lambda _e: env.timeout(api._webhook()).callbacks.append(store))
        else:
            ev.callbacks.append(store)

    resource, op = head.store or storage_of(head.verb, head.resource)
    t_disp = t0
    queued0 = counts["queued"]
    ev = fc.admit(head, immediate=True)
    queued = counts["queued"] - queued0
    if ev is None:  # admitted at once, no event
        admitted(None)
    else:
        ev.callbacks.append(admitted)
