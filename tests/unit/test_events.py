"""client-go's event correlation, rule by rule (J1-J5).

core/v1: kubernetes/client-go tools/record/events_cache.go @ 928244b13ad2eb19a8a910669ec0bbb498cb74c1
(EventAggregate, eventObserve, EventSourceObjectSpamFilter); events.k8s.io/v1:
kubernetes/kubernetes staging/src/k8s.io/client-go/tools/events/event_broadcaster.go @ 015189e7
(recordToSink, finishSeries, refreshExistingEventSeries).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.events.correlator import CoreCorrelator, CorrelatorConfig, SeriesCache

POD = ("Pod", 1)


def names():
    counter = itertools.count(1)
    return lambda _ns, _name: f"ev.{next(counter)}"


def test_identical_events_are_deduplicated_into_patches():
    c, new = CoreCorrelator(CorrelatorConfig()), names()
    out = [c.correlate(POD, "Normal", "Pulled", "present", "", float(t), new, "default", "p") for t in range(5)]
    assert out[0] == ("create", "ev.1", 1, False)
    assert out[1:] == [("patch", "ev.1", n, True) for n in range(2, 6)]  # count + 1, the same Event


def test_similar_events_are_aggregated_after_ten_messages_in_600s():
    c, new = CoreCorrelator(CorrelatorConfig()), names()
    owner = ("ReplicaSet", 7)
    out = [c.correlate(owner, "Normal", "SuccessfulCreate", f"Created pod: p{i}", "", i * 1.0, new, "default", "p")
           for i in range(20)]
    # 9 distinct messages pass as they are; the 10th makes the aggregate Event (a create), which
    # the next ones patch (J2: defaultAggregateMaxEvents 10)
    assert [o[0] for o in out[:10]] == ["create"] * 10
    assert out[9][2] == 1 and out[9][3] is True
    assert [o[0] for o in out[10:]] == ["patch"] * 10
    assert {o[1] for o in out[9:]} == {out[9][1]} and out[-1][2] == 11
    # more than 600 s after the last similar event the record restarts (J2)
    later = c.correlate(owner, "Normal", "SuccessfulCreate", "Created pod: q", "", 19.0 + 601.0, new, "default", "p")
    assert later[0] == "create" and later[3] is False


def test_spam_filter_allows_25_then_one_per_300s():
    c, new = CoreCorrelator(CorrelatorConfig()), names()
    reasons = ["Pulled", "Created", "Started", "Killing", "BackOff"]  # getSpamKey has no reason
    passed = [c.correlate(POD, "Normal", reasons[i % 5], f"m{i}", "", 0.0, new, "default", "p") for i in range(40)]
    assert sum(p is not None for p in passed) == 25
    assert c.correlate(POD, "Normal", "Pulled", "x", "", 299.0, new, "default", "p") is None
    assert c.correlate(POD, "Normal", "Pulled", "y", "", 301.0, new, "default", "p") is not None  # one token per 300 s
    # getSpamKey has no type either (events_cache.go @ 928244b): a Warning shares the bucket
    assert c.correlate(POD, "Warning", "Failed", "z", "", 302.0, new, "default", "p") is None
    assert c.correlate(("Pod", 2), "Warning", "Failed", "z", "", 302.0, new, "default", "p") is not None


def test_the_logger_counts_events_the_spam_filter_drops():
    # eventObserve runs before the filter: the count keeps growing while writes are dropped
    c, new = CoreCorrelator(CorrelatorConfig(spam_burst=2)), names()
    out = [c.correlate(POD, "Warning", "BackOff", "back-off", "", 0.0, new, "default", "p") for _ in range(5)]
    assert out[:2] == [("create", "ev.1", 1, False), ("patch", "ev.1", 2, True)]
    assert out[2:] == [None] * 3
    assert c.correlate(POD, "Warning", "BackOff", "back-off", "", 300.0, new, "default", "p") == ("patch", "ev.1", 6, True)


def test_forget_and_the_lru_cap():
    c, new = CoreCorrelator(CorrelatorConfig(lru_entries=6)), names()
    for i in range(4):
        c.correlate(("Pod", i), "Normal", "Pulled", "m", "", 0.0, new, "default", "p")  # 3 entries per object
    assert len(c) <= 6  # the least recently used objects go first
    c.forget(("Pod", 3))
    assert len(c) <= 3
    assert c.correlate(("Pod", 3), "Normal", "Pulled", "m", "", 1.0, new, "default", "p")[0] == "create"


def test_series_create_then_one_patch_then_silent():
    s, new = SeriesCache(), names()
    key = (POD, "Warning", "FailedScheduling", "Scheduling")
    out = [s.record(key, float(t), new, "default", "p") for t in range(10)]
    assert out[0] == ("create", "ev.1", 1) and out[1] == ("patch", "ev.1", 2)
    assert out[2:] == [None] * 8  # counted in memory only
    assert s.entries[key][1] == 10


def test_series_finished_after_six_idle_minutes_with_the_count():
    s, new = SeriesCache(finish_s=360.0), names()
    key = (POD, "Warning", "FailedScheduling", "Scheduling")
    for t in range(7):
        s.record(key, float(t), new, "default", "p")
    assert s.finish(300.0) == []  # not idle long enough
    assert s.finish(367.0) == [("ev.1", 7, key)]  # the last PATCH carries the count, then forgotten
    assert s.entries == {}


def test_series_refreshed_and_singletons_forgotten():
    s, new = SeriesCache(finish_s=360.0), names()
    a = (("Pod", 1), "Warning", "FailedScheduling", "Scheduling")
    b = (("Pod", 2), "Normal", "Scheduled", "Binding")
    s.record(a, 0.0, new, "default", "p")
    s.record(a, 1.0, new, "default", "p")
    s.record(b, 0.0, new, "default", "p")
    assert s.refresh() == [("ev.1", 2, a)]  # every open series
    assert s.finish(362.0) == [("ev.1", 2, a)] and s.entries == {}  # the singleton goes silently


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["A", "B"]), st.integers(0, 12)), max_size=120))
def test_core_writes_never_exceed_the_spam_budget(events):
    """Whatever is emitted at one instant, each object gets at most spam_burst writes, all types."""
    c, new = CoreCorrelator(CorrelatorConfig()), names()
    writes: dict = {}
    for obj, reason, msg in events:
        etype = "Warning" if reason == "B" else "Normal"
        out = c.correlate(("Pod", obj), etype, reason, f"m{msg}", "", 0.0, new, "default", "p")
        if out is not None:
            writes[obj] = writes.get(obj, 0) + 1
    assert all(n <= 25 for n in writes.values())
