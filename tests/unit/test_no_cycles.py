"""A run leaves no reference cycles behind in its per-event objects: watch deliveries (``Fanout``)
and closed watchers are freed by reference counting, not by the garbage collector (whose scans of
them were ~4 % of openb: each young collection found ~60,000 such objects). Density at 30,000 pods
leaves no unreachable object at all (sixteenth session), which is why a run executes with automatic
collection off (:func:`kbench.experiment.runparts.execute`)."""

from __future__ import annotations

import collections
import gc

import pytest
import yaml

from kbench.experiment.runner import run
from kbench.validate.digest import _one_node_case


def _density(tmp_path):
    from kbench.bench import _density as density

    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(density(20, 200, 100, 30, "no-cycles"), sort_keys=False))
    return path


def test_watch_deliveries_and_closed_watchers_leave_no_garbage_cycles(tmp_path):
    paths = [_density(tmp_path), _one_node_case(tmp_path)]  # many deliveries; watches that time out
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        results = [run(path) for path in paths]  # kept alive: their worlds are not garbage
        gc.collect()
        kinds = collections.Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert len(results) == 2
    assert kinds["Fanout"] == 0 and kinds["Watcher"] == 0, kinds.most_common(10)
    # nothing else per event either: what is left is a few objects per run (importlib.metadata's
    # entry-point lookups: 10 for these two runs), against thousands of watch deliveries
    assert sum(kinds.values()) < 100, kinds.most_common(10)


def test_a_run_executes_with_automatic_collection_off_and_restores_it():
    from kbench.experiment.runparts import execute

    seen = []

    def body():
        seen.append(gc.isenabled())

    def failing():
        raise ValueError("a model bug")

    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert execute(body, None) == ("complete", None)
            assert gc.isenabled() is enabled
            with pytest.raises(ValueError):  # without a writer the error propagates
                execute(failing, None)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False]
