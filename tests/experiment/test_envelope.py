"""`kbench envelope`: the search finds a breach, and the breach moves right when capacity doubles."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbench.config import load_scenario
from kbench.errors import KbenchError
from kbench.experiment import envelope as env
from kbench.results.commands import list_runs

SMALL = Path(__file__).resolve().parents[2] / "workloads" / "envelope-small.yaml"


# ------------------------------------------------------------------- the search on a real model


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    """The clients envelope of staleness on one apiserver core, and on two (each poll's 16 MB is
    gzipped, I30, I31: ~3x the CPU of encoding alone, so one core breaks near 70 clients)."""
    sc = load_scenario(SMALL)
    out = tmp_path_factory.mktemp("env")
    kw = {"min_value": 20, "max_value": 1280, "tolerance": 0.3, "out_dir": out}
    one = env.envelope(sc, "clients", "staleness_p99_s", **kw)
    two = env.envelope(replace(sc, apiserver=replace(sc.apiserver, cores=2 * sc.apiserver.cores)),
                       "clients", "staleness_p99_s", **kw)
    return one, two, out


def test_envelope_finds_a_breach_within_the_tolerance(searches):
    one, _, _ = searches
    assert one["status"] == "breach"
    lp, ff = one["last_pass"], one["first_fail"]
    assert 20 <= lp < ff <= 1280 and one["breach_value"] == ff
    assert ff - lp <= 0.3 * ff
    by_value = {s["value"]: s for s in one["steps"]}
    assert by_value[lp]["pass"] and not by_value[ff]["pass"]
    # the steps are consistent with the reported point: every pass below it, every failure at or above
    assert all(s["pass"] == (s["value"] < ff) for s in one["steps"])
    assert [s["value"] for s in one["steps"]][:3] == [20, 40, 80]  # geometric bracketing from --min
    for s in one["steps"]:
        assert s["pass"] == all(v <= one["threshold"] for v in s["values"])


def test_doubling_apiserver_cores_moves_the_breach_to_more_clients(searches):
    one, two, _ = searches
    assert two["status"] == "breach"
    # one core saturates with LISTs at some N; two cores carry about twice as many polling clients
    assert two["last_pass"] >= one["first_fail"]
    assert two["breach_value"] >= 1.4 * one["breach_value"]


def test_envelope_folder_holds_json_manifest_and_run_folders(searches):
    one, _, out = searches
    folder = Path(one["envelope_dir"])
    saved = json.loads((folder / "envelope.json").read_text())
    assert saved["breach_value"] == one["breach_value"] and saved["steps"] == one["steps"]
    runs = [d for d in folder.iterdir() if d.is_dir()]
    assert len(runs) == len(one["steps"])
    assert {str(d) for d in runs} == {d for s in one["steps"] for d in s["run_dirs"]}
    rows, skipped = list_runs(out)
    mine = [r for r in rows if r["path"] == str(folder)]
    assert len(mine) == 1 and mine[0]["kind"] == "envelope" and mine[0]["status"] == "complete"
    assert mine[0]["headline"]["runs"] == len(one["steps"]) and skipped["half_written"] == 0
    import kbench.results

    loaded = kbench.results.load(folder)
    assert loaded["manifest"]["breach_value"] == one["breach_value"]
    assert loaded["manifest"]["dimension"] == "clients" and loaded["envelope"]["slo"] == "staleness_p99_s"


# ------------------------------------------------------------- search and rule, on a fake model


def _fake(monkeypatch, fails):
    """Replace the model: ``fails(value, seed)`` says whether a replication fails."""
    calls = []

    def measure(scenario, dimension, value, slo, seed, **_kw):
        calls.append((value, seed))
        bad = fails(value, seed)
        return {"name": slo, "threshold": 1.0, "value": 2.0 if bad else 0.5, "pass": not bad}, None

    monkeypatch.setattr(env, "measure", measure)
    return calls


def test_bisection_pins_an_integer_threshold(monkeypatch):
    calls = _fake(monkeypatch, lambda v, s: v >= 137)
    r = env.envelope(load_scenario(SMALL), "clients", "staleness_p99_s", min_value=10, max_value=1000,
                     tolerance=0.001)
    assert (r["last_pass"], r["first_fail"], r["breach_value"]) == (136, 137, 137)
    assert [v for v, _ in calls][:5] == [10, 20, 40, 80, 160]
    assert all(isinstance(s["value"], int) for s in r["steps"])


def test_pod_rate_is_continuous_and_stops_at_the_tolerance(monkeypatch):
    _fake(monkeypatch, lambda v, s: v > 33.3)
    r = env.envelope(load_scenario(SMALL), "pod-rate", "pod_startup_p99_s", min_value=1, max_value=100,
                     tolerance=0.05)
    assert r["status"] == "breach" and r["last_pass"] <= 33.3 < r["first_fail"]
    assert r["first_fail"] - r["last_pass"] <= 0.05 * r["first_fail"]


def test_no_breach_and_breach_at_min(monkeypatch):
    _fake(monkeypatch, lambda v, s: False)
    r = env.envelope(load_scenario(SMALL), "clients", "staleness_p99_s", min_value=10, max_value=50)
    assert r["status"] == "no_breach" and r["breach_value"] is None and r["last_pass"] == 50
    assert [s["value"] for s in r["steps"]] == [10, 20, 40, 50]
    _fake(monkeypatch, lambda v, s: True)
    r = env.envelope(load_scenario(SMALL), "clients", "staleness_p99_s", min_value=10, max_value=50)
    assert r["status"] == "breach_at_min" and r["breach_value"] == 10 and r["last_pass"] is None
    assert len(r["steps"]) == 1


def test_at_least_half_the_replications_failing_fails_the_step_with_common_seeds(monkeypatch):
    # seeds 5, 6, 7, 8: at 100 clients seed 5 fails only (1 of 4: pass); at 200 seeds 5, 6 (2 of 4: fail)
    calls = _fake(monkeypatch, lambda v, s: (v >= 100 and s == 5) or (v >= 200 and s == 6))
    r = env.envelope(load_scenario(SMALL), "clients", "staleness_p99_s", min_value=100, max_value=400,
                     replications=4, seed=5, tolerance=0.6)
    first, second = r["steps"][0], r["steps"][1]
    assert first["value"] == 100 and first["pass"] and first["passes"] == [False, True, True, True]
    assert second["value"] == 200 and not second["pass"] and second["passes"] == [False, False, True, True]
    assert {tuple(sorted(s for v, s in calls if v == x)) for x in (100, 200)} == {(5, 6, 7, 8)}
    assert r["seeds"] == [5, 6, 7, 8] and "at least half" in r["rule"]


def test_threshold_override_decides_pass(monkeypatch):
    _fake(monkeypatch, lambda v, s: v >= 100)  # values: 0.5 below 100, 2.0 from 100
    r = env.envelope(load_scenario(SMALL), "clients", "staleness_p99_s", min_value=10, max_value=400,
                     threshold=3.0)
    assert r["status"] == "no_breach" and r["threshold"] == 3.0


# ------------------------------------------------------------------------ dimension mappings


def test_nodes_scale_every_group_in_proportion():
    sc = load_scenario(SMALL)
    two = replace(sc, cluster=replace(sc.cluster, nodes=[replace(sc.cluster.nodes[0], count=3, name_prefix="a"),
                                                         replace(sc.cluster.nodes[0], count=1, name_prefix="b")]))
    assert env.base_value(two, "nodes") == 4
    out = env.apply(two, "nodes", 10, seed=3)
    assert [(g.name_prefix, g.count) for g in out.cluster.nodes] == [("a", 8), ("b", 2)]
    assert sum(g.count for g in env.apply(two, "nodes", 7, seed=3).cluster.nodes) == 7
    assert out.seed == 3


def test_pod_rate_scales_rate_and_count_so_the_window_keeps_its_length():
    from kbench.config.workload import ArrivalSpec

    sc = load_scenario(SMALL)
    g = sc.workload.pods[0]
    assert env.base_value(sc, "pod-rate") == pytest.approx(10.0)
    out = env.apply(sc, "pod-rate", 25, seed=1).workload.pods[0]
    assert out.rate_per_s == pytest.approx(25.0) and out.count == 250 and g.count == 100
    bursts = replace(g, name="b", arrival=ArrivalSpec(kind="bursts", burst_size=20, burst_every_s=10.0, rate_per_s=0))
    poisson = replace(g, name="p", arrival=ArrivalSpec(kind="poisson", rate_per_s=8.0))
    mixed = replace(sc, workload=replace(sc.workload, pods=[bursts, poisson]))
    assert env.base_value(mixed, "pod-rate") == pytest.approx(10.0)  # 20 / 10 s + 8
    b, p = env.apply(mixed, "pod-rate", 20, seed=1).workload.pods
    assert b.arrival.burst_every_s == pytest.approx(5.0) and b.arrival.burst_size == 20 and b.count == 200
    assert p.arrival.rate_per_s == pytest.approx(16.0)


def test_nothing_to_scale_is_a_kbench_error():
    sc = load_scenario(SMALL)
    deploy_only = replace(sc, workload=replace(sc.workload, pods=[]))
    with pytest.raises(KbenchError, match="Deployments and Jobs have no arrival rate"):
        env.envelope(deploy_only, "pod-rate", "pod_startup_p99_s", min_value=1, max_value=2)
    with pytest.raises(KbenchError, match="needs node groups"):
        env.envelope(replace(sc, cluster=replace(sc.cluster, nodes=[])), "nodes", "pod_startup_p99_s")


@pytest.mark.parametrize("kwargs, text", [
    ({"dimension": "pods"}, "unknown dimension 'pods'"),
    ({"slo": "pod_startup_p99_s"}, "valid: api_mutating_latency_p99_s"),
    ({"min_value": 100, "max_value": 100}, "--min: must be below --max (100 >= 100)"),
    ({"min_value": 10.2, "max_value": 10.8}, "no integer range"),
    ({"replications": 0}, "must be >= 1"),
    ({"tolerance": 1.5}, "must be in (0, 1)"),
    ({"strategy": "push"}, "unknown strategy"),
])
def test_bad_input_is_a_kbench_error(kwargs, text):
    args = {"dimension": "clients", "slo": "staleness_p99_s", "min_value": 10, "max_value": 20} | kwargs
    with pytest.raises(KbenchError) as err:
        env.envelope(load_scenario(SMALL), args.pop("dimension"), args.pop("slo"), **args)
    assert text in str(err.value)


# ---------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("extra, text", [
    (["--vary", "pods", "--slo", "pod_startup_p99_s"], "unknown dimension 'pods'"),
    (["--vary", "clients", "--slo", "nope"], "valid: api_mutating_latency_p99_s, api_read_single_latency_p99_s"),
    (["--vary", "nodes", "--slo", "staleness_p99_s"], "valid: api_mutating_latency_p99_s"),
    (["--vary", "clients", "--slo", "staleness_p99_s", "--min", "50", "--max", "20"], "must be below --max"),
    (["--vary", "clients", "--slo", "staleness_p99_s", "-o", "xml"], "-o xml"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, extra, text):
    from kbench.cli import app

    res = CliRunner().invoke(app, ["envelope", str(SMALL), "--out", str(tmp_path), *extra])
    assert res.exit_code == 2, res.output
    assert text in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and res.output.startswith("error: ")
    assert not any(tmp_path.iterdir())  # bad input fails before any run


def test_cli_json_and_table_no_breach_exits_0(tmp_path):
    from kbench.cli import app

    args = ["envelope", str(SMALL), "--vary", "clients", "--slo", "staleness_p99_s", "--min", "10", "--max", "20",
            "--out", str(tmp_path)]
    res = CliRunner().invoke(app, args + ["-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"dimension", "slo", "breach_value", "last_pass", "first_fail", "replications", "rule",
                        "steps", "envelope_dir"}
    assert out["breach_value"] is None and out["last_pass"] == 20 and out["status"] == "no_breach"
    assert [s["value"] for s in out["steps"]] == [10, 20]
    assert all(set(s) >= {"value", "pass", "values", "passes"} for s in out["steps"])
    assert "step clients=10" in res.stderr and "step clients=20" in res.stderr
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "no breach up to clients = 20" in res.stdout and "envelope folder" in res.stdout


@pytest.mark.slow
def test_pod_rate_breach_doubles_with_kubelet_runtime_parallelism(tmp_path):
    """Lifecycle runs: 5 kubelets starting 2 pods at a time break pod startup near 20 pods/s; 4 at a time
    near 40 pods/s (about 15 s of CPU for both searches)."""
    sc = load_scenario(SMALL)
    kw = {"min_value": 5, "max_value": 320, "tolerance": 0.15}
    one = env.envelope(sc, "pod-rate", "pod_startup_p99_s", out_dir=tmp_path, **kw)
    two = env.envelope(replace(sc, kubelet=replace(sc.kubelet, runtime_parallelism=2 * sc.kubelet.runtime_parallelism)),
                       "pod-rate", "pod_startup_p99_s", **kw)
    assert one["status"] == two["status"] == "breach"
    assert two["last_pass"] >= one["first_fail"] and two["breach_value"] >= 1.5 * one["breach_value"]
    assert len([d for d in Path(one["envelope_dir"]).iterdir() if d.is_dir()]) == len(one["steps"])


def test_same_seeds_give_the_same_envelope():
    sc = load_scenario(SMALL)
    a, b = (env.envelope(sc, "clients", "staleness_p99_s", min_value=150, max_value=300, replications=2,
                         tolerance=0.5) for _ in range(2))
    assert a["steps"] == b["steps"] and a["breach_value"] == b["breach_value"]
    assert a["steps"][0]["values"][0] != a["steps"][0]["values"][1]  # the two seeds differ
