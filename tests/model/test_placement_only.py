"""Placement-only runs (issue 21, item 5) give the full plane's placements, and are refused where
placement could depend on the plane.

The equivalence runs each of the FGD paper's six policies on a reduced openb list (gpushare40, a
seeded 10 % of the GPU nodes, 400 pods before inflation to 130 % of their GPUs: about 1,200 pods,
seed 43) both ways, and compares the (pod → node, GPU indices) placements, the node table's row
order, the FGD frames (every column but the time, which is the scheduler-only clock) and the
``gpu.*`` summaries. The full-plane run must show nothing that placement-only leaves out (no bind
conflict or error, no replay timeout), or the comparison would not be about the same experiment.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kbench.bundled import TRACES
from kbench.cli import app
from kbench.config import load_scenario
from kbench.experiment.placement import LEFT_OUT, refusal
from kbench.experiment.runner import effective_scenario, run

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("random", "dot-prod", "clustering", "packing", "best-fit", "fgd")
FRAME = ["arrived_milli", "allocated_milli", "frag_milli", "idle_milli"]


def fgd_copy(tmp: Path, workload: dict | None = None, trace: dict | None = None, **top) -> Path:
    """workloads/fgd-openb.yaml reduced (gpushare40, 10 % of nodes, 400 pods), with overrides."""
    data = yaml.safe_load((ROOT / "workloads" / "fgd-openb.yaml").read_text())
    data["workload"]["params"].update(traces=str(TRACES), pods="openb_pod_list_gpushare40.csv.gz")
    data["workload"]["traces"][0].update({"sample_nodes": 0.1, "max_pods": 400, **(trace or {})})
    data["workload"].update(workload or {})
    data.update(top)
    path = tmp / f"fgd-{len(list(tmp.glob('fgd-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def placements(result) -> list[tuple[str, str, tuple[int, ...]]]:
    """(pod, node, GPU indices) of every pod counted in the scheduler's node table."""
    table = result.scheduler.nodes
    return sorted((pod.key, table.names[i], tuple(gpus)) for i in range(table.n)
                  for pod, gpus in zip(table.pods[i], table.pod_gpus[i], strict=True))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return load_scenario(fgd_copy(tmp_path_factory.mktemp("placement")))


def test_the_bundled_fgd_scenario_declares_placement_only(scenario):
    assert scenario.workload.placement_only is True
    assert refusal(effective_scenario(scenario)) is None


@pytest.mark.parametrize("policy", POLICIES)
def test_placement_only_places_every_pod_as_the_full_plane(scenario, policy):
    full = run(replace(scenario, workload=replace(scenario.workload, placement_only=False)), policy=policy, seed=43)
    fast = run(scenario, policy=policy, seed=43)
    fs, ps = full.summary, fast.summary
    assert fs["sim"]["mode"] == "full-plane" and ps["sim"]["mode"] == "placement-only"
    c = fs["counters"]
    assert c.get("bind_conflicts", 0) == c.get("bind_errors", 0) == c.get("replay_timeouts", 0) == 0
    assert full.scheduler.nodes.names == fast.scheduler.nodes.names  # the informer's LIST order
    placed = placements(full)
    assert len(placed) > 500 and placed == placements(fast)
    assert any(len(g) == 1 for _, _, g in placed)  # GPU choices compared too (shared and whole GPUs)
    ff, pf = full.frames["fgd"], fast.frames["fgd"]
    assert len(ff) == len(pf) == fs["pods"]["created"] == ps["pods"]["created"] > 1000
    assert ff[FRAME].equals(pf[FRAME])
    assert fs["gpu"] == ps["gpu"]
    for key in ("attempts", "scheduled", "unschedulable", "given_up", "preemptions", "bind_conflicts", "profiles"):
        assert fs["scheduling"][key] == ps["scheduling"][key], key
    assert full.scheduler.given_up_reasons == fast.scheduler.given_up_reasons
    assert ps["pods"]["scheduled"] == fs["pods"]["scheduled"]
    assert ps["pods"]["pending"] == ps["pods"]["created"] - ps["pods"]["scheduled"] == ps["scheduling"]["given_up"]
    assert fs["replay"] == ps["replay"]
    assert ps["sim"]["virtual_s"] == pytest.approx(fast.scheduler.busy_s) and ps["sim"]["events"] == 0


def test_placement_only_summary_leaves_the_plane_out_and_says_so(scenario):
    s = run(scenario, policy="best-fit", seed=1).summary
    for block in ("api", "etcd", "apiserver", "apf", "watch", "pod_startup_s", "pod_e2e_startup_s", "slo",
                  "events", "writes_per_pod", "retries"):
        assert block not in s, block
    assert set(s["pods"]) == {"created", "scheduled", "pending", "pending_reasons"}
    assert s["ignored"][: len(LEFT_OUT)] == list(LEFT_OUT)
    assert s["status"] == "complete" and s["scheduling"]["attempts"] == s["gpu"]["fgd_events"]


REFUSALS = {
    "not sequential": (dict(trace={"sequential": False}), "trace replay 'openb' is not sequential"),
    "departures": (dict(trace={"departures": True}), "trace replay 'openb' has departures"),
    "a Deployment": (dict(workload={"deployments": [{"name": "web", "replicas": 2}]}),
                     "the workload has Deployments"),
    "a Job": (dict(workload={"jobs": [{"name": "j"}]}), "the workload has Jobs"),
    "generic objects": (dict(workload={"generic": [{"resource": "configmaps"}]}), "the workload has generic objects"),
    "a fault": (dict(faults=[{"at_s": 10, "fault": "apiserver-restart"}]), "the scenario has faults"),
    "retries": (dict(trace={"retry_unschedulable": True}), "scheduler.retry_unschedulable is true"),
    "kubectl inputs": (dict(workload={"apply": [{"file": str(Path(__file__).parents[1] / "fixtures" / "kubectl"
                                                               / "app.yaml")}]}),
                       "the scenario has kubectl inputs"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_refusal_is_one_line_naming_its_reason(tmp_path, case):
    overrides, reason = REFUSALS[case]
    if case == "retries":
        overrides = {**overrides, "scheduler": {"policy": "fgd", "retry_unschedulable": True}}
    path = fgd_copy(tmp_path, **overrides)
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and reason in lines[0] and "placement-only refused" in lines[0], res.output
    assert "Traceback" not in res.output and not (tmp_path / "r").exists()


def test_run_flags_force_either_way(tmp_path):
    path = fgd_copy(tmp_path, trace={"sample_nodes": 0.03, "max_pods": 60})
    cli = CliRunner()
    modes = {}
    for flag in ("--full-plane", "--placement-only", None):
        res = cli.invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "-o", "json", *([flag] if flag else [])])
        assert res.exit_code == 0, res.output
        modes[flag] = json.loads(res.stdout)["sim"]["mode"]
    assert modes == {"--full-plane": "full-plane", "--placement-only": "placement-only", None: "placement-only"}
    demo = cli.invoke(app, ["run", str(ROOT / "workloads" / "demo.yaml"), "--placement-only", "-o", "json"])
    assert demo.exit_code == 2 and "placement-only refused" in demo.output


def test_placement_only_run_folder_and_report(tmp_path):
    path = fgd_copy(tmp_path, trace={"sample_nodes": 0.03, "max_pods": 60})
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "--report"])
    assert res.exit_code == 0, res.output
    assert "warning: not modelled: placement-only run" in res.output
    folder = next((tmp_path / "r").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["mode"] == "placement-only"
    assert {p.name for p in folder.glob("*.parquet")} == {"pods.parquet", "fgd.parquet"}
    html = (folder / "report.html").read_text()
    assert "GPU allocation and fragmentation" in html and "Traceback" not in html
    md = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "-o", "markdown"])
    assert md.exit_code == 0 and "GPU unallocated at 100 % arrived" in md.stdout


def refused_lines(tmp_path, profiles: str) -> list[str]:
    """Run a reduced fgd-openb placement-only with a KubeSchedulerConfiguration of ``profiles``
    (YAML list items); assert it exits with 2 and return its non-empty output lines."""
    ksc = tmp_path / "ksc.yaml"
    ksc.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                   "profiles:\n" + profiles)
    path = fgd_copy(tmp_path, trace={"sample_nodes": 0.03, "max_pods": 60})
    res = CliRunner().invoke(app, ["run", str(path), "--policy", str(ksc), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 2, res.output
    return [ln for ln in res.output.splitlines() if ln.strip()]


def test_pods_without_a_profile_are_refused(tmp_path):
    """The trace's pods name default-scheduler; a configuration whose only profile is another
    scheduler would leave them pending in the full plane, so placement-only refuses the run."""
    lines = refused_lines(tmp_path, "- schedulerName: other-scheduler\n")
    assert len(lines) == 1 and "schedulerName 'default-scheduler' has no scheduler profile" in lines[0]
    assert not (tmp_path / "r").exists()


def test_a_profile_that_batches_is_refused(tmp_path):
    """A profile that signs pods (PodTopologySpread List defaulting, plugins that all sign) reuses a
    cycle's results only within 0.5 s of virtual time (OpportunisticBatching), which depends on the
    plane's pace: placement-only refuses it with one line."""
    lines = refused_lines(tmp_path, "- schedulerName: default-scheduler\n  pluginConfig:\n"
                                    "  - name: PodTopologySpread\n    args: {defaultingType: List}\n")
    assert len(lines) == 1 and "signs pods, so OpportunisticBatching" in lines[0]


def test_placement_only_metrics_and_results_ls_say_what_ran(tmp_path):
    """--metrics writes only the scheduler's families (and says why); results ls names the mode."""
    path = fgd_copy(tmp_path, trace={"sample_nodes": 0.03, "max_pods": 60})
    prom = tmp_path / "m.prom"
    cli = CliRunner()
    res = cli.invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "--metrics", str(prom)])
    assert res.exit_code == 0, res.output
    text = prom.read_text()
    assert "scheduler_" in text and "apiserver_request_total" not in text and "etcd_request" not in text
    assert "placement-only run simulates no apiserver" in res.output
    ls = cli.invoke(app, ["results", "ls", str(tmp_path / "r"), "-o", "json"])
    assert ls.exit_code == 0, ls.output
    (row,) = json.loads(ls.stdout)
    assert row["headline"]["mode"] == "placement-only" and row["headline"]["startup_p99_s"] is None
    table = cli.invoke(app, ["results", "ls", str(tmp_path / "r")])
    assert "placement-only" in table.stdout and "startup p99 -s" not in table.stdout
