"""WatchList (KEP-3157) against LIST/WATCH: the apiserver memory of N informers starting at once
(I10), the streaming encoding that bounds a LIST from the cache (KEP-5116), and an out-of-memory
restart."""

from __future__ import annotations

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.sync import run_sync

M, B = 1000, 10240  # objects, bytes each
MIB = 2**20


def _run(strategy: str, n: int, version: str, **apiserver) -> dict:
    """N exempt informers (APF does not spread them out) start at once against M objects of B bytes."""
    sc = scenario_from_dict({"name": "wl", "seed": 1, "duration_s": 30, "kubernetes_version": version,
                             "apiserver": apiserver,
                             "sync": {"clients": n, "objects": M, "object_bytes": B, "changes_per_s": 0,
                                      "start_spread_s": 0, "user_group": "system:masters"}})
    return run_sync(sc, strategy).summary["apiserver"]


@pytest.mark.parametrize("n", [10, 20, 40])
def test_list_watch_memory_grows_with_informers_times_state_and_watch_list_stays_at_2_mib_each(n):
    """1.32 (WatchList served, no streaming encoding): every LIST from the cache builds its whole
    response (2 x 10 MB, KEP-5116) and holds it until sent: peak = N x M x B x 2, all at once (the
    NIC drains them one after the other). A WatchList stream holds ~2 MiB (I10): N x 2 MiB."""
    lw = _run("list-watch", n, "1.32")
    wl = _run("watch-list", n, "1.32")
    assert lw["memory_transient_peak_bytes"] == pytest.approx(n * M * B * 2, rel=0.01)
    assert wl["memory_by_component_peak"]["watchlist_streams"] == pytest.approx(n * 2 * MIB, rel=0.01)
    assert wl["memory_by_component_peak"]["list_transient"] == 0
    assert lw["memory_transient_peak_bytes"] / wl["memory_transient_peak_bytes"] == pytest.approx(M * B / MIB, rel=0.02)


def test_streaming_encoding_bounds_a_list_from_the_cache_but_not_one_from_etcd():
    """1.35 (StreamingCollectionEncoding, KEP-5116): a LIST from the cache holds at most ~2 MiB; a
    LIST from etcd still holds 5 x what etcd returned (I10, KEP-3157)."""
    cache = _run("list-watch", 10, "1.35")
    assert cache["memory_transient_peak_bytes"] <= 10 * 2 * MIB * 1.01
    sc = scenario_from_dict({"name": "etcd", "seed": 1, "duration_s": 30, "kubernetes_version": "1.30",
                             "sync": {"clients": 1, "objects": M, "object_bytes": B, "changes_per_s": 0,
                                      "poll_list_limit": 0, "start_spread_s": 0, "user_group": "system:masters",
                                      "strategies": ["poll"], "poll_period_s": 100}})
    s = run_sync(sc, "poll").summary["apiserver"]
    assert s["memory_by_component_peak"]["list_transient"] == pytest.approx(5 * M * B, rel=0.01)


def test_a_list_storm_over_the_memory_limit_kills_the_apiserver():
    """40 x 20 MB of LIST buffers (1.32) over a 600 MB limit: the apiserver dies out of memory and
    restarts (every watch dropped, every informer relisting)."""
    s = _run("list-watch", 40, "1.32", memory={"limit_bytes": 600e6, "oom_restart_s": 5})
    assert s["oom_kills"] >= 1 and s["restarts"] >= 1
    ok = _run("list-watch", 40, "1.32", memory={"limit_bytes": 2e9})
    assert ok["oom_kills"] == 0
