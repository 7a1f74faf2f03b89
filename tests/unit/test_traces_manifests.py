"""Kubernetes manifests as a workload: replicas × template, Job completions, Pods, Lists.

tests/fixtures/traces/workload.yaml is hand-made in the Kubernetes API schema (apps/v1
Deployment, batch/v1 Job, v1 Service, Pod and List), as ``kubectl apply -f`` takes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kbench.errors import TraceError
from kbench.workload.traces import detect_format, load_trace, pods_from_trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
WORKLOAD = FIXTURES / "workload.yaml"
MIB, GIB = 2**20, 2**30


def test_workload_objects_become_pods():
    """3 Deployment replicas, 2 Job completions, 1 Pod, 1 Pod inside a List; the Service is ignored."""
    assert detect_format(WORKLOAD) == "k8s-manifests"
    trace = load_trace(WORKLOAD)
    p = trace.pods.set_index("name")
    assert list(p.index) == ["web-0", "web-1", "web-2", "train-0", "train-1", "debug", "gpu-whole"]
    assert (p.arrival_s == 0).all() and p.deletion_s.isna().all()
    web = p.loc["web-1"]
    assert (web.cpu_milli, web.memory_bytes, web.qos, web.owner, web.app) == (
        250, 128 * MIB, "Guaranteed", "Deployment/web", "web")
    train = p.loc["train-0"]
    assert (train.cpu_milli, train.memory_bytes, train.gpu_count, train.gpu_milli) == (4000, 16 * GIB, 1, 500)
    assert (train.priority, train.duration_s, train.owner, train.qos) == (1000, 600, "Job/train", "Burstable")
    debug = p.loc["debug"]
    assert (debug.cpu_milli, debug.qos, debug.owner) == (0, "BestEffort", "")
    whole = p.loc["gpu-whole"]                 # limits only: requests default to them
    assert (whole.cpu_milli, whole.gpu_count, whole.gpu_milli, whole.qos, whole.app) == (
        8000, 2, 1000, "Guaranteed", "infer")


def test_pods_from_manifests():
    """The specs carry the requests, GPUs and run time."""
    pods = {p.name: p for p in pods_from_trace(load_trace(WORKLOAD).pods)}
    assert pods["train-1"].duration_s == 600 and pods["web-0"].duration_s is None
    assert (pods["gpu-whole"].gpu_count, pods["gpu-whole"].gpu_milli) == (2, 1000)


def test_job_without_completions_uses_parallelism(tmp_path):
    """completions unset: parallelism pods; replicas unset: one."""
    path = tmp_path / "w.yaml"
    path.write_text("kind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 4\n  template: {spec: {containers: []}}\n"
                    "---\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template: {spec: {containers: []}}\n")
    assert list(load_trace(path).pods.name) == ["j-0", "j-1", "j-2", "j-3", "d-0"]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {}\n", 4, "expected metadata.name in the Pod"),
    ("kind: Pod\nmetadata: {name: a}\n---\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: -1, template: {}}\n",
     4, "expected a whole number >= 0 of pods in the Deployment 'd', got -1"),
    ("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - resources: {requests: {cpu: lots}}\n", 1,
     "expected a valid pod template in the Pod 'a'"),
    ("kind: Pod\nmetadata: {name: a\n", 3, "expected Kubernetes manifests in YAML"),
    ("- just\n- a list\n", 1, "expected a Kubernetes object (a mapping), got list"),
])
def test_malformed_manifests(tmp_path, text, line, message):
    """Errors name the line where the bad document starts (or the YAML error's line)."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        load_trace(path)
    assert err.value.one_line().startswith(f"{path}:{line}: {message}")


def test_skip_bad_objects(tmp_path):
    """skip_bad_rows drops a bad workload object and counts it."""
    path = tmp_path / "w.yaml"
    path.write_text("kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {}\n")
    trace = load_trace(path, skip_bad_rows=True)
    assert list(trace.pods.name) == ["a"] and trace.bad_rows == 1


def test_json_list_is_detected(tmp_path):
    """`kubectl get -o json` output (one multi-line JSON List) reads as manifests."""
    path = tmp_path / "pods.json"
    path.write_text('{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [\n'
                    '    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},\n'
                    '     "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}\n  ]\n}\n')
    assert detect_format(path) == "k8s-manifests"
    p = load_trace(path).pods
    assert (list(p.name), list(p.cpu_milli)) == (["p"], [1000.0])
