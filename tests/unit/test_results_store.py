"""The results store: RunWriter folders, schema versions and upgrades, load()."""

import json

import pandas as pd
import pytest

from kbench.errors import KbenchError
from kbench.results import RunWriter, load
from kbench.results.commands import headline, list_runs, show_run
from kbench.results.schema import UPGRADES, read_manifest, upgrade_manifest
from kbench.results.store import SCHEMA_VERSION


def write_run(out, run_id, *, kind="run", status="complete", summary=None, **fields):
    w = RunWriter(out, run_id, {"kind": kind, "scenario": "small", "seed": 1, "config": {"big": list(range(5))},
                                "config_hash": "abc", **fields})
    w.table("pods", pd.DataFrame({"x": [1, 2, 3]}))
    if summary is not None:
        w.json("summary", summary)
    return w.finish(status, wall_s=1.5)


RUN_SUMMARY = {"pods": {"created": 20}, "pod_startup_s": {"p99": 1.25},
               "scheduling": {"throughput_pods_per_s": 40.0},
               "slo": [{"name": "pod_startup_p99_s", "threshold": 5.0, "value": 1.25, "pass": True}]}


def test_writer_folder_loads_as_dataframes(tmp_path):
    d = write_run(tmp_path, "r1", policy="default", summary=RUN_SUMMARY)
    assert not list(tmp_path.glob(".tmp-*"))
    out = load(d)
    assert out["manifest"]["schema_version"] == SCHEMA_VERSION and out["manifest"]["status"] == "complete"
    assert out["summary"]["pods"]["created"] == 20
    assert list(out["pods"]["x"]) == [1, 2, 3]


def test_newer_schema_version_is_refused_naming_the_file(tmp_path):
    d = write_run(tmp_path, "r1", summary=RUN_SUMMARY)
    m = json.loads((d / "manifest.json").read_text())
    m["schema_version"] = 99
    (d / "manifest.json").write_text(json.dumps(m))
    for call in (lambda: read_manifest(d), lambda: load(d), lambda: list_runs(tmp_path)):
        with pytest.raises(KbenchError) as err:
            call()
        assert str(d / "manifest.json") in err.value.one_line() and "99" in err.value.one_line()


def test_version_0_is_upgraded(tmp_path):
    d = tmp_path / "old-run"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"scenario": "old", "policy": "default", "seed": 3,
                                                 "status": "complete", "wall_time_s": 2.0}))
    m = read_manifest(d)
    assert m["schema_version"] == SCHEMA_VERSION and m["kind"] == "run" and m["wall_s"] == 2.0
    assert "wall_time_s" not in m and m["run_id"] == "old-run"
    assert load(d)["manifest"] == m
    assert set(UPGRADES) == set(range(SCHEMA_VERSION))


def test_version_1_requests_table_becomes_cumulative(tmp_path):
    """A schema-1 folder stored sli_le_* per bucket; loading gives the cumulative (le) meaning."""

    from kbench.metrics.collect import RequestStats

    stats = RequestStats([0.01, 0.1, 1.0])
    for v in (0.005, 0.05, 0.05, 0.5, 2.0):
        stats.record(("get", "pods", "c", "l"), sli_s=v, e2e_s=v, wait_s=0.0, nbytes=1)
    new = stats.to_frame()
    assert [int(new[f"sli_le_{b}"][0]) for b in ("0.01", "0.1", "1", "inf")] == [1, 3, 4, 5]  # cumulative
    d = tmp_path / "v1-run"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"schema_version": 1, "kind": "run", "run_id": "v1-run"}))
    old = new.drop(columns=[c for c in new.columns if c.startswith("e2e_le_")])
    per_bucket = old[["sli_le_0.01", "sli_le_0.1", "sli_le_1", "sli_le_inf"]].diff(axis=1).fillna(old[["sli_le_0.01"]])
    old[per_bucket.columns] = per_bucket.astype(int)  # what schema 1 wrote: [1, 2, 1, 1]
    old.to_parquet(d / "requests.parquet", index=False)
    loaded = load(d)["requests"]
    assert [int(loaded[f"sli_le_{b}"][0]) for b in ("0.01", "0.1", "1", "inf")] == [1, 3, 4, 5]
    assert load(d)["manifest"]["schema_version"] == SCHEMA_VERSION == 2


def test_upgrade_does_not_change_its_input_and_rejects_bad_versions():
    v0 = {"scenario": "x"}
    assert upgrade_manifest(v0)["schema_version"] == SCHEMA_VERSION and v0 == {"scenario": "x"}
    with pytest.raises(KbenchError, match="integer"):
        upgrade_manifest({"schema_version": "1"}, "m.json")
    with pytest.raises(KbenchError, match="no upgrade"):
        upgrade_manifest({"schema_version": -1}, "m.json")


def test_errors_name_the_path(tmp_path):
    with pytest.raises(KbenchError, match="no such folder"):
        read_manifest(tmp_path / "missing")
    with pytest.raises(KbenchError, match="no manifest.json"):
        read_manifest(tmp_path)
    d = tmp_path / "bad"
    d.mkdir()
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(KbenchError) as err:
        load(d)
    assert str(d / "manifest.json") in err.value.one_line() and "corrupt JSON" in err.value.one_line()


def test_list_skips_half_written_and_sorts(tmp_path):
    write_run(tmp_path, "b-run", policy="p", summary=RUN_SUMMARY)
    write_run(tmp_path, "a-sync", kind="sync", strategy="poll",
              summary={"staleness_s": {"p99": 5.0}, "apiserver": {"requests_per_s": {"list": 12.0}}})
    RunWriter(tmp_path, "c-half", {"kind": "run"})  # never finished: stays .tmp-*
    rows, skipped = list_runs(tmp_path)
    assert [r["id"] for r in rows] == ["a-sync", "b-run"]
    assert skipped["half_written"] == 1
    assert rows[0]["headline"] == {"strategy": "poll", "staleness_p99_s": 5.0, "list_per_s": 12.0}
    assert rows[1]["headline"] == {"pods_created": 20, "startup_p99_s": 1.25, "throughput_pods_per_s": 40.0,
                                  "mode": "full-plane"}


def test_headline_of_a_comparison_counts_its_runs(tmp_path):
    cmp_dir = write_run(tmp_path, "cmp", kind="comparison", policies=["a", "b"], seeds=10)
    write_run(cmp_dir, "inner", summary=RUN_SUMMARY)
    m = read_manifest(cmp_dir)
    assert headline(m, None, cmp_dir) == {"runs": 1, "policies": ["a", "b"], "seeds": 10}


def test_show_run_hides_config_unless_asked(tmp_path):
    d = write_run(tmp_path, "r1", summary=RUN_SUMMARY)
    shown = show_run(d)
    assert "config" not in shown["manifest"] and shown["tables"] == {"pods": 3}
    assert show_run(d, config=True)["manifest"]["config"] == {"big": [0, 1, 2, 3, 4]}
