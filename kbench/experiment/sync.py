"""The List vs List-Watch experiment (DESIGN.md, "The List vs List-Watch experiment").

N clients each keep a cache of the objects of one kind; a writer changes objects at a Poisson
rate through the apiserver. Strategy ``poll``: each client LISTs every period (with jitter).
Strategy ``list-watch``: one LIST, then a WATCH from the watch cache, re-established on timeout
(A7) and relisting on 410 Gone or slow-watcher termination. Both strategies of one seed see the
same change sequence (common random numbers: the writer draws from its own stream).

Staleness is the time from a change's commit in etcd until a client has it in its cache, for every
(change, client) pair: for watchers, delivery (computed in bulk, see ``kbench.cluster.apiserver.watchcache``);
for pollers, the end of the first LIST served at a revision that includes the change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from kbench.cluster.apiserver.server import Response
from kbench.cluster.apiserver.watchcache import PassiveGroup
from kbench.cluster.clients.reflector import InformerStats, informer, poller
from kbench.cluster.controlplane import ControlPlane
from kbench.config import Scenario
from kbench.config.loader import calibration_manifest, config_hash, to_dict
from kbench.metrics.collect import LogHistogram
from kbench.results.store import RunWriter, new_run_id


@dataclass
class SyncResult:
    """The outcome of one strategy: the summary (the ``-o json`` object) and the run folder."""

    summary: dict[str, Any]
    run_dir: Path | None = None
    frames: dict[str, Any] = field(default_factory=dict)


def _writer(env: simpy.Environment, plane: ControlPlane, cfg, rng: np.random.Generator, cache) -> Any:
    """Poisson changes to uniformly chosen objects, each an UPDATE through the apiserver."""
    client = plane.client("writer", "writer", "system:kube-controller-manager", ("system:authenticated",))
    client.limiter.qps = 0  # the writer models many controllers: no client-side limit
    n = cfg.objects
    mean_gap = 1.0 / cfg.changes_per_s

    def one(obj: int):
        req = client.request("update", cfg.resource, name=f"obj-{obj}", size_bytes=int(cfg.object_bytes),
                             watchers=cache.watcher_count(obj % cfg.clients if cfg.scope == "partitioned" else None))
        yield from client.call(env, plane.api, req)

    while True:
        yield env.timeout(float(rng.exponential(mean_gap)))
        env.process(one(int(rng.integers(n))))


def run_sync(scenario: Scenario, strategy: str, *, seed: int | None = None, out_dir: str | Path | None = None
             ) -> SyncResult:
    """Run one strategy of the sync experiment.

    Args:
        scenario: The scenario (its ``sync`` section sets clients, objects, rates...).
        strategy: ``poll`` or ``list-watch``.
        seed: Overrides the scenario's seed.
        out_dir: Where to write the run folder (none when ``None``).

    Returns:
        The summary with the keys scripts rely on (see CLI.md, ``kbench sync``).
    """
    seed = scenario.seed if seed is None else seed
    scenario = replace(scenario, seed=seed)
    cfg = scenario.sync
    wall0 = time.perf_counter()
    plane = ControlPlane.build(scenario)
    env, api = plane.env, plane.api
    seeds = plane.seeds
    object_bytes = int(cfg.object_bytes)
    keys = [f"obj-{i}" for i in range(cfg.objects)]
    plane.etcd.preload(cfg.resource, keys, object_bytes)
    cache = api.cache(cfg.resource)
    partitioned = cfg.scope == "partitioned"
    if partitioned:
        for i, k in enumerate(keys):
            cache.partition_of[k] = i % cfg.clients
    per_client_objects = -(-cfg.objects // cfg.clients) if partitioned else cfg.objects
    list_bytes = per_client_objects * object_bytes
    staleness = LogHistogram()
    istats = InformerStats()
    client_rng = seeds.stream("clients")
    writer_rng = seeds.stream("workload")
    plane.start()
    env.process(_writer(env, plane, cfg, writer_rng, cache))

    def list_request_for(client):
        return lambda: client.request("list", cfg.resource, list_objects=per_client_objects,
                                      size_bytes=list_bytes, from_cache=True, selector=partitioned)

    clients = [plane.client(f"sync-{i}", cfg.client_class, f"system:serviceaccount:sync:client-{i}",
                            (cfg.user_group, "system:authenticated")) for i in range(cfg.clients)]
    if strategy == "poll":
        last_rv = np.zeros(cfg.clients, dtype=np.int64)

        def on_poll(i: int):
            def cb(resp: Response, done_s: float) -> None:
                if last_rv[i]:
                    commits = cache.log.between(int(last_rv[i]), resp.revision, i if partitioned else None)
                    staleness.add(done_s - commits)
                last_rv[i] = resp.revision
            return cb

        for i, c in enumerate(clients):
            env.process(poller(env, api, c, period_s=cfg.poll_period_s, jitter=cfg.poll_jitter,
                               rng=client_rng, list_request=list_request_for(c), on_list=on_poll(i)))
    else:
        group = PassiveGroup(cfg.clients, np.zeros(cfg.clients), buffer=cache.wc.buffer_max,
                             partition=np.arange(cfg.clients) if partitioned else None, staleness=staleness)
        cache.passive.append(group)
        closers: list[simpy.Event | None] = [None] * cfg.clients

        def on_close(i: int, reason: str) -> None:
            ev = closers[i]
            closers[i] = None
            if ev is not None and not ev.triggered:
                ev.succeed((reason, int(group.rv[i])))

        group.on_close = on_close

        def make(i: int):
            def on_list(resp: Response) -> None:
                if group.rv[i]:
                    commits = cache.log.between(int(group.rv[i]), resp.revision, i if partitioned else None)
                    staleness.add(env.now - commits)
                group.rv[i] = resp.revision

            def connect(rv: int) -> simpy.Event:
                commits = cache.log.between(rv, cache.revision, i if partitioned else None)
                staleness.add(env.now - commits)
                group.rv[i] = cache.revision
                group.connected[i] = True
                ev = env.event()
                closers[i] = ev
                timeout = cfg_client.watch_timeout_min_s * (1.0 + float(client_rng.random()))
                env.timeout(timeout).callbacks.append(
                    lambda _e: closers[i] is ev and _close_one(i, "timeout"))
                return ev

            return on_list, connect

        def _close_one(i: int, reason: str) -> None:
            group.connected[i] = False
            on_close(i, reason)

        cfg_client = scenario.client_class(cfg.client_class)
        for i, c in enumerate(clients):
            on_list, connect = make(i)
            env.process(_delayed(env, float(client_rng.random()) * min(cfg.start_spread_s, scenario.duration_s / 10),
                                 informer(env, api, c, cfg.resource, list_request=list_request_for(c),
                                          rng=client_rng, on_list=on_list, connect=connect, stats=istats)))

    if cfg.apiserver_restart_at_s > 0:
        env.timeout(cfg.apiserver_restart_at_s).callbacks.append(
            lambda _e: api.restart(cfg.apiserver_downtime_s))
    env.run(until=scenario.duration_s)
    wall = time.perf_counter() - wall0
    summary = _summary(plane, strategy, cfg, scenario.duration_s, wall, staleness, istats)
    summary["events"] = int(next(env._eid))  # events the SimPy kernel scheduled (kbench bench)
    result = SyncResult(summary, frames={"requests": plane.stats.to_frame(), "series": plane.series.to_frame()})
    if out_dir is not None:
        result.run_dir = _write(out_dir, scenario, strategy, result)
        summary["run_dir"] = str(result.run_dir)
    return result


def _delayed(env: simpy.Environment, delay: float, gen):
    yield env.timeout(delay)
    yield from gen


def _summary(plane: ControlPlane, strategy: str, cfg, virtual_s: float, wall_s: float,
             staleness: LogHistogram, istats: InformerStats) -> dict[str, Any]:
    st = plane.stats
    es = plane.etcd.snapshot()

    def rate(verb: str) -> float:
        return st.total("count", verb=verb, resource=cfg.resource) / virtual_s

    def q(p: float) -> float | None:
        v = staleness.quantile(p)
        return None if v != v else round(v, 6)

    return {
        "strategy": strategy,
        "clients": cfg.clients,
        "objects": cfg.objects,
        "virtual_s": virtual_s,
        "wall_s": round(wall_s, 3),
        "apiserver": {
            "requests_per_s": {"list": rate("list"), "watch": rate("watch"), "get": rate("get"),
                               "update": rate("update")},
            "bytes_per_s": st.total("bytes") / virtual_s,
            "cpu_s": plane.api.cpu_s,
            "rejected_429": int(st.total("rejected_429")),
            "errors": int(st.total("errors")),
            "inflight_mean": plane.api.inflight_mean(virtual_s),
        },
        "etcd": {"reads_per_s": es.reads / virtual_s, "writes_per_s": es.writes / virtual_s,
                 "db_size_bytes": plane.etcd.db_size_bytes},
        "staleness_s": {"mean": None if staleness.count == 0 else round(staleness.mean, 6),
                        "p50": q(0.5), "p99": q(0.99),
                        "max": round(staleness.max, 6) if staleness.count else None,
                        "samples": staleness.count},
        "relists": istats.relists,
        "lists": st.total("count", verb="list", resource=cfg.resource),
        "watch_terminations_slow": sum(g.terminated_slow for c in plane.api.caches.values() for g in c.passive),
        "apf_rejected": {lv: sum(v for k, v in c.items() if k.startswith("rejected"))
                         for lv, c in plane.fc.counters().items()},
    }


def _write(out_dir: str | Path, scenario: Scenario, strategy: str, result: SyncResult) -> Path:
    writer = RunWriter(out_dir, new_run_id(scenario.name, scenario.seed, f"sync-{strategy}"),
                       {"kind": "sync", "scenario": scenario.name, "strategy": strategy,
                        "seed": scenario.seed, "config": to_dict(scenario), "config_hash": config_hash(scenario),
                            **calibration_manifest(scenario)})
    for name, df in result.frames.items():
        writer.table(name, df)
    writer.json("summary", result.summary)
    return writer.finish("complete", wall_s=result.summary["wall_s"])
