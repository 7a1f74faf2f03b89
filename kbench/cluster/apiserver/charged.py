"""Charged reads: a GET whose cost is booked arithmetically instead of served with events.

Upstream clients send GETs on hot paths whose own queueing matters little next to the write that
follows them: the kubelet's status manager GETs the pod (resourceVersion "", from etcd) before
every status PATCH (J9), the garbage collector GETs each item and its owner (K6), PodGC GETs a
missing node (K5). Serving each as a request costs about four SimPy events; :func:`charge_get`
books the same work without any: the handler's CPU on the apiserver's core pool, etcd's read
(:meth:`~kbench.cluster.etcd.server.Etcd.read_delay`: ReadIndex, apply wait, scan on a core, gRPC
round trip), the decode of the object from etcd, the response's encoding and transfer. It returns
the latency, which the caller adds to the delay of its next step (one timeout for "GET, then
PATCH"), and records the request in the statistics as served.

Not modelled for a charged read: its APF seat (it is not admitted or queued; the level's other
requests do not see it) and the steps' exact interleaving (each is booked as if it started now).
"""

from __future__ import annotations

from kbench.cluster.apiserver.request import Request


def charge_get(api, req: Request, *, objects: int = 1, from_etcd: bool = True) -> float:
    """Book one GET (or a LIST of ``objects``) without events; returns its latency, seconds.

    Args:
        api: The :class:`~kbench.cluster.apiserver.server.Apiserver`.
        req: The request (verb ``get`` or ``list``, resource, identity, ``size_bytes`` of the
            response); its APF level is looked up once per (client class, verb, resource): kbench's
            flow schemas classify every client of a class alike.
        objects: Objects read.
        from_etcd: A quorum read from etcd (resourceVersion ""); False reads the watch cache.
    """
    if not api.up:
        api.stats.record_error((req.verb, req.resource, req.client, ""))
        return 0.001
    size = req.size_bytes
    pk = (req.client, req.verb, req.resource, size, objects, from_etcd)
    plan = api.charged_plans.get(pk)
    if plan is None:
        plan = api.charged_plans[pk] = _plan(api, req, objects, from_etcd)
    stats_key, egress_key, cpu_before, cpu_after, etcd = plan
    cpu = api._cpu_delay
    latency = cpu(cpu_before)
    if etcd is not None:
        latency += etcd.read_delay(objects, size, linearizable=True, resource=req.resource)
        latency += cpu(cpu_after)
    if size > api.cfg.gzip.threshold_bytes:  # gzip, as Serve._respond (I3, I29-I31)
        size, zcpu = api.compressed(req, size)
        if zcpu:
            latency += cpu(zcpu)
    if size:
        latency = api._send_delay(latency, size)  # the client's link and the shared NIC
        tr = api.traffic  # Traffic.out, inlined: every byte sent is in the egress ledger
        tr.egress[egress_key] = tr.egress.get(egress_key, 0.0) + size
        tr.by_kind["response"] += size
    api.stats.record(stats_key, sli_s=latency, e2e_s=latency, wait_s=0.0, nbytes=size)
    return latency


def _plan(api, req: Request, objects: int, from_etcd: bool) -> tuple:
    """What every charged read of one (client class, verb, resource, size, objects, source) shares:
    its statistics key (with the APF level of the first such request: kbench's flow schemas classify
    every client of a class alike) and egress key, the handler's CPU before and after the etcd read
    (seconds), and the etcd that serves it (None from the watch cache)."""
    cfg = api.cfg
    api.fc.classify(req)
    size = req.size_bytes
    if from_etcd:
        before = cfg.request_base_cpu_s
        after = (objects * cfg.list_etcd_cpu_s_per_object
                 + size * (cfg.list_etcd_cpu_s_per_byte + cfg.encode_cpu_s_per_byte))  # I22
        etcd = api.etcd_for(req.resource)
    else:
        before = (cfg.request_base_cpu_s + objects * cfg.list_cache_cpu_s_per_object
                  + size * cfg.encode_cpu_s_per_byte)
        after, etcd = 0.0, None
    return ((req.verb, req.resource, req.client, req.level), ("response", req.resource, req.client), before,
            after, etcd)
