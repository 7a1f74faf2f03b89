"""``kbench run PERF-CONFIG --case C --workload W`` / ``--list``: scheduler_perf files from the
command line (parse, call :mod:`kbench.workload.schedperf.runner`, print through
:mod:`kbench.console`)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from kbench.console import console, err_console, fail, fmt, print_data


def is_perf_config(path: Path) -> bool:
    """Whether ``path`` holds a scheduler_perf config (a list of test cases with workloadTemplate)."""
    import yaml

    from kbench.workload.schedperf.config import looks_like_perf_config

    try:
        with open(path) as fh:
            head = fh.read(4096)
        if not head.lstrip().startswith("-") and "workloadTemplate" not in head:
            return False
        return looks_like_perf_config(yaml.safe_load(Path(path).read_text()))
    except (OSError, UnicodeDecodeError, Exception):  # noqa: BLE001 - not ours: the scenario loader reports it
        return False


def perf_cmd(path: Path, case: str | None, workload: str | None, list_only: bool, params: list[str] | None,
             seed: int | None, out: Path, output: str) -> None:
    """Run (or list) a scheduler_perf config; see CLI.md."""
    from kbench.workload.schedperf.config import load_perf_config
    from kbench.workload.schedperf.runner import list_cases, run_workload, write_run

    overrides = {}
    for item in params or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            fail(f"--param {item}: expected KEY=VALUE")
        overrides[key] = int(value) if value.lstrip("-").isdigit() else value
    cfg = load_perf_config(path, overrides)
    if list_only:
        rows = list_cases(cfg)
        if output in ("json", "yaml"):
            print_data(rows, output)
            return
        t = Table(title=f"scheduler_perf: {path}")
        for col in ("case", "workload", "labels", "threshold", "status"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["case"], r["workload"], ",".join(r["labels"]), fmt(r["threshold"]), r["status"])
        console.print(t)
        return
    if not case or not workload:
        fail("a scheduler_perf config needs --case and --workload (or --list)")
    result = run_workload(cfg, case, workload, 1 if seed is None else seed)
    if out is not None:
        result["run_dir"] = str(write_run(result, cfg, out))
    for line in result["ignored"]:
        err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    if output in ("json", "yaml"):
        print_data(result, output)
        return
    tp = result["scheduling"]["throughput_pods_per_s"]
    t = Table(title=f"scheduler_perf {result['case']}/{result['workload']} · seed {result['seed']}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("SchedulingThroughput average / p50 / p90 / p99 pods/s",
              f"{fmt(tp['average'])} / {fmt(tp['p50'])} / {fmt(tp['p90'])} / {fmt(tp['p99'])}")
    t.add_row("samples / measured pods", f"{tp['samples']} / {result['scheduling']['measured_pods']}")
    t.add_row("upstream threshold / ratio", f"{fmt(result['upstream_threshold'])} / {fmt(result['vs_threshold'])}")
    t.add_row("attempts per pod", fmt(result["scheduling"]["attempts_per_pod"]))
    t.add_row("virtual s / wall s", f"{fmt(result['sim']['virtual_s'])} / {fmt(result['sim']['wall_s'])}")
    console.print(t)
    if result.get("run_dir"):
        console.print(f"results in {result['run_dir']}", markup=False, highlight=False)
