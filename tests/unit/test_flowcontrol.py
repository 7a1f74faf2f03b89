"""Unit tests of APF: classification, seats, queuing, rejection, legacy max-inflight (exact traces)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.readpath import Route
from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.workestimate import deal_hand
from kbench.config import FlowControlConfig, FlowSchemaConfig, PriorityLevelConfig

INF = float("inf")


def one_level(seats: int, queues: int = 1, hand: int = 1, qlen: int = 10**9, wait_s: float = INF,
              reject: bool = False) -> FlowControlConfig:
    """A config with one level "q" of NominalCL ``seats`` that every request maps to."""
    levels = {"q": PriorityLevelConfig(shares=1, queues=queues, hand_size=hand, queue_length_limit=qlen,
                                       reject=reject)}
    schemas = {"all": FlowSchemaConfig("q", 1, groups=["*"])}
    return FlowControlConfig(max_requests_inflight=seats, max_mutating_requests_inflight=0,
                             levels=levels, flow_schemas=schemas, queue_wait_limit_s=wait_s)


def make(cfg: FlowControlConfig | None = None, **kw) -> tuple[simpy.Environment, FlowControl]:
    env = simpy.Environment()
    return env, FlowControl(env, cfg or FlowControlConfig(), np.random.default_rng(0), **kw)


def call(env, fc, req, hold_s, log, at_s=0.0):
    """Arrive at ``at_s``, wait for admission, hold ``hold_s``, release; log (label, time, ok)."""
    if at_s:
        yield env.timeout(at_s)
    ok = yield fc.admit(req)
    log.append((req.client, env.now, ok, req.reject_reason))
    if ok:
        yield env.timeout(hold_s)
        fc.release(req)


def req(label: str, verb: str = "get", resource: str = "pods", *, level: str = "", flow: str = "f",
        seats: int = 1, **kw) -> Request:
    r = Request(verb, resource, client=label, user=kw.pop("user", "u"), **kw)
    if level:
        r.level, r.flow, r.seats = level, flow, seats
    return r


KUBELET = dict(user="system:node:n1", groups=("system:nodes", "system:authenticated"))
SCHED = dict(user="system:kube-scheduler", groups=("system:authenticated",))
SA = dict(user="system:serviceaccount:default:app",
          groups=("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))


@pytest.mark.parametrize("verb,resource,who,level,flow", [
    ("update", "leases", KUBELET, "node-high", "system-node-high/system:node:n1"),
    ("patch", "nodes/status", KUBELET, "node-high", "system-node-high/system:node:n1"),
    ("list", "pods", KUBELET, "system", "system-nodes/system:node:n1"),
    ("create", "pods", SCHED, "workload-high", "kube-scheduler/kube-system"),
    ("update", "leases", SCHED, "leader-election", "system-leader-election/system:kube-scheduler"),
    ("delete", "leases", SCHED, "workload-high", "kube-scheduler/kube-system"),  # verb not in 100
    ("list", "configmaps", SA, "workload-low", "service-accounts/system:serviceaccount:default:app"),
    ("get", "pods", dict(user="system:anonymous", groups=("system:unauthenticated",)),
     "global-default", "global-default/system:anonymous"),
    ("get", "pods", dict(user="admin", groups=("system:masters",)), "exempt", "exempt/"),
    ("get", "pods", dict(user="nobody", groups=()), "catch-all", "catch-all/nobody"),
])
def test_classification_table(verb, resource, who, level, flow):
    """Flow schemas in ascending precedence (A12); distinguisher by user, namespace or none."""
    _, fc = make()
    r = Request(verb, resource, namespace="kube-system", **who)
    fc.classify(r)
    assert (r.level, r.flow) == (level, flow)


def test_nominal_cl_defaults_match_a11():
    """ceil(600 x shares / 245) per level (A10, A11)."""
    _, fc = make()
    got = {lv: fc.nominal_cl(lv) for lv in fc.levels()}
    assert got == {"exempt": 0, "system": 74, "node-high": 98, "leader-election": 25,
                   "workload-high": 98, "workload-low": 245, "global-default": 49, "catch-all": 13}


CACHE, ETCD = Route("cache"), Route("etcd")


@pytest.mark.parametrize("kw,level,seats", [
    # from the cache: N = 10,000 stored -> 100 seats -> global LIST cap 10 (A14)
    (dict(route=CACHE), "workload-low", 10),
    # per-level cap of leader-election: max(1, min(ceil(0.15 x 25)=4, 25 // 4=6)) = 4 (A26)
    (dict(route=CACHE), "leader-election", 4),
    # a kubelet's indexed LIST of its pods from the cache: still N = 10,000 stored -> cap 10
    (dict(route=CACHE, partition="n1", selector=True), "workload-low", 10),
    # from etcd, no selector: 2 x L = 2 x 200 = 400 objects -> 4 seats (A15)
    (dict(route=ETCD, limit=200), "workload-low", 4),
    # from etcd with a selector: N + L = 150 + 150 = 300 -> 3 seats
    (dict(route=ETCD, selector=True, n=150), "workload-low", 3),
    # from etcd, limit above N: L = N = 120 -> 240 -> 3 seats
    (dict(route=ETCD, limit=500, n=120), "workload-low", 3),
    # a named object -> 1 seat; unknown resource (0 objects) -> minimum 1 seat
    (dict(route=CACHE, name="x"), "workload-low", 1),
    (dict(route=CACHE, n=0), "workload-low", 1),
])
def test_list_seats(kw, level, seats):
    """Seats from the objects stored (A15), by where the LIST is served, not what it returns."""
    n = kw.pop("n", 10_000)
    _, fc = make(object_count=lambda res: n)
    r = Request("list", "pods", **kw)
    r.level = level
    fc.estimate(r)
    assert (r.seats, r.final_seats) == (seats, 0)


@pytest.mark.parametrize("kw,n,size,seats", [
    # A16, from the cache: L x size capped at 1,000,000 B -> 10 seats; a small L: 50 x 1 KB -> 1
    (dict(route=CACHE), 150_000, 2_000, 10),
    (dict(route=CACHE, limit=50), 150_000, 1_000, 1),
    # from etcd with a selector: max(L, N/2) = 75,000 x 2 KB = 150 MB -> 1500 -> global cap 100
    (dict(route=ETCD, selector=True, limit=500), 150_000, 2_000, 37),  # workload-low's level cap 37 (A26)
    # from etcd, no selector: L = 500 x 20 KB = 10 MB -> 100 seats -> level cap 37
    (dict(route=ETCD, limit=500), 1_000, 20_000, 37),
    (dict(route=ETCD, limit=10), 1_000, 20_000, 2),  # 10 x 20 KB = 200 KB -> 2 seats
])
def test_size_based_list_seats(kw, n, size, seats):
    """SizeBasedListCostEstimate (A16): seats = ceil(bytes loaded / 100 kB)."""
    _, fc = make(object_count=lambda res: n, object_bytes=lambda res: n * size,
                 gates={"SizeBasedListCostEstimate": True})
    r = Request("list", "pods", **kw)
    r.level = "workload-low"
    fc.estimate(r)
    assert r.seats == seats


def test_watch_with_initial_events_is_charged_as_a_cached_list():
    """A15: sendInitialEvents, and since 1.35 a legacy watch from "" or "0", cost a LIST from the cache."""
    _, fc = make(object_count=lambda res: 5_000, gates={"WatchInitEventsCharge": True})
    for kw, seats in ((dict(send_initial_events=True, rv=""), 10), (dict(rv="0"), 10), (dict(rv="123"), 1)):
        r = Request("watch", "pods", **kw)
        r.level = "workload-low"
        fc.estimate(r)
        assert r.seats == seats, kw


def test_list_seats_use_object_count_when_request_has_none():
    _, fc = make(object_count=lambda res: {"pods": 450}.get(res, 0))
    r = Request("list", "pods", user="system:anonymous", groups=("system:unauthenticated",))
    fc.estimate(r)  # global-default, cap 8; 450 objects from the cache -> 5 seats
    assert (r.level, r.seats) == ("global-default", 5)


@pytest.mark.parametrize("watchers,level,final,additional_s", [
    (9, "workload-low", 0, 0.0),  # below watchesPerSeat: no final seats
    (25, "workload-low", 3, 0.005),  # ceil(25 / 10) = 3 seats for 5 ms (A14)
    (250, "workload-low", 10, 0.0125),  # 25 x 5 ms capped at 10 seats -> 12.5 ms, same seat-time
    (250, "leader-election", 4, 0.03125),  # per-level cap 4 -> 125 seat-ms / 4
])
def test_mutating_final_seats(watchers, level, final, additional_s):
    _, fc = make()
    r = Request("update", "pods", watchers=watchers)
    r.level = level
    fc.estimate(r)
    assert (r.seats, r.final_seats) == (1, final)
    assert r.additional_s == pytest.approx(additional_s)


def test_watch_and_get_take_one_seat():
    _, fc = make()
    for verb in ("watch", "get"):
        r = Request(verb, "pods", list_objects=100_000, user="system:anonymous",
                    groups=("system:unauthenticated",))
        fc.estimate(r)
        assert (r.seats, r.final_seats) == (1, 0)


def test_fifo_queue_and_queue_full():
    """1 seat, one queue of 2: the 4th concurrent request gets 429 queue-full."""
    env, fc = make(one_level(1, qlen=2))
    log = []
    for i in range(4):
        env.process(call(env, fc, req(f"r{i}"), 1.0, log))
    env.run()
    assert log == [("r0", 0, True, ""), ("r3", 0, False, "queue-full"),
                   ("r1", 1.0, True, ""), ("r2", 2.0, True, "")]
    c = fc.counters()["q"]
    assert (c["dispatched"], c["queued"], c["rejected_queue_full"], c["completed"]) == (3, 2, 1, 3)


def test_time_out_after_wait_limit():
    """A request still queued 15 s after arrival gets 429 time-out (A25); its queue place frees."""
    env, fc = make(one_level(1, wait_s=15.0))
    log = []
    env.process(call(env, fc, req("long"), 20.0, log))
    env.process(call(env, fc, req("late"), 1.0, log, at_s=2.0))
    env.process(call(env, fc, req("ok"), 1.0, log, at_s=10.0))
    env.run(until=16.9)
    assert fc.queue_length("q") == 2
    env.run(until=17.5)
    assert fc.queue_length("q") == 1  # "ok" waits, "late" is gone
    env.run()
    assert log == [("long", 0, True, ""), ("late", 17.0, False, "time-out"),
                   ("ok", 20.0, True, "")]
    assert fc.counters()["q"]["rejected_time_out"] == 1


def test_catch_all_rejects_without_queuing():
    """catch-all (13 seats, LimitResponse=Reject): the 14th concurrent request gets 429 reject
    (borrowing off: the level keeps its NominalCL)."""
    env, fc = make(FlowControlConfig(borrowing=False))
    log = []
    for i in range(14):
        env.process(call(env, fc, req(f"r{i}", user="nobody"), 1.0, log))
    env.run(until=0.5)
    assert [x for x in log if not x[2]] == [("r13", 0, False, "reject")]
    assert (fc.seats_in_use("catch-all"), fc.queue_length("catch-all")) == (13, 0)


def test_exempt_never_queues():
    env, fc = make()
    log = []
    for i in range(1000):
        env.process(call(env, fc, req(f"r{i}", groups=("system:masters",)), 1.0, log))
    env.run(until=0.5)
    assert len(log) == 1000 and all(ok for _, t, ok, _ in log if t == 0)
    assert (fc.seats_in_use("exempt"), fc.queue_length("exempt")) == (1000, 0)


def test_legacy_max_inflight():
    """Legacy mode: 2 read-only, 1 mutating in flight; WATCH and system:masters are not limited."""
    cfg = FlowControlConfig(enabled=False, max_requests_inflight=2, max_mutating_requests_inflight=1)
    env, fc = make(cfg)
    log = []
    for i in range(3):
        env.process(call(env, fc, req(f"get{i}"), 1.0, log))
    env.process(call(env, fc, req("watch", "watch"), 1.0, log))
    env.process(call(env, fc, req("admin", groups=("system:masters",)), 1.0, log))
    env.process(call(env, fc, req("c0", "create"), 1.0, log))
    env.process(call(env, fc, req("c1", "create"), 1.0, log))
    env.process(call(env, fc, req("get-later"), 1.0, log, at_s=1.5))
    env.run()
    assert log == [("get0", 0, True, ""), ("get1", 0, True, ""), ("get2", 0, False, "max-inflight"),
                   ("watch", 0, True, ""), ("admin", 0, True, ""), ("c0", 0, True, ""),
                   ("c1", 0, False, "max-inflight"), ("get-later", 1.5, True, "")]
    assert fc.levels() == ["readonly", "mutating", "long-running"]
    assert fc.counters()["readonly"]["rejected_max_inflight"] == 1


def test_final_seats_held_for_additional_time():
    """An update with 25 watchers holds 3 seats until 5 ms after it finishes (A14)."""
    env, fc = make(one_level(3))
    upd = req("upd", "update", level="q", seats=1)
    upd.final_seats, upd.additional_s = 3, 0.005
    log = []
    env.process(call(env, fc, upd, 1.0, log))
    env.process(call(env, fc, req("get", level="q"), 1.0, log, at_s=0.5))
    env.run(until=1.004)
    assert fc.seats_in_use("q") == 3
    env.run()
    assert log == [("upd", 0, True, ""), ("get", pytest.approx(1.005), True, "")]
    assert fc.seats_in_use("q") == 0


def test_seat_integral_counts_every_seat_second_and_executing_seats_per_schema():
    """Seat-seconds are exact however short the requests: 1 seat for 1 s, then 3 final seats for 5 ms,
    then 1 seat for 1 s (a point sample every second could see 0 or 3). The snapshot of executing
    seats names the flow schema, final seats included (A14)."""
    env, fc = make(one_level(3))
    upd = req("upd", "update", level="q", flow="writers/u", seats=1)
    upd.final_seats, upd.additional_s = 3, 0.005
    log = []
    env.process(call(env, fc, upd, 1.0, log))
    env.process(call(env, fc, req("get", level="q", flow="readers/u"), 1.0, log, at_s=0.5))
    env.run(until=0.9)
    assert fc.executing_seats() == {("q", "writers"): 3}  # held max(seats, final seats) while executing
    assert fc.seat_integral("q") == pytest.approx(3 * 0.9)
    env.run(until=1.002)
    assert fc.executing_seats() == {("q", "writers"): 3}  # the final seats linger for 5 ms
    env.run()
    assert fc.executing_seats() == {}
    # 3 seats for 1.005 s, then the get's 1 seat for 1 s
    assert fc.seat_integral("q") == pytest.approx(3 * 1.005 + 1 * 1.0)


def test_wide_head_is_not_skipped():
    """A 4-seat request at the head waits for 4 free seats; a 1-seat request behind it waits too."""
    env, fc = make(one_level(4))
    log = []
    env.process(call(env, fc, req("a", level="q"), 1.0, log))
    env.process(call(env, fc, req("wide", level="q", seats=4), 1.0, log, at_s=0.1))
    env.process(call(env, fc, req("b", level="q"), 1.0, log, at_s=0.2))
    env.run()
    assert log == [("a", 0, True, ""), ("wide", 1.0, True, ""), ("b", 2.0, True, "")]


def test_fair_queuing_serves_a_light_flow_before_a_heavy_backlog():
    """Heavy flow H queues 10 one-second requests; light flow L arriving at 0.5 s goes next."""
    flows = [f"flow-{i}" for i in range(40)]
    h, light = next((a, b) for a in flows for b in flows if deal_hand(a, 64, 1) != deal_hand(b, 64, 1))
    env, fc = make(one_level(1, queues=64, hand=1))
    log = []
    for i in range(10):
        env.process(call(env, fc, req(f"H{i}", level="q", flow=h), 1.0, log))
    env.process(call(env, fc, req("L", level="q", flow=light), 1.0, log, at_s=0.5))
    env.run()
    order = [x[0] for x in log]
    assert order[:3] == ["H0", "L", "H1"] and log[1][1] == 1.0


def test_deal_hand_is_stable_and_distinct():
    hand = deal_hand("service-accounts/system:serviceaccount:ns:app", 128, 6)
    assert hand == deal_hand("service-accounts/system:serviceaccount:ns:app", 128, 6)
    assert len(set(hand)) == 6 and all(0 <= q < 128 for q in hand)


def _dispatch_order(seed: int) -> list[tuple[str, float]]:
    rng = np.random.default_rng(seed)
    env, fc = make(one_level(4, queues=8, hand=2, qlen=5, wait_s=2.0))
    order: list[tuple[str, float]] = []

    def one(i, at, hold, flow):
        yield env.timeout(at)
        r = req(f"r{i}", level="q", flow=flow, seats=int(rng.integers(1, 3)))
        if (yield fc.admit(r)):
            assert fc.seats_in_use("q") <= 4  # never above NominalCL
            order.append((r.client, env.now))
            yield env.timeout(hold)
            fc.release(r)
        else:
            order.append((r.client + ":" + r.reject_reason, env.now))

    t = 0.0
    for i in range(300):
        t += rng.exponential(0.05)
        env.process(one(i, t, rng.exponential(0.3), f"f{rng.integers(0, 12)}"))
    env.run()
    c = fc.counters()["q"]
    assert c["rejected_time_out"] > 0 and c["rejected_queue_full"] > 0
    assert c["arrived"] == c["dispatched"] + c["rejected_time_out"] + c["rejected_queue_full"]
    assert (fc.queue_length("q"), fc.seats_in_use("q"), fc.queue_integral("q") > 0) == (0, 0, True)
    return order


def test_determinism_same_inputs_same_dispatch_order():
    a, b = _dispatch_order(7), _dispatch_order(7)
    assert a == b and len(a) == 300
    assert any(":" in name for name, _ in a)  # the load is high enough to reject some


def test_release_of_unknown_request_raises():
    _, fc = make()
    with pytest.raises(ValueError):
        fc.release(Request("get", "pods"))


def _scan_pick(lv):
    """The choice as queueset.go writes it: scan every queue with waiting requests for the smallest
    virtual finish, ties to the first queue after the last one served (the reference for
    FlowControl's heap)."""
    nq = len(lv.queues)
    best, best_f, best_o, robin = None, INF, nq, lv.robin
    for idx, q in lv.nonempty.items():
        f = q.next_r + q.fifo[0].work
        if f <= best_f:
            o = (idx - robin - 1) % nq
            if f < best_f or o < best_o:
                best, best_f, best_o = q, f, o
    return best


def _apf_trace(seed: int, scan: bool, monkeypatch) -> list:
    """Admissions of a random burst through one queued level: many flows over 16 queues, mixed seats
    and holds, equal arrival instants (ties in virtual finish), queue time-outs."""
    if scan:
        monkeypatch.setattr(FlowControl, "_pick", staticmethod(_scan_pick))
    else:
        monkeypatch.undo()
    rng = np.random.default_rng(seed)
    env, fc = make(one_level(6, queues=16, hand=4, qlen=40, wait_s=2.0))
    log: list = []
    for i in range(400):
        r = req(f"c{i}", level="q", flow=f"f{int(rng.integers(60))}", seats=int(rng.choice([1, 1, 1, 2, 3])))
        hold = float(rng.choice([0.05, 0.1, 0.1, 0.25]))  # repeated values: many equal finishes
        env.process(call(env, fc, r, hold, log, at_s=float(rng.integers(0, 40)) * 0.05))
    env.run()
    return log


@pytest.mark.parametrize("seed", range(6))
def test_the_dispatch_heap_chooses_what_the_scan_of_every_queue_chooses(seed, monkeypatch):
    got = _apf_trace(seed, False, monkeypatch)
    want = _apf_trace(seed, True, monkeypatch)
    assert got == want
    assert sum(1 for e in got if e[2]) > 100 and any(not e[2] for e in got)  # dispatched and rejected both
