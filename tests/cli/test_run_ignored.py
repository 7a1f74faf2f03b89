"""``kbench run`` says what it does not model: warnings on stderr, ``ignored`` in the summary and the
manifest, and the manifest keeps the KubeSchedulerConfiguration's content and hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from kbench.cli import app

KSC = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
extenders:
- urlPrefix: http://extender.example:8080
  filterVerb: filter
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      enabled: [{name: VolumeBinding}]
"""
SCENARIO = """\
version: 1
name: ignored
seed: 3
duration_s: 20s
cluster:
  nodes: [{{count: 3, cpu_cores: 4, memory_bytes: 8Gi}}]
scheduler: {{policy: {ksc}}}
workload:
  pods: [{{name: p, count: 5, rate_per_s: 5, template: {{cpu_cores: 100m}}}}]
"""


def test_unmodelled_plugin_and_extender_are_warned_listed_and_recorded(tmp_path):
    ksc = tmp_path / "ksc.yaml"
    ksc.write_text(KSC)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(ksc=ksc))
    res = CliRunner().invoke(app, ["run", str(scenario), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    ignored = summary["ignored"]
    assert any("VolumeBinding is not built" in line for line in ignored)
    assert any("extenders are not modelled" in line for line in ignored)
    assert "warning: " in res.stderr and "VolumeBinding" in res.stderr
    manifest = json.loads((Path(summary["run_dir"]) / "manifest.json").read_text())
    cfg = manifest["scheduler_config"]
    assert cfg["content"] == KSC and cfg["sha256"] == hashlib.sha256(KSC.encode()).hexdigest()
    # the manifest records what the configuration asked for and kbench ignores (the scheduler's part);
    # the summary adds what the run touched (apiserver, write mix)
    assert any("VolumeBinding is not built" in line for line in manifest["ignored"])
    assert all(line in ignored for line in manifest["ignored"])
