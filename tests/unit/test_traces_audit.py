"""The Kubernetes audit-log importer: the request stream and the pods created and deleted.

tests/fixtures/traces/audit.log is hand-made in the published schema (``audit.k8s.io/v1`` Event,
one JSON object per line as the apiserver's JSON log backend writes it), with a ReplicaSet
controller creating a pod at level RequestResponse, the scheduler binding it, kubectl creating a
pod at level Request and deleting pods, a denied create and a non-resource request.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kbench.errors import TraceError
from kbench.workload.traces import REQUEST_COLUMNS, detect_format, load_trace
from kbench.workload.traces.audit import client_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
AUDIT = FIXTURES / "audit.log"
MIB = 2**20


@pytest.fixture(scope="module")
def trace():
    return load_trace(AUDIT)


def test_requests_table(trace):
    """One row per request (RequestReceived and ResponseComplete of a1 merge), times from the first."""
    assert detect_format(AUDIT) == "k8s-audit" and trace.format == "k8s-audit"
    r = trace.requests
    assert list(r.columns) == list(REQUEST_COLUMNS)
    assert list(r.time_s) == [0.0, 0.5, 1.2, 2.0, 3.0, 4.0, 10.5, 11.0, 12.0]
    assert list(r.verb) == ["create", "watch", "create", "patch", "create", "create", "delete", "delete", "get"]
    assert list(r.resource) == ["pods", "pods", "pods/binding", "pods/status", "pods", "pods", "pods", "pods",
                                "/healthz"]
    assert list(r.client) == ["kube-controller-manager", "kube-scheduler", "kube-scheduler", "kubelet", "kubectl",
                              "kubectl", "kubectl", "kube-controller-manager", "system:anonymous"]
    assert list(r.code) == [201, 200, 201, 200, 201, 403, 200, 200, 200]
    assert r.name[0] == "web-7d4b9c-x2x4q"          # generateName: the name comes from responseObject
    assert r.user[3] == "system:node:node-1"


def test_pods_created_and_deleted(trace):
    """Created pods arrive at their create, run from their binding; a pod only deleted was there before."""
    p = trace.pods.set_index("name")
    assert list(p.index) == ["old-pod", "web-7d4b9c-x2x4q", "gpu-job"]   # the 403 create made no pod
    web = p.loc["web-7d4b9c-x2x4q"]
    assert (web.arrival_s, web.deletion_s) == (0.0, 10.5)
    assert web.duration_s == pytest.approx(10.5 - 1.2)
    assert (web.cpu_milli, web.memory_bytes) == (500, 256 * MIB)
    assert (web.owner, web.app, web.qos) == ("ReplicaSet/web-7d4b9c", "web", "Burstable")
    gpu = p.loc["gpu-job"]                            # level Request: the pod comes from requestObject
    assert (gpu.arrival_s, gpu.cpu_milli, gpu.gpu_count, gpu.gpu_milli) == (3.0, 2000, 1, 500)
    assert math.isnan(gpu.deletion_s)
    old = p.loc["old-pod"]
    assert math.isnan(old.arrival_s) and old.deletion_s == 11.0 and old.cpu_milli == 0


@pytest.mark.parametrize(("agent", "user", "client"), [
    ("kube-scheduler/v1.29.2 (linux/amd64) kubernetes/4b8e819/scheduler", "", "kube-scheduler"),
    ("kubectl/v1.29.2 (darwin/arm64) kubernetes/4b8e819", "admin", "kubectl"),
    ("Go-http-client/2.0", "x", "Go-http-client"),
    ("", "system:anonymous", "system:anonymous"),
])
def test_client_of(agent, user, client):
    """The client is the user agent's product name, else the user."""
    assert client_of(agent, user) == client


def _event(**fields) -> str:
    base = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "x",
            "stage": "ResponseComplete", "verb": "get", "requestURI": "/healthz",
            "requestReceivedTimestamp": "2024-05-01T10:00:00.000000Z"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "expected a JSON audit Event per line, got 'not json'"),
    (json.dumps({"kind": "Pod", "apiVersion": "v1"}), "expected an audit.k8s.io/v1 Event, got kind 'Pod'"),
    (_event(auditID="y", verb=None), "expected a verb in every audit Event, got None"),
    (_event(auditID="y", requestReceivedTimestamp="yesterday"),
     "expected an RFC 3339 time in requestReceivedTimestamp, got 'yesterday'"),
    (_event(auditID="y", verb="create", objectRef={"resource": "pods", "namespace": "d", "name": "p"},
            responseStatus={"code": 201},
            requestObject={"kind": "Pod", "spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}}),
     "expected a valid Pod in the audit Event"),
])
def test_malformed_lines(tmp_path, line, message):
    """A bad line names its line number; skip_bad_rows drops and counts it."""
    path = tmp_path / "audit.log"
    path.write_text(_event() + "\n" + line + "\n")
    with pytest.raises(TraceError) as err:
        load_trace(path, "k8s-audit")
    assert err.value.one_line().startswith(f"{path}:2: {message}")
    trace = load_trace(path, "k8s-audit", skip_bad_rows=True)
    assert trace.bad_rows == 1 and len(trace.requests) == 1
