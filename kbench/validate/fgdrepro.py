"""The FGD paper's headline experiment in one command (``make fgd-repro``).

For each openb pod list (FGD.md §1.4: default, cpu050-250, gpushare40-100, gpuspec10-33,
multigpu20-50) it writes a copy of ``workloads/fgd-openb.yaml`` with ``workload.params.pods`` set to
that list (a copy rather than ``--param``, so each list's scenario is kept beside its results), then runs::

    kbench compare <copy> --policy random --policy dot-prod --policy clustering --policy packing \
        --policy best-fit --policy fgd --seeds 10 --metric gpu.unallocated_pct_at_arrived.<x> ... \
        --out <out>/<list> --jobs N -o json --report

(seeds 42-51: the scenario's seed is 42; each run placement-only, as fgd-openb.yaml declares, which
gives the full plane's placements: kbench/experiment/placement.py; ``--jobs N`` runs the cells on N
spawned processes, default the CPU count), and writes ``<out>/fgd-table.md``: unallocated GPU % at
arrived = 100 % (mean ± s.d. over seeds, as the paper's bar charts, FGD.md §1.3) per list and policy,
plus the median curve points, under a line naming the command, the commit and the wall time. Wall
and CPU seconds per list (CPU: the compare process and its workers), the total, the commit and the
1-minute load average before and after are printed and recorded in ``<out>/timing.json``.
Usage: ``python -m kbench.validate.fgdrepro --lists "default gpushare40" --seeds 10 --jobs 2 --out results/fgd-repro``.

**Interrupted, then run again**: each finished list leaves ``<out>/<list>/fgdrepro-list.json`` (its
comparison, wall and CPU seconds, and what it was run with). A later invocation reuses a list whose
record matches it exactly (the same scenario copy, seeds, policies, metrics and report setting, the
same Python, numpy and SimPy, and the same commit with no tracked file changed, in both
invocations), so an interrupted study resumes
at the list it stopped in; ``--fresh`` reruns every list. Outside a git checkout, or with tracked
changes, nothing is reused (the code that made a record could differ). The table's first line and
``timing.json`` say which lists were reused; their wall and CPU seconds are those recorded when they ran.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from kbench.experiment.compare import write_json_atomic

POLICIES = ("random", "dot-prod", "clustering", "packing", "best-fit", "fgd")
ARRIVED = (80, 90, 95, 100, 105, 110, 120, 130)
"""Points of the unallocated-GPU-vs-arrived curve compared (% of cluster GPU capacity)."""
ROOT = Path(__file__).resolve().parents[2]


def scenario_copy(pod_list: str, out: Path, sample_nodes: float | None = None, max_pods: int | None = None) -> Path:
    """A copy of fgd-openb.yaml for ``openb_pod_list_<pod_list>.csv.gz`` (traces folder made absolute)."""
    data = yaml.safe_load((ROOT / "workloads" / "fgd-openb.yaml").read_text())
    params = data["workload"]["params"]
    params["pods"] = f"openb_pod_list_{pod_list}.csv.gz"
    params["traces"] = str((ROOT / "workloads" / params["traces"]).resolve())
    data["name"] = f"fgd-openb-{pod_list}"
    if sample_nodes is not None:
        data["workload"]["traces"][0]["sample_nodes"] = sample_nodes
    if max_pods is not None:
        data["workload"]["traces"][0]["max_pods"] = max_pods
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"fgd-openb-{pod_list}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_list(pod_list: str, seeds: int, out: Path, report: bool = True, jobs: int = 1,
             **reduce) -> tuple[dict, float, float]:
    """``kbench compare`` over the six policies for one pod list; returns (comparison dict, wall s,
    CPU s of the compare process and its worker processes)."""
    path = scenario_copy(pod_list, out / "scenarios", **reduce)
    cmd = [sys.executable, "-c", "from kbench.cli import app; app()", "compare", str(path), *[a for p in POLICIES for a in ("--policy", p)],
           "--seeds", str(seeds), "--out", str(out / pod_list), "--jobs", str(jobs), "-o", "json",
           *[a for x in ARRIVED for a in ("--metric", f"gpu.unallocated_pct_at_arrived.{x}:lower")]]
    if report:
        cmd.append("--report")
    t0, cpu0 = time.perf_counter(), _children_cpu_s()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall, cpu = time.perf_counter() - t0, _children_cpu_s() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kbench compare failed for {pod_list}: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout), wall, cpu


LIST_RECORD = "fgdrepro-list.json"
"""A finished list's record, in its compare folder (``<out>/<list>/``)."""


def list_key(path: Path, seeds: int, report: bool, code: str | None) -> dict:
    """What a list's result depends on: the scenario copy's bytes, the seeds, the policies, the
    metrics, the report setting, the code (:func:`_code`) and the interpreter, numpy and SimPy."""
    import platform

    import simpy

    return {"scenario_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "seeds": seeds,
            "policies": list(POLICIES), "arrived": list(ARRIVED), "report": report, "code": code,
            "python": platform.python_version(), "numpy": np.__version__,
            "simpy": getattr(simpy, "__version__", "?")}


def finished(folder: Path, key: dict) -> dict | None:
    """The record of a list already run with ``key`` in ``folder`` (None: run it; never reused
    without a code identity)."""
    if key["code"] is None:
        return None
    try:
        record = json.loads((folder / LIST_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def _code() -> str | None:
    """The commit, when this is a git checkout with no tracked file changed; else None."""
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                            text=True, cwd=ROOT, check=False)
    if status.returncode != 0 or status.stdout.strip():
        return None
    from kbench.results.store import _git_commit

    return _git_commit()


def _children_cpu_s() -> float:
    """User + system CPU seconds of the finished child processes (and theirs, once reaped)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    return proc.stdout.strip() or None


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60} h {m % 60} min {s} s" if m >= 60 else f"{m} min {s} s"


def table(results: dict[str, dict]) -> str:
    """Markdown: unallocated GPU % at arrived 100 % (mean ± s.d.) per pod list and policy."""
    from kbench.report.markdown import md_table

    rows = []
    for pod_list, res in results.items():
        m = res["metrics"].get("gpu.unallocated_pct_at_arrived.100", {})
        cells = []
        for p in POLICIES:
            vals = np.asarray([v for v in m.get(p, {}).get("values", []) if v is not None], dtype=float)
            cells.append(f"{vals.mean():.2f} ± {vals.std(ddof=1) if vals.size > 1 else 0:.2f}" if vals.size else "-")
        rows.append([pod_list, *cells])
    text = "Unallocated GPU % at arrived = 100 % of GPU capacity (mean ± s.d. over seeds):\n\n"
    text += md_table(["pod list", *POLICIES], rows)
    for pod_list, res in results.items():
        text += f"\nMedian unallocated GPU % by arrived % ({pod_list}):\n\n"
        crow = []
        for p in POLICIES:
            crow.append([p] + [f"{res['metrics'].get(f'gpu.unallocated_pct_at_arrived.{x}', {}).get(p, {}).get('median', float('nan')):.2f}"
                               for x in ARRIVED])
        text += md_table(["policy", *[f"{x} %" for x in ARRIVED]], crow)
    return text


def main(argv: list[str] | None = None) -> None:
    """Command-line entry (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lists", default="default", help="space-separated pod-list suffixes")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("results/fgd-repro"))
    ap.add_argument("--sample-nodes", type=float, default=None, help="reduced run: fraction of nodes")
    ap.add_argument("--max-pods", type=int, default=None, help="reduced run: pods before inflation")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes per compare")
    ap.add_argument("--fresh", action="store_true", help="rerun every list (default: reuse the lists an "
                    "earlier, interrupted invocation finished with the same inputs and code)")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        raise SystemExit("--jobs: expected a number of processes >= 1")
    lists = a.lists.split()
    runs = len(POLICIES) * a.seeds
    results, timing = {}, {}
    code = _code()
    info = {"commit": _commit(), "jobs": a.jobs, "seeds": a.seeds, "lists": lists, "loadavg_1m_before": _loadavg()}
    reduce = {"sample_nodes": a.sample_nodes, "max_pods": a.max_pods}
    t0 = time.perf_counter()
    for done, pod_list in enumerate(lists):
        key = list_key(scenario_copy(pod_list, a.out / "scenarios", **reduce), a.seeds, not a.no_report, code)
        record = None if a.fresh else finished(a.out / pod_list, key)
        if record is not None:
            res, wall, cpu = record["result"], record["wall_s"], record["cpu_s"]
            print(f"{pod_list}: reused (finished earlier: {wall:.0f} s wall, {cpu:.0f} CPU s; --fresh reruns it)",
                  flush=True)
        else:
            try:
                res, wall, cpu = run_list(pod_list, a.seeds, a.out, report=not a.no_report, jobs=a.jobs, **reduce)
            except KeyboardInterrupt:
                print(f"interrupted in {pod_list}: {done} of {len(lists)} lists finished and kept; the same "
                      "command resumes from this list", file=sys.stderr, flush=True)
                raise SystemExit(130) from None
            (a.out / pod_list).mkdir(parents=True, exist_ok=True)
            write_json_atomic(a.out / pod_list / LIST_RECORD,
                              {"key": key, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "result": res})
            print(f"{pod_list}: {wall:.0f} s wall, {cpu:.0f} CPU s for {runs} runs ({wall / runs:.2f} s wall per "
                  f"run, load {_loadavg()})", flush=True)
        results[pod_list] = res
        timing[pod_list] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "runs": runs,
                            "wall_s_per_run": round(wall / runs, 2), "cpu_s_per_run": round(cpu / runs, 2),
                            "comparison_dir": res.get("comparison_dir"), "reused": record is not None}
    reused = [name for name, t in timing.items() if t["reused"]]
    total = time.perf_counter() - t0 + sum(timing[name]["wall_s"] for name in reused)
    a.out.mkdir(parents=True, exist_ok=True)
    info.update(wall_s=round(total, 1), cpu_s=round(sum(v["cpu_s"] for v in timing.values()), 1),
                runs=runs * len(lists), loadavg_1m_after=_loadavg(), reused_lists=reused)
    (a.out / "timing.json").write_text(json.dumps({**info, "lists": timing}, indent=2) + "\n")
    reduced = "" if a.sample_nodes is None and a.max_pods is None else \
        f" --sample-nodes {a.sample_nodes} --max-pods {a.max_pods}"
    resumed = "" if not reused else \
        f" ({len(reused)} of the lists reused from an earlier invocation, at the wall time recorded then)"
    head = (f"`python -m kbench.validate.fgdrepro --lists \"{a.lists}\" --seeds {a.seeds} --jobs {a.jobs}{reduced}` "
            f"at commit {info['commit']}: {len(lists)} pod lists × {len(POLICIES)} policies × {a.seeds} seeds = "
            f"{runs * len(lists):,} placement-only runs, {_duration(total)} wall{resumed} ({info['cpu_s']:,.0f} CPU s) "
            f"on {a.jobs} processes, 1-minute load average {info['loadavg_1m_before']} before and "
            f"{info['loadavg_1m_after']} after.\n\n")
    (a.out / "fgd-table.md").write_text(head + table(results))
    print(f"table: {a.out / 'fgd-table.md'} ({_duration(total)} wall)")


if __name__ == "__main__":
    main()
