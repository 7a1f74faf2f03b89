"""Determinism across processes, atomic run folders, Ctrl-C, and input safety (issue 10 items 3, 4, 6)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KBENCH = [sys.executable, "-m", "kbench.cli"] if not (ROOT / ".venv" / "bin" / "kbench").exists() else \
    [str(ROOT / ".venv" / "bin" / "kbench")]
TINY = """version: 1
name: tiny
seed: 3
duration_s: {duration}
cluster:
  nodes: [{{count: 4, cpu_cores: 4, memory_bytes: 8Gi, zones: 2}}]
workload:
  deployments: [{{name: web, replicas: 20, template: {{cpu_cores: 100m, memory_bytes: 64Mi}}}}]
faults:
  - {{at_s: 20s, fault: apiserver-restart, params: {{downtime_s: 2s}}}}
"""


def _scenario(tmp_path: Path, duration: str = "40s") -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY.format(duration=duration))
    return p


def _run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if not p.name.startswith("."))


def test_summary_json_is_byte_identical_across_processes(tmp_path):
    sc = _scenario(tmp_path)
    files = []
    for i in range(2):
        out = tmp_path / f"r{i}"
        subprocess.run(KBENCH + ["run", str(sc), "--out", str(out), "-o", "json"], check=True, capture_output=True,
                       cwd=ROOT, timeout=120)
        (d,) = _run_dirs(out)
        files.append((d / "summary.json").read_bytes())
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["status"] == "complete" and "wall_s" in manifest
    assert files[0] == files[1]
    summary = json.loads(files[0])
    assert "run_dir" not in summary and "wall_s" not in summary["sim"]
    assert summary["faults"][0]["relist_storm"]["relists"] > 0


def test_run_json_output_keeps_volatile_keys(tmp_path):
    from typer.testing import CliRunner

    from kbench.cli import app
    res = CliRunner().invoke(app, ["run", str(_scenario(tmp_path)), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert "wall_s" in s["sim"] and s["run_dir"]
    assert s["faults"][0]["fault"] == "apiserver-restart"


def test_run_folder_appears_only_when_complete(tmp_path, monkeypatch):
    """While the run is in progress only a hidden temporary folder exists."""
    from kbench.experiment import runner

    out = tmp_path / "r"
    seen = []

    def progress(now, end):
        seen.append([p.name for p in out.iterdir()] if out.exists() else [])

    runner.run(_scenario(tmp_path), out_dir=out, progress=progress)
    assert seen and all(all(n.startswith(".tmp-") for n in names) for names in seen)
    assert any(names for names in seen)
    (d,) = _run_dirs(out)
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    assert {"summary.json", "manifest.json", "series.parquet", "pods.parquet"} <= {p.name for p in d.iterdir()}


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a subprocess")
def test_ctrl_c_leaves_an_interrupted_folder_and_one_line_message(tmp_path):
    sc = _scenario(tmp_path, duration="3h")
    out = tmp_path / "r"
    # SIGINT back to its default in the child: a test run started from a shell's background job
    # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(KBENCH + ["run", str(sc), "--out", str(out), "-o", "json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.1)
    time.sleep(1.0)  # well inside env.run
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted at virtual"), stderr
    assert "Traceback" not in stderr
    (d,) = _run_dirs(out)
    assert str(d) in lines[0]
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert 0 < summary["sim"]["virtual_s"] < 3 * 3600
    assert (d / "series.parquet").exists()


# --------------------------------------------------------------------------------------- safety
def _sources() -> list[Path]:
    return sorted((ROOT / "kbench").rglob("*.py")) + sorted((ROOT / "policies").rglob("*.py"))


def test_yaml_is_only_loaded_safely():
    unsafe = re.compile(r"yaml\.(load|load_all|unsafe_load|full_load)\s*\(|Loader\s*=\s*yaml\.(Unsafe|Full)?Loader")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in _sources() for i, line in enumerate(p.read_text().splitlines(), 1)
            if unsafe.search(line)]
    assert hits == []


def test_a_yaml_python_tag_is_a_config_error_not_code(tmp_path):
    from kbench.config import load_scenario
    from kbench.errors import KbenchError
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(KbenchError):
        load_scenario(p)
    assert not marker.exists()


def test_results_are_never_pickled():
    bad = re.compile(r"\bimport pickle\b|\bpickle\.(load|dump)|\bto_pickle\(|\bread_pickle\(|\bjoblib\b|\bdill\b")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "kbench").rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if bad.search(line)]
    assert hits == []


def test_run_folder_holds_only_parquet_and_json(tmp_path):
    from kbench.experiment.runner import run
    res = run(_scenario(tmp_path), out_dir=tmp_path / "r")
    assert {p.suffix for p in res.run_dir.iterdir()} <= {".parquet", ".json"}


def test_policies_load_only_from_names_files_or_entry_points(tmp_path, monkeypatch):
    """A bare name never imports a module from the working directory or sys.path."""
    from kbench.errors import PolicyError
    from kbench.policy.resolve import resolve_policy
    rogue = tmp_path / "rogue_policy.py"
    marker = tmp_path / "imported"
    rogue.write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in ("rogue_policy", "rogue_policy:Plugin", "os", "os.path"):
        with pytest.raises(PolicyError):
            resolve_policy(spec)
    assert not marker.exists()
    with pytest.raises(PolicyError, match="expected PROFILES"):
        resolve_policy(str(rogue))  # an explicit path is imported (it defines no policy)
    assert marker.exists()


def test_config_hash_of_a_trace_scenario_does_not_depend_on_its_folder(tmp_path):
    import shutil

    from kbench.config import load_scenario
    from kbench.config.loader import config_hash
    from kbench.experiment.runner import effective_scenario
    text = ("name: t\nduration_s: 60\nworkload:\n  traces:\n    - {name: w, file: workload.yaml, format: k8s-manifests}\n")
    hashes = []
    for sub in ("a", "b/c"):
        d = tmp_path / sub
        d.mkdir(parents=True)
        shutil.copy(ROOT / "tests" / "fixtures" / "traces" / "workload.yaml", d / "workload.yaml")
        (d / "s.yaml").write_text(text)
        hashes.append(config_hash(effective_scenario(load_scenario(d / "s.yaml"))))
    assert hashes[0] == hashes[1]
    (tmp_path / "a" / "workload.yaml").write_text("# changed\n" + (tmp_path / "a" / "workload.yaml").read_text())
    assert config_hash(effective_scenario(load_scenario(tmp_path / "a" / "s.yaml"))) != hashes[0]
