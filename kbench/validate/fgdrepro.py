"""The FGD paper's headline experiment in one command (``make fgd-repro``).

For each openb pod list (FGD.md §1.4: default, cpu050-250, gpushare40-100, gpuspec10-33,
multigpu20-50) it writes a copy of ``workloads/fgd-openb.yaml`` with ``workload.params.pods`` set to
that list (a copy rather than ``--param``, so each list's scenario is kept beside its results), then runs::

    kbench compare <copy> --policy random --policy dot-prod --policy clustering --policy packing \
        --policy best-fit --policy fgd --seeds 10 --metric gpu.unallocated_pct_at_arrived.<x> ... \
        --out <out>/<list> -o json --report

(seeds 42-51: the scenario's seed is 42), and writes ``<out>/fgd-table.md``: unallocated GPU % at
arrived = 100 % (mean ± s.d. over seeds, as the paper's bar charts, FGD.md §1.3) per list and policy,
plus the median curve points. Wall time per list is printed and recorded in ``<out>/timing.json``.
Usage: ``python -m kbench.validate.fgdrepro --lists "default gpushare40" --seeds 10 --out results/fgd-repro``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

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


def run_list(pod_list: str, seeds: int, out: Path, report: bool = True, **reduce) -> tuple[dict, float]:
    """``kbench compare`` over the six policies for one pod list; returns (comparison dict, wall s)."""
    path = scenario_copy(pod_list, out / "scenarios", **reduce)
    cmd = [sys.executable, "-c", "from kbench.cli import app; app()", "compare", str(path), *[a for p in POLICIES for a in ("--policy", p)],
           "--seeds", str(seeds), "--out", str(out / pod_list), "-o", "json",
           *[a for x in ARRIVED for a in ("--metric", f"gpu.unallocated_pct_at_arrived.{x}:lower")]]
    if report:
        cmd.append("--report")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kbench compare failed for {pod_list}: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout), wall


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
    a = ap.parse_args(argv)
    results, timing = {}, {}
    for pod_list in a.lists.split():
        res, wall = run_list(pod_list, a.seeds, a.out, report=not a.no_report, sample_nodes=a.sample_nodes,
                             max_pods=a.max_pods)
        results[pod_list] = res
        timing[pod_list] = {"wall_s": round(wall, 1), "runs": len(POLICIES) * a.seeds,
                            "wall_s_per_run": round(wall / (len(POLICIES) * a.seeds), 1),
                            "comparison_dir": res.get("comparison_dir")}
        print(f"{pod_list}: {wall:.0f} s for {len(POLICIES) * a.seeds} runs "
              f"({wall / (len(POLICIES) * a.seeds):.1f} s per run)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    (a.out / "fgd-table.md").write_text(table(results))
    print(f"table: {a.out / 'fgd-table.md'}")


if __name__ == "__main__":
    main()
