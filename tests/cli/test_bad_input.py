"""Every input is checked before the first event: one ``error:`` line, exit 2, no traceback, nothing run.

The cases of issue 19: negative seeds (run, sync, envelope, a sweep's seed list), a ``--param`` the
scenario does not declare (with "did you mean"), a misspelt ``--metric`` of compare (before the first
run, not after it), a misspelt sweep metric.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbench.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "workloads" / "demo.yaml")
FGD = str(ROOT / "workloads" / "fgd-openb.yaml")
ENV = str(ROOT / "workloads" / "envelope-small.yaml")
runner = CliRunner()

SPEC = """version: 1
params: {nodes: 3, rate: 5}
ops:
  - {op: createNodes, count: $nodes, cpu_cores: 4, memory_bytes: 8Gi}
  - {op: createPods, name: p, count: 5, arrival: {kind: constant, rate_per_s: $rate}}
"""

CASES = {
    "run negative seed": (["run", DEMO, "--seed", "-1"], r"^error: --seed: must be >= 0, got -1$"),
    "sync negative seed": (["sync", "--seed", "-2"], r"^error: --seed: must be >= 0, got -2$"),
    "envelope negative seed": (["envelope", ENV, "--vary", "clients", "--slo", "staleness_p99_s", "--seed", "-3"],
                               r"^error: --seed: must be >= 0, got -3$"),
    "undeclared param": (["run", DEMO, "--param", "nope=3"],
                         r"--param: unknown parameter 'nope': this scenario declares no parameters"),
    "misspelt param": (["run", FGD, "--param", "pod=openb_pod_list_gpushare40.csv"],
                       r"--param: unknown parameter 'pod' \(did you mean 'pods'\?\); the scenario declares traces, "
                       r"pods, nodes$"),
    "compare misspelt param": (["compare", FGD, "--policy", "fgd", "--policy", "random", "--param", "pods_=x"],
                               r"did you mean 'pods'"),
    "compare misspelt metric": (["compare", DEMO, "--policy", "default", "--policy", "most-allocated", "--metric",
                                 "pod_startup.p99"], r"--metric: unknown metric 'pod_startup.p99' \(did you mean "
                                                     r"'pod_startup_s.p99'\?\)"),
    "compare misspelt metric with direction": (["compare", DEMO, "--policy", "default", "--policy", "most-allocated",
                                                "--metric", "scheduling.thruput:higher"], r"unknown metric"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_runs_nothing(case, tmp_path):
    args, pattern = CASES[case]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no run began


def test_a_spec_files_params_are_declared_too(tmp_path):
    """``--param`` names of a workload spec's ``params`` (or ``$name`` used in ops) are accepted."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    sc = tmp_path / "s.yaml"
    sc.write_text("version: 1\nname: s\nduration_s: 5s\nworkload: {spec: spec.yaml}\n")
    from kbench.config import load_scenario
    from kbench.errors import ConfigError

    assert load_scenario(sc, params={"rate": 2}).workload.params["rate"] == 2
    with pytest.raises(ConfigError, match=r"unknown parameter 'rat' \(did you mean 'rate'\?\)"):
        load_scenario(sc, params={"rat": 2})
    inline = tmp_path / "i.yaml"
    inline.write_text("version: 1\nname: i\nops:\n  - {op: createNodes, count: $n, cpu_cores: 4}\n")
    assert load_scenario(inline, params={"n": 2}).workload.params["n"] == 2


def test_a_negative_seed_in_a_scenario_file_is_refused(tmp_path):
    p = tmp_path / "neg.yaml"
    p.write_text("version: 1\nname: neg\nseed: -4\n")
    res = runner.invoke(app, ["run", str(p)])
    assert res.exit_code == 2 and "seed: must be >= 0" in res.stderr and "Traceback" not in res.output
