"""``ChangeLog.revision_at``: the last revision committed at or before a time, searched among the
events not yet moved into numpy without numpy when the time falls among them, otherwise in the arrays; the same answer as a
``searchsorted`` over the whole log (what ``WatchCache.revision_at`` computed before)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.apiserver.watchpassive import ChangeLog


def _reference(entries, t, default):
    revs = np.array([r for r, _, _ in entries], dtype=np.int64)
    commits = np.array([c for _, c, _ in entries])
    i = int(np.searchsorted(commits, t, side="right"))
    return int(revs[i - 1]) if i else default


@settings(max_examples=150, deadline=None)
@given(gaps=st.lists(st.sampled_from([0.0, 0.001, 0.25, 1.0, 3.0]), min_size=0, max_size=80),
       cut=st.integers(0, 80), times=st.lists(st.floats(-1.0, 120.0), min_size=1, max_size=12))
def test_the_answer_is_the_whole_logs_searchsorted(gaps, cut, times):
    log = ChangeLog()
    entries, t, rev = [], 0.0, 100
    for i, g in enumerate(gaps):  # equal commit times included (a batch commits together)
        t += g
        rev += 1
        entries.append((rev, t, i % 3))
        log.append(rev, t, i % 3)
        if i == cut:
            log.arrays()  # some events in the numpy arrays, the rest not yet
    for q in [*times, *(c for _, c, _ in entries[:5])]:
        assert log.revision_at(q, default=7) == _reference(entries, q, 7)
    revs, commits, parts = log.arrays()  # nothing lost or reordered by the searches
    assert revs.tolist() == [r for r, _, _ in entries] and commits.tolist() == [c for _, c, _ in entries]
