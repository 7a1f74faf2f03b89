"""``kbench bench --baseline REV``: this tree against an earlier revision, alternating, in one run.

Speed claims of the kind "no slower than before by more than 25 %" are decided by pairs, because
this machine's speed drifts by as much within the hour (docs/ENGINE_PLAN.md, "Measurement noise").
This module extracts the baseline revision with ``git archive`` into a temporary folder and runs
``kbench bench --no-growth -o json`` of each tree in turn, ``rounds`` times, alternating which goes
first (baseline, this tree; then this tree, baseline; ...), each in its own process with its own
tree first on ``PYTHONPATH`` (the same interpreter and installed packages for both; a revision from
before the traces were bundled gets this tree's copies, :func:`provide_traces`). The ratio per
scenario is the median CPU seconds of this tree over the median of the baseline; wall ratios are
given beside. Every run's figures are kept in the output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbench.benchsets import as_args
from kbench.bundled import ROOT
from kbench.errors import KbenchError


def _git(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise KbenchError("--baseline needs git on PATH") from None


def resolve(rev: str, root: Path = ROOT) -> str:
    """The full commit id of ``rev`` in the checkout at ``root``.

    Raises:
        KbenchError: ``root`` is not a git checkout, or ``rev`` names no commit there.
    """
    if not (root / ".git").exists():
        raise KbenchError(f"--baseline needs a git checkout of kbench; {root} is not one")
    got = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root)
    if got.returncode != 0:
        raise KbenchError(f"--baseline {rev}: no such commit in {root}")
    return got.stdout.decode().strip()


def extract(sha: str, into: Path, root: Path = ROOT) -> Path:
    """Write the tree of commit ``sha`` into ``into`` (``git archive``); return ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    got = _git("archive", "--format=tar", sha, cwd=root)
    if got.returncode != 0:
        raise KbenchError(f"git archive {sha[:12]} failed: {got.stderr.decode().strip().splitlines()[-1:]}")
    tar = into / "tree.tar"
    tar.write_bytes(got.stdout)
    with tarfile.open(tar) as t:
        if hasattr(tarfile, "data_filter"):  # 3.11.4 and later: refuse paths outside ``into``
            t.extractall(into, filter="data")
        else:  # pragma: no cover - git archive of our own commit
            t.extractall(into)
    tar.unlink()
    return into


OLD_TRACES = ("shared", "traces")  # an old revision's trace folder, inside its tree (not this project's)


def provide_traces(tree: Path) -> None:
    """Give a revision from before the traces were bundled this tree's bundled copies, decompressed
    into the folder :data:`OLD_TRACES` of its temporary tree, where such a revision also looked for
    them (uncompressed; it looked beside its checkout first, which stays empty here)."""
    import gzip
    import shutil

    from kbench.bundled import TRACES

    own = tree / "workloads" / "traces"
    target = tree.joinpath(*OLD_TRACES)
    if any(own.glob("openb_pod_list_default.csv*")) or target.exists():
        return
    target.mkdir(parents=True)
    for src in sorted(TRACES.iterdir()):
        if src.name.endswith(".gz"):
            with gzip.open(src, "rb") as f, open(target / src.name[:-3], "wb") as out:
                shutil.copyfileobj(f, out)
        elif src.is_file():
            shutil.copy(src, target / src.name)


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _check_imports(tree: Path) -> None:
    """The tree's own kbench is the one its processes import (not the installed one)."""
    code = "import kbench, policies; print(kbench.__file__); print(policies.__file__)"
    got = subprocess.run([sys.executable, "-c", code], cwd=tree, env=_env(tree), capture_output=True, text=True,
                         check=False)
    paths = got.stdout.split()
    if got.returncode != 0 or len(paths) != 2 or not all(Path(p).resolve().is_relative_to(tree.resolve())
                                                         for p in paths):
        raise KbenchError(f"{tree}: its processes do not import its own kbench ({got.stderr.strip() or paths})")


def bench_tree(tree: Path, scenarios: list[str], quick: bool, sets: dict[str, Any] | None = None) -> dict[str, Any]:
    """``kbench bench --no-growth -o json`` of the tree at ``tree`` (its own code), with ``--set`` for each
    of ``sets``, parsed.

    Raises:
        KbenchError: The run failed (the message gives its last error line).
    """
    cmd = [sys.executable, "-m", "kbench.cli", "bench", "--no-growth", "-o", "json"]
    cmd += ["--quick"] if quick else []
    for name in scenarios:
        cmd += ["--scenario", name]
    cmd += as_args(sets or {})
    got = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, check=False)
    if got.returncode != 0:
        lines = [ln for ln in got.stderr.strip().splitlines() if ln.strip()]
        raise KbenchError(f"kbench bench in {tree} failed: {lines[-1] if lines else 'exit ' + str(got.returncode)}")
    return json.loads(got.stdout)


def pair(rev: str, scenarios: list[str], rounds: int = 2, quick: bool = False,
         log: Callable[[str], None] | None = None, root: Path = ROOT,
         sets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Benchmark this tree against ``rev``, alternating, ``rounds`` runs of each.

    Args:
        rev: The baseline revision (a commit id, tag or branch of the checkout at ``root``).
        scenarios: ``kbench bench`` scenario names (both trees must know them).
        rounds: Runs of each tree (at least 1); odd rounds run the baseline first, even ones this tree.
        quick: ``--quick`` sizes.
        log: Progress lines.
        root: This tree (a git checkout).
        sets: ``--set`` overrides for this tree's runs only (:mod:`kbench.benchsets`; the baseline
            revision may not know the keys).

    Returns:
        ``{"baseline": {"rev", "commit"}, "rounds", "quick", "sets", "scenarios": {name: {"baseline_cpu_s": [...],
        "cpu_s": [...], "baseline_wall_s": [...], "wall_s": [...], "baseline_pods_scheduled": [...],
        "pods_scheduled": [...], "cpu_ratio", "wall_ratio", "cpu_per_pod_ratio"}}}``; ratios are medians
        of this tree over medians of the baseline; ``cpu_per_pod_ratio`` is None when a side does not
        report ``pods_scheduled``.

    Raises:
        KbenchError: Bad revision, not a checkout, fewer than one round, or a run failed.
    """
    if rounds < 1:
        raise KbenchError(f"--rounds must be at least 1, got {rounds}")
    sha = resolve(rev, root)
    say = log or (lambda _m: None)
    runs: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kbench-baseline-") as d:
        base = extract(sha, Path(d) / "tree", root)
        provide_traces(base)
        trees = {"baseline": base, "this tree": root}
        for tree in trees.values():
            _check_imports(tree)
        for r in range(rounds):
            order = ["baseline", "this tree"] if r % 2 == 0 else ["this tree", "baseline"]
            for side in order:
                say(f"round {r + 1}/{rounds}: {side} ({sha[:12] if side == 'baseline' else root}) ...")
                res = bench_tree(trees[side], scenarios, quick, sets if side == "this tree" else None)
                for name, s in res["scenarios"].items():
                    cell = runs.setdefault(name, {k: [] for k in (
                        "baseline_cpu_s", "cpu_s", "baseline_wall_s", "wall_s", "baseline_pods_scheduled",
                        "pods_scheduled")})
                    prefix = "baseline_" if side == "baseline" else ""
                    cell[prefix + "cpu_s"].append(s["cpu_s"])
                    cell[prefix + "wall_s"].append(s["wall_s"])
                    cell[prefix + "pods_scheduled"].append(s.get("pods_scheduled"))  # None before schema 2
    out: dict[str, Any] = {"baseline": {"rev": rev, "commit": sha}, "rounds": rounds, "quick": quick,
                           "sets": sets or {}, "scenarios": {}}
    for name, cell in runs.items():
        def ratio(a: list[float], b: list[float]) -> float | None:
            return round(statistics.median(a) / statistics.median(b), 3) if a and b and statistics.median(b) > 0 \
                else None
        out["scenarios"][name] = {**cell, "cpu_ratio": ratio(cell["cpu_s"], cell["baseline_cpu_s"]),
                                  "wall_ratio": ratio(cell["wall_s"], cell["baseline_wall_s"]),
                                  "cpu_per_pod_ratio": _per_pod_ratio(cell)}
    return out


def _per_pod_ratio(cell: dict[str, list]) -> float | None:
    """Median CPU seconds per scheduled pod, this tree over the baseline: the per-work figure when the
    two schedule different numbers of pods in the same scenario (a model change can make a
    scheduler fall behind); None when a side does not report the count (before bench schema 2) or
    schedules none."""
    def per_pod(cpu: list[float], pods: list) -> list[float] | None:
        if not pods or any(not p for p in pods):
            return None
        return [c / p for c, p in zip(cpu, pods, strict=True)]

    mine = per_pod(cell["cpu_s"], cell["pods_scheduled"])
    theirs = per_pod(cell["baseline_cpu_s"], cell["baseline_pods_scheduled"])
    if mine is None or theirs is None:
        return None
    return round(statistics.median(mine) / statistics.median(theirs), 3)
