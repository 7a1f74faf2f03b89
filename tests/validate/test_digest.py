"""``kbench digest``: a part's hash moves exactly when that part of the results moves; the command's
comparison, output shapes and exit codes (0, 1 when a part differs, 2 on bad input)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.validate.digest import CASES, VOLATILE, compare, digest_result, frame_hash, run_cases

runner = CliRunner()


def _summary() -> dict:
    return {"pods": {"created": 3, "scheduled": 3}, "api": {"requests": 40, "p99_s": 0.0125},
            "sim": {"wall_s": 1.5, "events": 900}, "run_dir": "/tmp/x", "wall_s": 2.0, "events": 7}


def test_a_change_moves_only_its_part():
    frames = {"pods": pd.DataFrame({"t": [0.1, 0.2], "node": ["a", "b"]})}
    base = digest_result(_summary(), frames)
    assert set(base["summary"]) == {"pods", "api"}  # VOLATILE fields are left out
    assert not set(VOLATILE) & set(base["summary"])
    moved = _summary()
    moved["api"]["p99_s"] = np.nextafter(0.0125, 1.0)  # one float64 step
    got = digest_result(moved, frames)
    assert got["summary"]["api"] != base["summary"]["api"]
    assert got["summary"]["pods"] == base["summary"]["pods"]
    assert got["frames"] == base["frames"] and got["hash"] != base["hash"]
    engine = _summary()  # engine figures only: the same digest
    engine["sim"]["events"], engine["wall_s"], engine["run_dir"] = 1, 99.0, "/elsewhere"
    assert digest_result(engine, frames) == base


def test_frame_hash_sees_the_last_bit_dtypes_and_columns():
    df = pd.DataFrame({"x": [0.1, 1 / 3], "n": [1, 2]})
    h = frame_hash(df)
    assert frame_hash(df.copy()) == h
    bumped = df.copy()
    bumped.loc[1, "x"] = np.nextafter(1 / 3, 1.0)
    assert frame_hash(bumped) != h
    assert frame_hash(df.astype({"n": "float64"})) != h
    assert frame_hash(df.rename(columns={"n": "m"})) != h


def test_compare_names_each_part():
    a = {"c": {"summary": {"x": "1", "y": "2"}, "frames": {"pods": "3"}}}
    b = {"c": {"summary": {"x": "1", "y": "9"}, "frames": {"pods": "3", "fgd": "4"}}}
    assert compare(a, b) == [("c", "summary.x", "same"), ("c", "summary.y", "differs"),
                             ("c", "frames.fgd", "differs"), ("c", "frames.pods", "same")]
    assert compare(a, {}) == [("c", "summary.x", "new"), ("c", "summary.y", "new"), ("c", "frames.pods", "new")]


def test_same_case_twice_gives_the_same_digest_and_a_seed_changes_it(tmp_path):
    first = run_cases(["sync-poll"])["sync-poll"]
    assert run_cases(["sync-poll"])["sync-poll"] == first
    kind, build = CASES["sync-poll"]
    path = build(tmp_path)
    path.write_text(path.read_text().replace("seed: 1", "seed: 2"))
    from kbench.validate.digest import digest_scenario

    other = digest_scenario(path, kind)
    assert other["hash"] != first["hash"]


def test_cli_digest_against_and_exit_codes(tmp_path):
    res = runner.invoke(app, ["digest", "fault-apiserver-restart", "-o", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    case = data["cases"]["fault-apiserver-restart"]
    assert {"hash", "summary", "frames"} <= set(case) and {"pods", "requests", "series"} <= set(case["frames"])
    saved = tmp_path / "digest.json"
    saved.write_text(res.stdout)
    same = runner.invoke(app, ["digest", "fault-apiserver-restart", "--against", str(saved)])
    assert same.exit_code == 0, same.output
    assert f"of {len(case['summary']) + len(case['frames'])} parts identical" in same.stdout
    case["summary"]["pods"] = "0" * 64
    saved.write_text(json.dumps(data))
    moved = runner.invoke(app, ["digest", "fault-apiserver-restart", "--against", str(saved), "-o", "json"])
    assert moved.exit_code == 1
    assert json.loads(moved.stdout)["against"]["differs"] == ["fault-apiserver-restart summary.pods"]


@pytest.mark.parametrize("args,message", [
    (["digest", "no-such-case"], "unknown digest case 'no-such-case'"),
    (["digest", "sync-poll", "--against", "missing.json"], "cannot read missing.json"),
    (["digest", "--scenario", "missing.yaml"], "scenario file not found"),
    (["digest", "sync-poll", "-o", "xml"], "xml"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, message):
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_cli_scenario_files_and_a_file_that_is_not_a_digest(tmp_path):
    from kbench.bundled import WORKLOADS

    path = WORKLOADS / "faults" / "apiserver-restart.yaml"
    res = runner.invoke(app, ["digest", "--scenario", str(path), "-o", "json"])
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)["cases"]) == [f"file:{path}"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scenarios": {}}))
    res = runner.invoke(app, ["digest", "sync-poll", "--against", str(bad)])
    assert res.exit_code == 2 and "is not a kbench digest" in res.output
