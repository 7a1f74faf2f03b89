"""Result digests: one hash per part of a run's results, to show that a change left results identical.

An engine change that claims "identical results" (a faster path, a refactor) is checked by running a
fixed set of cases before and after it and comparing their digests: the summary, split by its
top-level sections, and every result table (``pods``, ``requests``, ``series``, ``fgd``), each
hashed on its own so that a difference names the part that moved. Fields that engine changes move
without changing the model are left out: ``sim`` (wall time, SimPy event counts), ``run_dir``, and a
sync run's ``wall_s`` and ``events``, as the golden tests leave them out.

The cases (:data:`CASES`) are the golden scenarios (demo, an apiserver restart, reduced openb and
fgd-openb replays), an etcd leader election, a 300-node density run, a one-node cluster (whose
heartbeats wake up ahead of their planned sleep) and a small sync experiment
with each strategy: together they go through the scheduler, the kubelets, the controllers, APF,
etcd, the watch cache, faults and both ways of syncing a client. ``kbench digest`` prints them;
``--against`` compares with a digest printed before (exit 1 when a part differs).

Hashes are SHA-256 of canonical text: the summary section as JSON with sorted keys, a table as CSV
with every float written with 17 significant digits (a float64 round-trips exactly), so two runs
hash equal exactly when their results are equal, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kbench.errors import KbenchError

VOLATILE = ("sim", "run_dir", "wall_s", "events")
"""Top-level summary fields left out of a digest (engine figures, not model results)."""
SYNC_SIZE = {"clients": 40, "objects": 400, "changes_per_s": 10}
"""The sync cases' size (sync-demo.yaml, smaller; 2 virtual minutes)."""


def _workload(name: str) -> dict[str, Any]:
    from kbench.bundled import WORKLOADS

    return yaml.safe_load((WORKLOADS / name).read_text())


def _file_case(name: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        from kbench.bundled import WORKLOADS

        return WORKLOADS / name
    return build


def _trace_case(name: str, **trace: Any) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        from kbench.bench import _trace

        data = _trace(name, **trace)
        out = tmp / name
        out.write_text(yaml.safe_dump(data, sort_keys=False))
        return out
    return build


def _density_case(tmp: Path) -> Path:
    from kbench.bench import _density

    out = tmp / "density-300.yaml"
    out.write_text(yaml.safe_dump(_density(300, 3000, 1000, 60, "digest-density-300"), sort_keys=False))
    return out


def _one_node_case(tmp: Path) -> Path:
    """The demo template on one node, 5 pods, 20 virtual minutes: with one kubelet the heartbeats
    often wake up ahead of their planned sleep (a renewal due before the next status report)."""
    data = _workload("demo.yaml")
    data.update(name="digest-one-node", duration_s="20m")
    data["cluster"]["nodes"] = [{**data["cluster"]["nodes"][0], "count": 1, "zones": 1}]
    data["workload"] = {"deployments": [{"name": "web", "replicas": 5,
                                         "template": {"cpu_cores": "100m", "memory_bytes": "128Mi"}}]}
    out = tmp / "one-node.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _sync_case(tmp: Path) -> Path:
    data = _workload("sync-demo.yaml")
    data["name"] = "digest-sync"
    data["duration_s"] = "2m"
    data["sync"].update(SYNC_SIZE)
    out = tmp / "sync.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


CASES: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "demo": ("run", _file_case("demo.yaml")),
    "fault-apiserver-restart": ("run", _file_case("faults/apiserver-restart.yaml")),
    "fault-etcd-leader-election": ("run", _file_case("faults/etcd-leader-election.yaml")),
    "openb-reduced": ("run", _trace_case("openb.yaml", max_pods=400)),
    "fgd-openb-reduced": ("run", _trace_case("fgd-openb.yaml", sample_nodes=0.05, max_pods=300)),
    "density-300": ("run", _density_case),
    "one-node": ("run", _one_node_case),
    "sync-poll": ("poll", _sync_case),
    "sync-list-watch": ("list-watch", _sync_case),
    "sync-watch-list": ("watch-list", _sync_case),
}
"""Case name → (``run`` or a sync strategy, builder of its scenario file in a temporary folder)."""


def sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()


def frame_hash(frame) -> str:
    """Hash of a table: its columns, dtypes and values (CSV, floats to 17 significant digits)."""
    head = json.dumps([[str(c), str(t)] for c, t in zip(frame.columns, frame.dtypes, strict=True)])
    return sha256(head + "\n" + frame.to_csv(index=False, float_format="%.17g", lineterminator="\n"))


def digest_result(summary: dict[str, Any], frames: dict[str, Any]) -> dict[str, Any]:
    """The digest of one run: ``{"hash", "summary": {section: hash}, "frames": {table: hash}}``.

    Args:
        summary: The run summary (``kbench run -o json``); :data:`VOLATILE` fields are left out.
        frames: The result tables (pandas DataFrames) by name.
    """
    stable = json.loads(json.dumps({k: v for k, v in summary.items() if k not in VOLATILE}, default=str))
    parts = {key: sha256(json.dumps(value, sort_keys=True)) for key, value in sorted(stable.items())}
    tables = {name: frame_hash(frame) for name, frame in sorted(frames.items())}
    whole = sha256(json.dumps({"summary": parts, "frames": tables}, sort_keys=True))
    return {"hash": whole, "summary": parts, "frames": tables}


def run_case(name: str, tmp: Path) -> dict[str, Any]:
    """Run the case ``name`` (see :data:`CASES`) and return its digest."""
    kind, build = CASES[name]
    path = build(tmp)
    return digest_scenario(path, kind)


def digest_scenario(path: str | Path, kind: str = "run") -> dict[str, Any]:
    """Run the scenario file ``path`` (``kind``: ``run``, or a sync strategy) and return its digest."""
    if kind == "run":
        from kbench.experiment.runner import run

        result = run(path)
        return digest_result(result.summary, result.frames)
    from kbench.config import load_scenario
    from kbench.experiment.sync import run_sync

    result = run_sync(load_scenario(path), kind)
    return digest_result(result.summary, result.frames)


def run_cases(names: list[str], scenarios: list[Path] | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Digests of the named cases and scenario files (keyed ``file:<path>``), in that order.

    Raises:
        KbenchError: An unknown case name.
    """
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise KbenchError(f"unknown digest case {unknown[0]!r}: expected one of {', '.join(CASES)}")
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            if log is not None:
                log(f"{name} ...")
            out[name] = run_case(name, Path(d))
        for path in scenarios or []:
            if log is not None:
                log(f"{path} ...")
            out[f"file:{path}"] = digest_scenario(path)
    return out


def compare(now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(case, part, verdict)`` for every part of every case in ``now``: ``same``, ``differs``, or
    ``new`` (not in ``before``); parts are ``summary.<section>`` and ``frames.<table>``."""
    rows = []
    for case, got in now.items():
        old = before.get(case)
        for kind in ("summary", "frames"):
            mine = got[kind]
            theirs = None if old is None else old.get(kind, {})
            for part in sorted(set(mine) | set(theirs or {})):
                if theirs is None:
                    verdict = "new"
                elif part not in mine or part not in theirs:
                    verdict = "differs"  # a part appeared or went away
                else:
                    verdict = "same" if mine[part] == theirs[part] else "differs"
                rows.append((case, f"{kind}.{part}", verdict))
    return rows
