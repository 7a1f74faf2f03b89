"""Fuzzing the input loaders: any input loads or raises the project's own error, with a message.

Scenario YAML (``kbench.config.load_scenario``), KubeSchedulerConfiguration profiles
(``kbench.policy.ksc.load_ksc``) and every trace importer (``load_trace`` with each format) get
mutated versions of real seed files; nothing may raise another exception or hang (the hypothesis
deadline). The number of examples is bounded in ``make test``; ``make fuzz`` runs many more.
"""

from __future__ import annotations

import atexit
import gzip
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kbench.bundled import TRACES
from kbench.errors import KbenchError
from tests.fuzz.mutate import mutated

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"


_TMP = Path(tempfile.mkdtemp(prefix="kbench-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)


def _write(data: bytes, name: str) -> Path:
    p = _TMP / name
    p.write_bytes(data)
    return p


def _must_load_or_kbench_error(fn, path: Path) -> None:
    try:
        fn(path)
    except KbenchError as err:
        assert err.one_line().strip(), "a KbenchError must carry a message"
        assert "\n" not in err.one_line()


# ----------------------------------------------------------------------------------- scenarios
SCENARIO_SEEDS = [ROOT / "workloads" / "demo.yaml", ROOT / "workloads" / "faults" / "node-partition.yaml",
                  ROOT / "workloads" / "faults" / "watch-cache-disabled.yaml"]


def _load_scenario(path: Path) -> None:
    from kbench.config import load_scenario
    load_scenario(path)


@pytest.mark.parametrize("seed", SCENARIO_SEEDS, ids=lambda p: p.name)
def test_fuzz_scenario_text(seed):
    @given(mutated(seed.read_bytes()))
    def check(data):
        _must_load_or_kbench_error(_load_scenario, _write(data, "scenario.yaml"))
    check()


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                     st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                       max_leaves=12)
_keys = st.sampled_from(["name", "seed", "duration_s", "warmup_s", "etcd", "apiserver", "clients", "cluster",
                         "workload", "scheduler", "kubelet", "controllers", "faults", "sync_strategies", "metrics",
                         "deployments", "jobs", "nodes", "version", "bogus"])


@given(st.dictionaries(_keys, _values, max_size=5))
def test_fuzz_scenario_structure(data):
    """Well-formed YAML of the wrong shape: every field gets arbitrary values."""
    _must_load_or_kbench_error(_load_scenario, _write(yaml.safe_dump(data).encode(), "scenario.yaml"))


_fault_names = st.sampled_from(["apiserver-restart", "etcd-leader-election", "etcd-slow-disk", "node-failure",
                                "node-partition", "watch-cache-disabled", "slow-watchers", "apiserver-restrat"])


@given(st.lists(st.fixed_dictionaries({"at_s": _scalars, "fault": st.one_of(_fault_names, _scalars)},
                                      optional={"params": _values}), max_size=3))
def test_fuzz_fault_timeline(faults):
    data = {"name": "f", "duration_s": 60, "faults": faults}
    _must_load_or_kbench_error(_load_scenario, _write(yaml.safe_dump(data).encode(), "scenario.yaml"))


# ------------------------------------------------------------------------------------ profiles
def _load_profile(path: Path) -> None:
    from kbench.policy.ksc import load_ksc
    from kbench.policy.registry import default_registry
    load_ksc(str(path), default_registry().copy())


@pytest.mark.parametrize("seed", ["kube-scheduler-config.yaml", "kube-scheduler-bad-weight.yaml"])
def test_fuzz_profile(seed):
    @given(mutated((FIX / seed).read_bytes()))
    def check(data):
        _must_load_or_kbench_error(_load_profile, _write(data, "ksc.yaml"))
    check()


# -------------------------------------------------------------------------------------- traces
def _head(path: Path, lines: int = 40) -> bytes:
    with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as f:
        return b"".join(f.readline() for _ in range(lines))


TRACE_SEEDS = [
    ("openb-pods", TRACES / "openb_pod_list_default.csv.gz", "pods.csv"),
    ("openb-nodes", TRACES / "openb_node_list_gpu_node.csv.gz", "nodes.csv"),
    ("dlrm", TRACES / "disaggregated_DLRM_trace.csv.gz", "dlrm.csv"),
    ("alibaba2018-batch-task", FIX / "traces" / "batch_task.csv", "batch_task.csv"),
    ("alibaba2018-batch-instance", FIX / "traces" / "batch_instance.csv", "batch_instance.csv"),
    ("alibaba2018-container-meta", FIX / "traces" / "container_meta.csv", "container_meta.csv"),
    ("alibaba2018-machine-meta", FIX / "traces" / "machine_meta.csv", "machine_meta.csv"),
    ("google2019-instance-events", FIX / "traces" / "instance_events.json", "instance_events.json"),
    ("google2019-instance-events", FIX / "traces" / "instance_events.csv", "instance_events.csv"),
    ("google2019-machine-events", FIX / "traces" / "machine_events.json", "machine_events.json"),
    ("google2019-machine-events", FIX / "traces" / "machine_events.csv", "machine_events.csv"),
    ("k8s-audit", FIX / "traces" / "audit.log", "audit.log"),
    ("k8s-manifests", FIX / "traces" / "workload.yaml", "workload.yaml"),
    (None, FIX / "traces" / "workload.yaml", "workload.yaml"),
]


@pytest.mark.parametrize(("fmt", "seed", "name"), TRACE_SEEDS,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_fuzz_trace_importer(fmt, seed, name):
    from kbench.workload.traces import load_trace

    @given(mutated(_head(seed)), st.booleans())
    def check(data, skip):
        _must_load_or_kbench_error(lambda p: load_trace(p, fmt, skip_bad_rows=skip), _write(data, name))
    check()


def test_fuzz_native_trace_from_csv():
    """The native format reads CSV too: feed it mutated openb rows."""
    from kbench.workload.traces import load_trace

    seed = TRACES / "openb_pod_list_default.csv.gz"

    @given(mutated(_head(seed)))
    def check(data):
        _must_load_or_kbench_error(lambda p: load_trace(p, "native"), _write(data, "pods.csv"))
    check()


def test_fuzz_gzip_trace():
    """A damaged gzip file (mutated compressed bytes) loads or fails with one TraceError, never a crash."""
    from kbench.workload.traces import load_trace

    @given(mutated(gzip.compress(_head(TRACES / "openb_node_list_gpu_node.csv.gz"), mtime=0)), st.booleans())
    def check(data, skip):
        _must_load_or_kbench_error(lambda p: load_trace(p, None, skip_bad_rows=skip), _write(data, "nodes.csv.gz"))
    check()
