"""Workload spec files: parameter substitution, compilation into the scenario, errors naming the
field path, path resolution, and barriers / the measured phase in a small run."""

import math
import textwrap

import numpy as np
import pytest

from kbench.config import load_scenario, scenario_from_dict
from kbench.config.params import parse_params, prepare, resolve_path, substitute
from kbench.errors import ConfigError
from kbench.experiment.runner import run
from kbench.workload.compile import compile_workload

SPEC = """
version: 1
labels: [performance, gpu]
params: {nodes: 4, pods: 20, rate: 50, image: "nginx:1.25"}
ops:
  - {op: createNodes, count: $nodes, cpu_cores: 8, memory_bytes: 32Gi, gpus: 2, gpu_model: T4,
     taints: ["dedicated=gpu:NoSchedule"], zones: 2}
  - op: createPods
    name: warm
    count: $pods
    arrival: {kind: poisson, rate_per_s: $rate}
    template: {cpu_cores: 100m, image: "${image}", tolerations: ["dedicated"],
               priority: [0, 10], memory_bytes: {kind: uniform, low: 64Mi, high: 128Mi}}
  - {op: barrier, until: scheduled, timeout_s: 60s}
  - {op: createDeployment, name: web, count: 2, replicas: {kind: uniform, low: 2, high: 4},
     template: {cpu_cores: [100m, 200m], tolerations: ["dedicated"]}, measure: true}
  - {op: wait, duration_s: 5s}
  - {op: createJob, name: batch, completions: 3, parallelism: 3,
     template: {cpu_cores: 100m, duration_s: 2s, tolerations: ["dedicated"]}}
  - {op: churn, resource: configmaps, count: 10, changes_per_s: 1, watchers: 1}
"""


def _scenario(tmp_path, spec=SPEC, **workload):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec))
    data = {"name": "spec", "seed": 3, "duration_s": 60,
            "workload": {"spec": str(tmp_path / "spec.yaml"), **workload}}
    return scenario_from_dict(data)


# ------------------------------------------------------------------------------ parameters

def test_substitute_whole_values_keep_their_type_and_strings_interpolate():
    params = {"n": 5, "f": "x.csv", "dir": "../traces"}
    assert substitute("$n", params, "a") == 5
    assert substitute("${dir}/${f}", params, "a") == "../traces/x.csv"
    assert substitute({"k": ["$n", "cost $$3"]}, params, "a") == {"k": [5, "cost $3"]}


def test_unknown_parameter_names_the_field_and_suggests():
    with pytest.raises(ConfigError) as err:
        substitute({"ops": [{"count": "$nodez"}]}, {"nodes": 1}, "workload")
    assert err.value.where == "workload.ops[0].count"
    assert "$nodez" in err.value.message and "did you mean 'nodes'" in err.value.message


def test_parse_params_reads_yaml_scalars():
    assert parse_params(["pods=a.csv", "nodes=100", "frac=0.5", "on=true"]) == {
        "pods": "a.csv", "nodes": 100, "frac": 0.5, "on": True}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_params(["oops"])


# ------------------------------------------------------------------------------- compiling

def test_spec_compiles_into_the_existing_schema(tmp_path):
    sc = compile_workload(_scenario(tmp_path, params={"nodes": 6}))
    wl = sc.workload
    assert wl.spec == "" and wl.ops == [] and wl.labels == ["performance", "gpu"]
    (ng,) = sc.cluster.nodes
    assert (ng.count, ng.gpus, ng.gpu_model, ng.zones) == (6, 2, "T4", 2)  # scenario params override
    (warm,) = wl.pods
    assert warm.count == 20 and warm.arrival.kind == "poisson" and warm.arrival.rate_per_s == 50
    assert warm.template.image == "nginx:1.25" and warm.after == ""
    assert set(warm.vary) == {"priority", "memory_bytes"}  # distributions drawn per pod
    b0, b1 = wl.barriers
    assert (b0.name, b0.after, b0.until) == ("barrier-0", ["warm"], "scheduled")
    assert [d.name for d in wl.deployments] == ["web-0", "web-1"]
    assert all(d.after == "barrier-0" and d.measure for d in wl.deployments)
    assert all(2 <= d.replicas <= 4 and d.template.cpu_cores in (0.1, 0.2) for d in wl.deployments)
    assert (b1.after, b1.delay_s, b1.until) == (["barrier-0", "web-0", "web-1"], 5.0, "created")
    (job,) = wl.jobs
    assert job.after == "barrier-1" and job.template.duration_s.value == 2.0
    assert wl.generic[0].resource == "configmaps" and wl.generic[0].objects == 10


def test_compilation_is_seeded(tmp_path):
    a = compile_workload(_scenario(tmp_path)).workload.deployments
    b = compile_workload(_scenario(tmp_path)).workload.deployments
    assert [d.replicas for d in a] == [d.replicas for d in b]


@pytest.mark.parametrize(("op", "where", "text"), [
    ("{op: createPodz, count: 1}", "ops[0].op", "did you mean 'createPods'"),
    ("{op: createPods, template: {cpu_corez: 1}}", "ops[0].template.cpu_corez", "unknown field"),
    ("{op: createPods, template: {cpu_cores: {kind: lognormal, median: 1}}}", "ops[0].template.cpu_cores",
     "needs p99"),
    ("{op: createPods, count: $missing}", "ops[0].count", "unknown parameter"),
    ("{op: createPods, arrival: {kind: poisson, rate_per_s: 0}}", "ops[0].arrival", "rate_per_s"),
    ("{op: createNodes, count: x}", "ops[0].count", "expected a number"),
])
def test_errors_name_the_spec_file_and_the_field_path(tmp_path, op, where, text):
    sc = _scenario(tmp_path, spec=f"version: 1\nops:\n  - {op}\n")
    with pytest.raises(ConfigError) as err:
        compile_workload(sc)
    assert err.value.source.endswith("spec.yaml")
    assert err.value.where == where, err.value.one_line()
    assert text in err.value.one_line()


def test_spec_file_checks_version_and_keys(tmp_path):
    with pytest.raises(ConfigError, match="unsupported version"):
        compile_workload(_scenario(tmp_path, spec="version: 2\nops: []\n"))
    with pytest.raises(ConfigError, match="did you mean 'params'"):
        compile_workload(_scenario(tmp_path, spec="version: 1\nparms: {}\n"))


def test_create_nodes_after_a_barrier_is_refused(tmp_path):
    spec = "version: 1\nops:\n  - {op: barrier}\n  - {op: createNodes, count: 1}\n"
    with pytest.raises(ConfigError, match="before the first barrier"):
        compile_workload(_scenario(tmp_path, spec=spec))


# ------------------------------------------------------------------------------- loading

def test_load_scenario_accepts_top_level_short_forms_and_overrides(tmp_path):
    p = tmp_path / "sc.yaml"
    p.write_text("version: 1\nname: s\nparams: {n: 2}\nops:\n  - {op: createNodes, count: $n}\n")
    sc = load_scenario(p, params={"n": 3})
    assert sc.workload.params["n"] == 3 and sc.workload.params["scenario_dir"] == str(tmp_path)
    assert compile_workload(sc).cluster.nodes[0].count == 3
    with pytest.raises(ConfigError, match="given twice"):
        prepare({"ops": [], "workload": {"ops": []}})


def test_load_scenario_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\nworkload: {traces: [{file: x.csv, compres: 2}]}\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(p)
    assert err.value.one_line().startswith(f"{p}: workload.traces[0].compres: unknown field")


def test_resolve_path_looks_next_to_the_scenario_then_its_parent_then_cwd(tmp_path, monkeypatch):
    (tmp_path / "proj" / "workloads").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("x")
    (tmp_path / "proj" / "workloads" / "local.csv").write_text("x")
    scen = str(tmp_path / "proj" / "workloads")
    assert resolve_path("local.csv", scen) == str(tmp_path / "proj" / "workloads" / "local.csv")
    # "../data/..." is relative to the project root (the scenario folder's parent)
    assert resolve_path("../data/t.csv", scen) == str(tmp_path / "data" / "t.csv")
    monkeypatch.chdir(tmp_path / "proj")
    assert resolve_path("../data/t.csv") == str(tmp_path / "data" / "t.csv")
    with pytest.raises(ConfigError, match="no such file nope.csv"):
        resolve_path("nope.csv", scen, where="workload.traces[0].file")


# ---------------------------------------------------------------------------------- running

RUN_SPEC = """
version: 1
params: {n: 30}
ops:
  - {op: createNodes, count: 4, cpu_cores: 4, memory_bytes: 16Gi}
  - {op: createPods, name: warm, count: $n, rate_per_s: 20, template: {cpu_cores: 100m}}
  - {op: barrier, until: scheduled}
  - {op: wait, duration_s: 3s}
  - op: createPods
    name: hot
    count: 40
    measure: true
    arrival: {kind: bursts, burst_size: 10, burst_every_s: 2s, rate_per_s: 0}
    template: {cpu_cores: {kind: choice, values: [100m, 200m], weights: [3, 1]}, duration_s: 1s}
"""


def test_barriers_and_the_measured_phase_in_virtual_time(tmp_path):
    sc = _scenario(tmp_path, spec=RUN_SPEC)
    r = run(sc)
    df = r.frames["pods"]
    warm = df[df["pod"].str.startswith("default/warm-")]
    hot = df[df["pod"].str.startswith("default/hot-")]
    assert len(warm) == 30 and len(hot) == 40
    released = warm["bound_s"].max()  # until: scheduled
    assert hot["created_s"].min() >= released + 3.0  # then the 3 s wait
    # bursts of 10 at once, every 2 s
    t = np.sort(hot["created_s"].to_numpy())
    assert np.ptp(t[:10]) < 0.1 and 1.9 < t[10] - t[0] < 2.1
    m = r.summary["measured"]
    assert m["pods"] == 40 and math.isclose(m["warmup_s"], hot["created_s"].min(), abs_tol=0.05)
    assert m["scheduled"] == 40 and m["pod_startup_s"]["p50"] is not None
    cpu = [p.spec.requests()["cpu"] for p in r.world.plane.etcd.values("pods").values()
           if p is not None and p.key.startswith("default/hot-")]
    assert set(cpu) <= {100.0, 200.0}


def test_an_unknown_barrier_reference_fails_at_build_time():
    from kbench.experiment.runner import build

    sc = scenario_from_dict({"cluster": {"nodes": [{"count": 1}]},
                             "workload": {"pods": [{"name": "p", "after": "nope"}]}})
    with pytest.raises(ConfigError) as err:
        build(sc)
    assert err.value.where == "workload.pods[0].after" and "unknown barrier 'nope'" in err.value.message
