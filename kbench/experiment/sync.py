"""The List vs List-Watch experiment (DESIGN.md, "The List vs List-Watch experiment"; issue 16).

N clients each keep a cache of the objects of one kind; a writer changes objects at a Poisson
rate through the apiserver. Strategies, each a separate run on the same seed (common random
numbers: the writer draws from its own stream):

* ``poll``: each client LISTs every period (with jitter) as ``kubectl get`` does: no
  resourceVersion (a consistent read), pages of ``poll_list_limit`` objects (I26); where that is
  served (etcd, or the watch cache once fresh) follows the feature gates (KEP-2340, I8);
* ``list-watch``: a client-go informer: one LIST (resourceVersion "0", from the cache), then a
  WATCH, resumed from the last revision received whenever it ends, relisting on 410 Gone;
* ``watch-list``: the same informer syncing with a WATCH that streams the initial state
  (``sendInitialEvents``, KEP-3157) instead of the LIST.

Staleness is the time from a change's commit in etcd until a client has it in its cache, for every
(change, client) pair: for watchers, delivery (computed in bulk, see
``kbench.cluster.apiserver.watchpassive``); for pollers, the end of the first LIST served at a
revision that includes the change. The summary (:mod:`kbench.experiment.syncsummary`) counts every
byte, read, seat and write where it flows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from kbench.cluster.apiserver.request import Response
from kbench.cluster.apiserver.watchcache import PassiveGroup
from kbench.cluster.apiserver.watchpassive import close_members
from kbench.cluster.clients.reflector import InformerStats, informer, poller
from kbench.cluster.controlplane import ControlPlane
from kbench.config import Scenario
from kbench.config.loader import calibration_manifest, config_hash, to_dict
from kbench.experiment.syncsummary import summarize_sync
from kbench.metrics.collect import LogHistogram
from kbench.results.store import RunWriter, new_run_id
from kbench.simkernel import events_scheduled


@dataclass
class SyncResult:
    """The outcome of one strategy: the summary (the ``-o json`` object) and the run folder."""

    summary: dict[str, Any]
    run_dir: Path | None = None
    frames: dict[str, Any] = field(default_factory=dict)
    plane: Any = None  # the control plane (for ``--metrics``)


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
        strategy: ``poll``, ``list-watch`` or ``watch-list``.
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
    staleness = LogHistogram()
    istats = InformerStats()
    polls = [0]
    client_rng = seeds.stream("clients")
    writer_rng = seeds.stream("workload")
    plane.start()
    if cfg.changes_per_s > 0:
        env.process(_writer(env, plane, cfg, writer_rng, cache))
    selector = partitioned or cfg.selector_match_fraction < 1.0

    def request_for(client, i: int, poll: bool):
        def make():
            req = client.request("list", cfg.resource, size_bytes=object_bytes, selector=selector,
                                 match_fraction=cfg.selector_match_fraction, partition=i if partitioned else None)
            if poll:
                req.rv, req.limit = cfg.poll_resource_version, cfg.poll_list_limit
            return req
        return make

    clients = [plane.client(f"sync-{i}", cfg.client_class, f"system:serviceaccount:sync:client-{i}",
                            (cfg.user_group, "system:authenticated")) for i in range(cfg.clients)]
    if strategy == "poll":
        last_rv = np.zeros(cfg.clients, dtype=np.int64)

        def on_poll(i: int):
            def cb(resp: Response, done_s: float) -> None:
                polls[0] += 1
                if last_rv[i]:
                    commits = cache.log.between(int(last_rv[i]), resp.revision, i if partitioned else None)
                    staleness.add(done_s - commits)
                last_rv[i] = max(int(last_rv[i]), resp.revision)
            return cb

        for i, c in enumerate(clients):
            env.process(poller(env, api, c, period_s=cfg.poll_period_s, jitter=cfg.poll_jitter, rng=client_rng,
                               list_request=request_for(c, i, True), on_list=on_poll(i),
                               open_loop=cfg.poll_open_loop))
    else:
        _watchers(env, api, scenario, cache, clients, staleness, istats, request_for, client_rng,
                  watch_list=strategy == "watch-list", partitioned=partitioned)

    if cfg.apiserver_restart_at_s > 0:
        env.timeout(cfg.apiserver_restart_at_s).callbacks.append(
            lambda _e: api.restart(cfg.apiserver_downtime_s))
    env.run(until=scenario.duration_s)
    wall = time.perf_counter() - wall0
    summary = summarize_sync(plane, scenario, strategy, wall, staleness, istats, polls[0])
    summary["events"] = events_scheduled(env)  # events the SimPy kernel scheduled (kbench bench)
    result = SyncResult(summary, frames={"requests": plane.stats.to_frame(), "series": plane.series.to_frame()},
                        plane=plane)
    if out_dir is not None:
        result.run_dir = _write(out_dir, scenario, strategy, result)
        summary["run_dir"] = str(result.run_dir)
    return result


def _watchers(env, api, scenario, cache, clients, staleness, istats, request_for, rng, *, watch_list: bool,
              partitioned: bool) -> None:
    """Informers as one passive group of the cache (bulk delivery), each with its reflector loop."""
    cfg = scenario.sync
    n = cfg.clients
    ccfg = scenario.client_class(cfg.client_class)
    group = PassiveGroup(n, np.full(n, ccfg.watch_event_process_s),
                         buffer=cache.watch_buffer(indexed=partitioned),
                         partition=np.arange(n) if partitioned else None, staleness=staleness,
                         client=cfg.client_class)
    cache.passive.append(group)
    closers: list[simpy.Event | None] = [None] * n

    def on_close(i: int, reason: str) -> None:
        ev = closers[i]
        closers[i] = None
        if ev is not None and not ev.triggered:
            ev.succeed((reason, int(group.rv[i])))

    group.on_close = on_close

    def make(i: int):
        part = i if partitioned else None

        def on_list(resp: Response) -> None:
            if group.rv[i]:
                commits = cache.log.between(int(group.rv[i]), resp.revision, part)
                staleness.add(env.now - commits)
            group.rv[i] = resp.revision

        def connect(rv: int) -> simpy.Event:
            commits = cache.log.between(rv, cache.revision, part)
            if commits.size:  # events missed since rv: replayed from the history
                cache.replay_passive(group, commits.size)
                staleness.add(env.now - commits)
            group.rv[i] = max(rv, cache.revision)
            group.connected[i] = True
            group.opened_s[i] = env.now
            group.backlog_until[i] = env.now
            ev = env.event()
            closers[i] = ev
            timeout = ccfg.watch_timeout_min_s * (1.0 + float(rng.random()))
            env.timeout(timeout).callbacks.append(
                lambda _e: closers[i] is ev and close_members(group, np.array([i]), env.now, "timeout", cache))
            return ev

        return on_list, connect

    for i, c in enumerate(clients):
        on_list, connect = make(i)
        env.process(_delayed(env, float(rng.random()) * min(cfg.start_spread_s, scenario.duration_s / 10),
                             informer(env, api, c, cfg.resource, list_request=request_for(c, i, False),
                                      rng=rng, on_list=on_list, connect=connect, stats=istats,
                                      watch_list=watch_list)))


def _delayed(env: simpy.Environment, delay: float, gen):
    yield env.timeout(delay)
    yield from gen


def _write(out_dir: str | Path, scenario: Scenario, strategy: str, result: SyncResult) -> Path:
    writer = RunWriter(out_dir, new_run_id(scenario.name, scenario.seed, f"sync-{strategy}"),
                       {"kind": "sync", "scenario": scenario.name, "strategy": strategy,
                        "seed": scenario.seed, "config": to_dict(scenario), "config_hash": config_hash(scenario),
                        **calibration_manifest(scenario)})
    for name, df in result.frames.items():
        writer.table(name, df)
    writer.json("summary", result.summary)
    return writer.finish("complete", wall_s=result.summary["wall_s"])
