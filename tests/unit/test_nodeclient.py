"""The kubelet's process-free GET and write (``NodeClient.get``/``write``) match ``World.get``/``write``
in a process: the same responses at the same times, the same stats, and the same event order."""

import pytest

from kbench.cluster.kubelet.nodeclient import NodeClient
from kbench.cluster.objects.stored import NODE_BYTES
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.workload.podspec import nodes_from_groups


def _world(etcd_reads: bool):
    w = World(scenario_from_dict({"duration_s": 60}), 1)
    w.add_nodes(nodes_from_groups([NodeGroup(count=4)]))
    w.plane.start()
    if etcd_reads:
        w.api.disable_watch_cache_lists(0)
    c = w.client("kubelet-x", "kubelet", "system:node:x", ("system:nodes", "system:authenticated"))
    nc = NodeClient(c.name, c.client_class, c.user, c.groups, c.limiter, c.cfg)
    return w, nc


def _trace(process_free: bool, etcd_reads: bool):
    """Each node: GET it, then PATCH it ready=False if unchanged; (node, step, code, time) of each."""
    w, nc = _world(etcd_reads)
    out = []
    for i, name in enumerate(w.node_specs):
        def patched(resp, name=name):
            out.append((name, "patch", resp.code, w.env.now))

        def got(resp, name=name):
            out.append((name, "get", resp.code, w.env.now, resp.items.key))
            cur = resp.items
            if process_free:
                nc.write(w, "patch", "nodes", name, cur.evolve(ready=False), patched, size_bytes=NODE_BYTES,
                         precondition=lambda v, c=cur: v is c)
            else:
                def go():
                    resp = yield from w.write(nc, "patch", "nodes", name, cur.evolve(ready=False),
                                              size_bytes=NODE_BYTES, precondition=lambda v, c=cur: v is c)
                    patched(resp)
                w.env.process(go())

        def start(_e, name=name, got=got):
            if process_free:
                nc.get(w.env, w.api, nc.request("get", "nodes", name=name, size_bytes=NODE_BYTES, want_items=True),
                       got)
            else:
                def go():
                    got((yield from w.get(nc, "nodes", name, size_bytes=NODE_BYTES)))
                w.env.process(go())

        w.env.timeout(0.001 * (i // 2)).callbacks.append(start)  # two at a time: they share the cores
    w.env.run(until=5)
    stats = w.api.stats
    return out, [stats.total("count", verb=v, resource="nodes") for v in ("get", "patch")], \
        [w.plane.etcd.get("nodes", n).ready for n in w.node_specs]


@pytest.mark.parametrize("etcd_reads", [False, True], ids=["watch-cache", "etcd"])
def test_process_free_get_and_patch_match_the_process_path(etcd_reads):
    free = _trace(True, etcd_reads)
    proc = _trace(False, etcd_reads)
    assert free == proc
    out, counts, ready = free
    assert counts == [4, 4] and ready == [False] * 4
    assert [x[2] for x in out] == [200] * 8


def test_serve_get_refuses_writes():
    from kbench.cluster.kubelet.nodeclient import serve_get
    w, nc = _world(False)
    with pytest.raises(ValueError, match="GETs only"):
        serve_get(w.api, nc.request("patch", "nodes", name="x"), lambda r: None)
