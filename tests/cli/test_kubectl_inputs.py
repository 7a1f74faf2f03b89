"""``kbench run --cluster DUMP --apply MANIFESTS`` (issue 19, Build item 2) through the command line.

The acceptance case: a kubectl dump of 3 nodes and 5 running pods (tests/fixtures/kubectl/cluster.yaml,
in kubectl's output shape) and a manifest file with a Deployment of 3 replicas, a Job of 20
completions 5 at a time, a DaemonSet and a Service selecting the Deployment's pods (app.yaml), run
for 10 virtual minutes. Expected figures are derived from the two files, not written down.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kbench.cli import app
from kbench.quantity import parse_quantity

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "kubectl"
DUMP, APP, LIST = FIX / "cluster.yaml", FIX / "app.yaml", FIX / "workloads.yaml"
runner = CliRunner()


def _docs(path: Path) -> list[dict]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc is None:
            continue
        out += doc["items"] if doc.get("kind") == "List" else [doc]
    return out


def _cpu(obj: dict) -> float:
    """CPU requested by a pod spec, cores."""
    return sum(parse_quantity(c["resources"]["requests"]["cpu"]) for c in obj["spec"]["containers"])


def _run(*args: str, tmp: Path) -> tuple[dict, str]:
    res = runner.invoke(app, ["run", *args, "--out", str(tmp / "out"), "-o", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), res.stderr


@pytest.fixture(scope="module")
def acceptance(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("acceptance")
    return _run("--cluster", str(DUMP), "--apply", str(APP), "--duration", "10m", tmp=tmp)


def test_acceptance_the_apps_run_as_their_controllers_run_them(acceptance):
    s, _ = acceptance
    objs = {o["kind"]: o for o in _docs(APP)}
    rows = {r["kind"]: r for r in s["applied"]}
    assert [(r["kind"], r["name"]) for r in s["applied"]] == [(o["kind"], o["metadata"]["name"]) for o in _docs(APP)]
    dep, job, ds, svc = rows["Deployment"], rows["Job"], rows["DaemonSet"], rows["Service"]
    replicas = objs["Deployment"]["spec"]["replicas"]
    # the Deployment keeps its replicas running
    assert dep["replicas"] == replicas and dep["available"] == replicas and dep["ready"] == replicas
    assert dep["pods"] == replicas and dep["running"] == replicas and sum(dep["nodes"].values()) == replicas
    # the Job finishes its completions, at most parallelism at a time (checked by the Job's own status)
    completions = objs["Job"]["spec"]["completions"]
    assert job["completions"] == completions and job["parallelism"] == objs["Job"]["spec"]["parallelism"]
    assert job["succeeded"] == completions and job["complete"] and job["failed"] == 0 and job["active"] == 0
    # the DaemonSet puts one pod on every node
    nodes = [o["metadata"]["name"] for o in _docs(DUMP) if o["kind"] == "Node"]
    assert ds["desired"] == ds["available"] == len(nodes) and ds["nodes"] == {n: 1 for n in nodes}
    # the Service gets an EndpointSlice with the Deployment's pods as endpoints
    assert svc["endpointslices"] == 1 and svc["endpoints"] == replicas
    assert len(set(svc["endpoint_pods"])) == replicas and all(p.startswith("web-") for p in svc["endpoint_pods"])
    # pods made in the run: the Deployment's, the DaemonSet's and the Job's (the dump's are not counted)
    assert s["pods"]["created"] == replicas + len(nodes) + completions
    assert s["pods"]["succeeded"] == completions and s["pods"]["pending"] == 0


def test_acceptance_the_existing_pods_are_load_on_their_nodes(acceptance):
    s, _ = acceptance
    pods = [o for o in _docs(DUMP) if o["kind"] == "Pod"]
    by_node = Counter(p["spec"]["nodeName"] for p in pods)
    existing_cpu = Counter()
    for p in pods:
        existing_cpu[p["spec"]["nodeName"]] += _cpu(p)
    assert s["inputs"]["cluster"]["existing_pods"] == len(pods) == 5
    assert s["inputs"]["cluster"]["existing_pods_by_node"] == dict(by_node)
    app = {o["kind"]: o for o in _docs(APP)}
    web_cpu = _cpu(app["Deployment"]["spec"]["template"])
    agent_cpu = _cpu(app["DaemonSet"]["spec"]["template"])
    web_nodes = {r["kind"]: r for r in s["applied"]}["Deployment"]["nodes"]
    for row in s["cluster_nodes"]:
        node = row["node"]
        # the scheduler's cache holds the dump's pods' requests beside the run's live pods
        want = existing_cpu[node] + agent_cpu + web_cpu * web_nodes.get(node, 0)
        assert row["cpu_requested_cores"] == pytest.approx(want, abs=1e-6), node
        assert row["existing_pods"] == by_node[node]
        assert row["pods"] == by_node[node] + 1 + web_nodes.get(node, 0)
    # the node whose existing pods leave less than a web pod's request gets none of them
    full = [n for n in by_node if 3.92 - existing_cpu[n] - agent_cpu < web_cpu]
    assert full == ["node-c"] and "node-c" not in web_nodes


def test_acceptance_notes_only_what_is_left_out(acceptance):
    s, err = acceptance
    # app.yaml holds nothing kbench cannot model; of the dump, only that its pods' controllers do not run
    assert not [x for x in s["ignored"] if x.startswith("app.yaml:")] and "app.yaml" not in err
    owners = Counter(p["metadata"]["ownerReferences"][0]["kind"] for p in _docs(DUMP) if p["kind"] == "Pod")
    owners["Deployment"] = owners.pop("ReplicaSet")  # a ReplicaSet's pods are its Deployment's
    kinds = ", ".join(f"{n} of {k}s" for k, n in sorted(owners.items()))
    notes = [x for x in s["ignored"] if x.startswith("cluster.yaml:")]
    assert notes == [f"cluster.yaml: the controllers of existing pods are not in the run ({kinds}): the pods stay "
                     "as load, nothing scales, rolls or replaces them (give their objects to --apply to run them)"]
    assert notes[0] in err


def test_kubectl_get_list_skips_owned_replicasets_and_replaces_the_existing_pods(tmp_path):
    s, err = _run("--cluster", str(DUMP), "--apply", str(LIST), "--duration", "2m", tmp=tmp_path)
    items = _docs(LIST)
    made = [o for o in items if o["kind"] != "ReplicaSet"]
    assert [(r["kind"], r["name"]) for r in s["applied"]] == [(o["kind"], o["metadata"]["name"]) for o in made]
    assert s["inputs"]["applied_objects"] == dict(Counter(o["kind"] for o in made))
    # every pod of the dump belongs to an applied object: the applied objects make their own
    cluster = s["inputs"]["cluster"]
    assert cluster["existing_pods"] == 0 and cluster["left_out"]["replaced_by_apply"] == 5
    rows = {(r["kind"], r["name"]): r for r in s["applied"]}
    assert rows[("Deployment", "coredns")]["available"] == 1
    assert rows[("DaemonSet", "kube-proxy")]["nodes"] == {"node-a": 1, "node-b": 1, "node-c": 1}
    assert rows[("StatefulSet", "postgres")]["ready"] == 1
    assert rows[("Service", "postgres")]["endpoint_pods"] == ["postgres-0"]
    assert rows[("Service", "kubernetes")]["endpoints"] == 0 and rows[("Service", "kubernetes")]["endpointslices"] == 0
    said = "\n".join(s["ignored"])
    for note in ("ReplicaSets owned by a Deployment in the file are skipped (the Deployment makes its own) "
                 "(ReplicaSet kube-system/coredns-7c65d6cfc9)",
                 "volumes are not modelled", "liveness probes are not modelled", "hostNetwork is not modelled",
                 "volumeClaimTemplates are not modelled", "Services without a selector get their EndpointSlices out of band"):
        assert note in said, note
        assert note in err  # each also a warning line
    # defaults printed by kubectl get (completionMode, partition 0, the retention policy...) are no notes
    assert "partition" not in said and "paused" not in said and "unknown" not in said


def test_a_scenario_schedules_the_applied_objects(tmp_path):
    sc = tmp_path / "later.yaml"
    sc.write_text(f"version: 1\nname: later\nduration_s: 2m\ncluster: {{dump: {DUMP}}}\n"
                  f"workload:\n  apply: [{{file: {APP}, at_s: 45s}}]\n")
    s, _ = _run(str(sc), tmp=tmp_path)
    import pandas as pd

    pods = pd.read_parquet(Path(s["run_dir"]) / "pods.parquet")
    made = pods[pods["owner_kind"] != "existing"]
    assert len(made) == s["pods"]["created"] > 0 and made["created_s"].min() >= 45.0
    assert (pods["owner_kind"] == "existing").sum() == 5
    assert s["inputs"]["apply"] == [{"file": "app.yaml", "at_s": 45.0}]


def test_same_seed_same_summary(tmp_path):
    a, _ = _run("--cluster", str(DUMP), "--apply", str(APP), "--duration", "3m", tmp=tmp_path / "a")
    b, _ = _run("--cluster", str(DUMP), "--apply", str(APP), "--duration", "3m", tmp=tmp_path / "b")
    for s in (a, b):
        s.pop("run_dir")
        s["sim"].pop("wall_s")
    assert a == b


CL2 = "name: load\nnamespace: {number: 1}\ntuningSets:\n- {name: Uniform5qps, qpsLoad: {qps: 5}}\nsteps:\n- {name: x}\n"
BOUND_POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
             "spec: {nodeName: node-a, containers: [{name: c, image: nginx}]}\n")
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n"
SCHED = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: []\n"
BAD_CPU = APP.read_text().replace("cpu: 500m", "cpu: lots")
BAD_SELECTOR = APP.read_text().replace("      app: web\n  strategy", "      app: webb\n  strategy")
TWICE = APP.read_text() + "---\n" + APP.read_text().split("---\n")[1]


def _pods_only() -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                           "items": [o for o in _docs(DUMP) if o["kind"] == "Pod"]})


ERRORS = {  # name: (args with {FILE} for the written file, file text, pattern of the one line)
    "no scenario, no cluster": (["--apply", str(APP)], None, r"give a scenario .* or a cluster"),
    "dump as scenario": ([str(DUMP)], None, r"a kubectl dump \(3 Nodes, 5 Pods\), not a kbench scenario: run it "
                                            r"as `kbench run --cluster FILE`"),
    "manifests as scenario": ([str(APP)], None, r"Kubernetes manifests \(Deployment web, Service web, Job report "
                                                r"and 1 more\), not a kbench scenario: create them with `kbench run "
                                                r"--cluster DUMP.yaml --apply FILE`"),
    "one Pod as scenario": (["{FILE}"], POD, r"a Kubernetes Pod manifest, not a kbench scenario: create it with "
                                             r"`kbench run --cluster DUMP.yaml --apply FILE`, or see where it would "
                                             r"go with `kbench explain"),
    "ClusterLoader2 config as scenario": (["{FILE}"], CL2, r"a ClusterLoader2 test config .* which kbench does not "
                                                           r"run: `kbench run workloads/cl2-load.yaml`"),
    "scheduler config as scenario": (["{FILE}"], SCHED, r"a KubeSchedulerConfiguration: give it as `kbench run "
                                                        r"SCENARIO --policy FILE`"),
    "manifests to --cluster": (["--cluster", str(APP)], None, r"Kubernetes manifests .* and no Node: give them to "
                                                              r"--apply"),
    "pods without nodes to --cluster": (["--cluster", "{FILE}"], "PODS", r"a dump of pods bound to nodes \(5 Pods\) "
                                                                         r"without the nodes"),
    "dump to --apply": (["--cluster", str(DUMP), "--apply", str(DUMP)], None,
                        r"a kubectl dump \(3 Nodes, 5 Pods\): give it to --cluster; --apply takes manifests"),
    "scenario to --apply": (["--cluster", str(DUMP), "--apply", str(ROOT / "workloads" / "demo.yaml")], None,
                            r"a kbench scenario, not Kubernetes objects: run it as `kbench run FILE`"),
    "CL2 config to --apply": (["--cluster", str(DUMP), "--apply", "{FILE}"], CL2, r"a ClusterLoader2 test config"),
    "bound Pod to --apply": (["--cluster", str(DUMP), "--apply", "{FILE}"], APP.read_text() + "---\n" + BOUND_POD,
                             r"document 5: Pod default/p is bound to node 'node-a': existing pods go to --cluster"),
    "pods without nodes to --apply": (["--cluster", str(DUMP), "--apply", "{FILE}"], "PODS",
                                      r"a dump of pods bound to nodes \(5 Pods\) without the nodes: --cluster takes "
                                      r"the nodes and their pods in one file"),
    "missing --apply file": (["--cluster", str(DUMP), "--apply", "nope.yaml"], None, r"--apply nope.yaml: no such file"),
    "bad quantity": (["--cluster", str(DUMP), "--apply", "{FILE}"], BAD_CPU,
                     r"\.yaml: document 1\.spec\.template\.spec\.containers\[0\]\.resources\.requests\.cpu: "),
    "selector not matching the template": (["--cluster", str(DUMP), "--apply", "{FILE}"], BAD_SELECTOR,
                                           r"document 1\.spec\.selector: selector does not match template labels"),
    "object twice": (["--cluster", str(DUMP), "--apply", "{FILE}"], TWICE, r"Service default/web is given twice"),
    "invalid YAML": (["--cluster", str(DUMP), "--apply", "{FILE}"], "kind: [Deployment\n", r"invalid YAML"),
    "--cluster with a scheduler_perf config": ([str(ROOT / "tests" / "fixtures" / "scheduler_perf" /
                                                     "performance-config.yaml"), "--cluster", str(DUMP)], None,
                                               r"--cluster and --apply do not apply to scheduler_perf configs"),
    "--param without a scenario": (["--cluster", str(DUMP), "--param", "x=1"], None, r"--param needs a scenario"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_inputs_are_one_line_exit_2(case, tmp_path):
    args, text, pattern = ERRORS[case]
    if text is not None:
        f = tmp_path / "file.yaml"
        f.write_text(_pods_only() if text == "PODS" else text)
        args = [a.replace("{FILE}", str(f)) for a in args]
    res = runner.invoke(app, ["run", *args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
