"""What a report shows for each kind of folder, as a list of blocks that :mod:`kbench.report.page` renders.

Blocks: :class:`Table` (escaped when rendered), :class:`Figure` (a plotly figure),
:class:`Missing` (a figure left out because the folder lacks its data, with the reason) and
:class:`Zero` (a figure whose every value is zero, replaced by one line saying what was zero).
Figure functions raise :class:`~kbench.report.figures.MissingData` or
:class:`~kbench.report.base.AllZero`; :func:`_fig` turns them into blocks, so a report never shows
made-up data nor a flat line on a meaningless axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

from kbench.report import curvefigures as C
from kbench.report import figures as F
from kbench.report import mixfigures as W
from kbench.report.base import AllZero
from kbench.report.loaders import Loaded, comparison_pods
from kbench.report.markdown import headline_rows, interval_name, slo_rows

MAX_SWEEP_FIGURES = 24


@dataclass
class Table:
    """A table of plain values (rendered escaped). ``status`` marks a column of pass/FAIL cells."""

    title: str
    headers: list[str]
    rows: list[list[Any]]
    status: int | None = None


@dataclass
class Figure:
    """A plotly figure (title and caption inside it)."""

    fig: go.Figure


@dataclass
class Missing:
    """A figure not drawn, and why."""

    title: str
    reason: str


@dataclass
class Zero:
    """A figure not drawn because everything in it was zero; the line says what."""

    title: str
    what: str


@dataclass
class Section:
    """One part of the page: a heading, a one-line subtitle and blocks."""

    title: str
    subtitle: str
    blocks: list[Any] = field(default_factory=list)


def _fig(blocks: list, title: str, fn: Callable[..., go.Figure], *args: Any) -> None:
    try:
        blocks.append(Figure(fn(*args)))
    except AllZero as err:
        blocks.append(Zero(title, str(err)))
    except F.MissingData as err:
        blocks.append(Missing(title, str(err)))


def run_section(item: Loaded) -> Section:
    """Headline and SLO tables, then every run figure the folder has data for."""
    d = item.data
    s = d.get("summary") or {}
    m = d.get("manifest") or {}
    sim = dict(s.get("sim") or {})
    if sim.get("wall_s") is None and m.get("wall_s") is not None:  # summary.json leaves it to the manifest
        sim["wall_s"] = m["wall_s"]
        s = {**s, "sim": sim}
    slos = slo_rows(s)
    failed = [r[0] for r in slos if r[3] != "pass" and r[3] != "-"]
    verdict = "every SLO passes" if not failed else f"SLO FAIL: {', '.join(map(str, failed))}"
    sub = (f"run · policy {s.get('policy', m.get('policy'))} · seed {s.get('seed', m.get('seed'))} · "
           f"status {m.get('status', s.get('status'))} · {verdict}")
    sec = Section(f"Run: {item.name}", sub)
    sec.blocks.append(Table("Headline", ["metric", "value"], headline_rows(s)))
    if slos:
        sec.blocks.append(Table("SLO verdicts", ["SLO", "threshold", "value", "verdict", "source"], slos, status=3))
    if s.get("faults"):
        sec.blocks.append(Table("Faults", C.FAULT_HEADERS, C.fault_rows(s)))
    pods, series, requests = d.get("pods"), d.get("series"), d.get("requests")
    if s.get("faults"):
        _fig(sec.blocks, "Fault timeline", C.fault_timeline, series, s)
    _fig(sec.blocks, "Pod startup CDF", F.startup_cdf, pods)
    _fig(sec.blocks, "Startup breakdown", F.startup_breakdown, pods)
    _fig(sec.blocks, "Scheduler throughput", F.scheduler_throughput, pods, series)
    _fig(sec.blocks, "API latency", F.api_latency, requests)
    _fig(sec.blocks, "APF seats", F.apf_seats, series)
    _fig(sec.blocks, "APF queues", F.apf_queues, series)
    _fig(sec.blocks, "APF rejections", F.apf_rejections, series, requests)
    _fig(sec.blocks, "etcd", F.etcd, series)
    limit = (((m.get("config") or {}).get("apiserver") or {}).get("memory") or {}).get("limit_bytes") or 0.0
    _api_figures(sec.blocks, series, limit)
    _fig(sec.blocks, "Watch fan-out delay", F.watch_delay, pods)
    _fig(sec.blocks, "Cluster allocation", F.cluster_allocation, series)
    _fig(sec.blocks, "Node allocation", F.node_allocation, pods)
    _fig(sec.blocks, "GPU allocation and fragmentation", F.gpu_fragmentation, d.get("fgd"), s)
    _write_mix(sec.blocks, s, series)
    return sec


def _write_mix(blocks: list, s: dict, series) -> None:
    """The write mix (issue 18): writes per pod, by component, Events, objects, GC, kube-proxy."""
    rows = W.write_rows(s)
    if not rows:
        return
    blocks.append(Table("Write mix: API writes per pod created", ["resource", "verb", "per pod"], rows))
    _fig(blocks, "API writes by component", W.writes_by_component, s)
    _fig(blocks, "Events written per second", W.events_rate, series)
    _fig(blocks, "Objects in etcd by resource", W.etcd_objects, series)
    _fig(blocks, "Garbage collector deletions", W.gc_deletions, series)
    kp = W.kube_proxy_rows(s)
    if kp:
        blocks.append(Table("kube-proxy", ["figure", "value"], kp))
    if s.get("cl2"):
        blocks.append(Table("ClusterLoader2 checks", ["check", "threshold", "value", "verdict", "source"],
                            [[r["name"], r["threshold"], r["value"], r["verdict"], r["source"]]
                             for r in s["cl2"]["slo"]], status=3))


def comparison_section(item: Loaded) -> Section:
    """The significance table, one figure per metric, and startup per policy from the run folders."""
    c = item.data["comparison"]
    base = c.get("baseline")
    sec = Section(f"Comparison: {item.name}",
                  f"comparison · {len(c.get('policies') or [])} policies · {len(c.get('seeds') or [])} seeds · "
                  f"baseline {base} · {c.get('test')} paired test, Holm-corrected, alpha {c.get('alpha')}")
    rows = []
    for metric, per in (c.get("metrics") or {}).items():
        for p in (c.get("ranking") or {}).get(metric) or list(per):
            v = per[p]
            pr = (c.get("paired") or {}).get(metric, {}).get(p)
            ci = f"{_n(v.get('median'))} [{_n(v.get('ci_low'))}, {_n(v.get('ci_high'))}]"
            if pr is None:
                rows.append([metric, p, ci, "(baseline)", "", ""])
            else:
                rows.append([metric, p, ci, f"{_n(pr.get('diff_median'))} [{_n(pr.get('ci_low'))}, "
                                            f"{_n(pr.get('ci_high'))}]", _n(pr.get("p_value")),
                             "significant" if pr.get("significant") else "not significant"])
    sec.blocks.append(Table("Significance (paired against the baseline, per seed)",
                            ["metric", "policy", f"median [{interval_name(c)}]",
                             f"diff vs baseline [{interval_name(c)}]", "p (Holm)",
                             "verdict"], rows))
    if c.get("warning"):
        sec.blocks.append(Table("Warning", ["note"], [[c["warning"]]]))
    for metric in c.get("metrics") or {}:
        _fig(sec.blocks, metric, F.comparison_metric, c, metric)
        _fig(sec.blocks, f"{metric}: paired differences", C.comparison_paired, c, metric)
    runs = item.data.get("runs") or []
    if any((r.get("summary") or {}).get("gpu") for r in runs):
        _fig(sec.blocks, "GPU curves per policy", C.policy_gpu_curves, runs)
    _fig(sec.blocks, "Pod startup per policy", F.policy_startup_cdf, comparison_pods(item))
    return sec


def sweep_section(item: Loaded) -> Section:
    """The grid and cell statuses, then each metric against each grid parameter that varies."""
    sw, cells = item.data["sweep"], item.data["cells"]
    grid = sw.get("grid") or {}
    statuses = cells["status"].astype(str).value_counts().to_dict() if "status" in cells else {}
    sec = Section(f"Sweep: {item.name}",
                  f"sweep · {len(cells)} cells · policies {', '.join(map(str, sw.get('policies') or []))} · "
                  f"seeds {len(sw.get('seeds') or []) if isinstance(sw.get('seeds'), list) else sw.get('seeds')}"
                  f" · {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    sec.blocks.append(Table("Grid", ["parameter", "values"],
                            [[k, ", ".join(map(str, v if isinstance(v, list) else [v]))] for k, v in grid.items()]))
    metrics = list(sw.get("metrics") or [])
    if not metrics:
        known = {"cell_id", "policy", "seed", "status", "wall_s", "run_dir", "error"}
        metrics = [c for c in cells.columns if not c.startswith("param.") and c not in known]
    params = [p for p, v in grid.items() if isinstance(v, list) and len(v) > 1] or list(grid)[:1]
    n = 0
    for metric in metrics:
        for param in params:
            if n >= MAX_SWEEP_FIGURES:
                sec.blocks.append(Missing("more sweep figures", f"only the first {MAX_SWEEP_FIGURES} are drawn"))
                return sec
            _fig(sec.blocks, f"{metric} against {param}", F.sweep_metric, cells, metric, param)
            n += 1
    if not metrics or not params:
        sec.blocks.append(Missing("sweep figures", "sweep.json names no metric or grid parameter"))
    return sec


def envelope_section(item: Loaded) -> Section:
    """The search's verdict, its steps, and the SLO against the varied dimension with the boundary."""
    env = item.data["envelope"]
    dim, slo = env.get("dimension"), env.get("slo")
    sec = Section(f"Envelope: {item.name}",
                  f"envelope · {dim} · {slo} <= {_n(env.get('threshold'))} · {env.get('replications')} "
                  f"replication(s) per step · status {env.get('status')}")
    rows = [["breach value", _n(env.get("breach_value"))], ["last pass", _n(env.get("last_pass"))],
            ["first fail", _n(env.get("first_fail"))], ["searched", f"{_n(env.get('min'))} .. {_n(env.get('max'))}"],
            ["seeds", ", ".join(map(str, env.get("seeds") or []))], ["rule", env.get("rule")]]
    sec.blocks.append(Table("Verdict", ["", "value"], rows))
    steps = [[i + 1, _n(s.get("value")), ", ".join(_n(v) for v in s.get("values") or []),
              "pass" if s.get("pass") else "FAIL"] for i, s in enumerate(env.get("steps") or [])]
    sec.blocks.append(Table("Steps (in the order run)", ["step", str(dim), f"{slo} per replication", "verdict"], steps,
                            status=3))
    _fig(sec.blocks, f"{slo} against {dim}", C.envelope_curve, env)
    return sec


def _api_figures(blocks: list, series: Any, limit_bytes: float = 0.0, suffix: str = "") -> None:
    """The apiserver's egress, memory, APF borrowing and watcher figures of one run (issue 16)."""
    _fig(blocks, "Egress over time" + suffix, F.egress_over_time, series)
    _fig(blocks, "apiserver memory over time" + suffix, F.memory_over_time, series, limit_bytes)
    _fig(blocks, "APF limits over time" + suffix, F.apf_limits_over_time, series)
    _fig(blocks, "Watchers and terminations" + suffix, F.watchers_over_time, series)


SYNC_HEADERS = ["strategy", "swept", "clients", "objects", "LIST req/s", "LISTs/s", "egress MB/s", "watch MB/s",
                "ingress MB/s", "apiserver cores", "etcd cores", "etcd keys/s", "peak MB", "429s", "terminated",
                "staleness p50 s", "staleness p99 s", "LIST p50 s", "LIST p99 s", "relists"]


def _sync_row(s: dict) -> list:
    api = s.get("apiserver") or {}
    st = s.get("staleness_s") or {}
    etcd = s.get("etcd") or {}
    lat = (s.get("latency_s") or {}).get("list") or {}
    kinds = api.get("egress_bytes_by_kind") or {}
    swept = ", ".join(f"{k}={v:g}" for k, v in (s.get("swept") or {}).items())
    mb = 1e-6
    return [s.get("strategy"), swept or "-", s.get("clients"), s.get("objects"),
            _n((api.get("requests_per_s") or {}).get("list")), _n(s.get("lists_logical_per_s")),
            _n((api.get("egress_bytes_per_s") or api.get("bytes_per_s") or 0) * mb), _n((kinds.get("watch") or 0) * mb),
            _n((api.get("ingress_bytes_per_s") or 0) * mb), _n(api.get("cpu_cores")), _n(etcd.get("cpu_cores")),
            _n(etcd.get("range_keys_per_s")), _n((api.get("memory_peak_bytes") or 0) * mb), api.get("rejected_429"),
            api.get("terminated_watchers"), _n(st.get("p50")), _n(st.get("p99")), _n(lat.get("p50")),
            _n(lat.get("p99")), s.get("relists")]


def sync_section(items: list[Loaded], crossover: list | None = None, title: str = "") -> Section:
    """Sync folders together: a table of runs, cost, egress, memory and staleness against the swept
    axis (crossovers marked), the staleness CDF, then each strategy's time series at the largest
    swept value."""
    summaries = [it.data.get("summary") or {} for it in items]
    names = sorted({it.name for it in items})
    sec = Section(title or f"Sync experiment: {', '.join(names)}",
                  f"sync · {len(items)} run(s) · strategies "
                  f"{', '.join(sorted({str(s.get('strategy')) for s in summaries}))}")
    sec.blocks.append(Table("Runs", SYNC_HEADERS, [_sync_row(s) for s in summaries]))
    if crossover:
        rows = [[c.get("strategy"), c.get("cost"), c.get("axis"),
                 ", ".join(f"{k}={v:g}" for k, v in (c.get("fixed") or {}).items()) or "-",
                 _n(c.get("x")) if c.get("x") is not None else "none", c.get("cheaper")] for c in crossover]
        sec.blocks.append(Table("Crossover: where a watching strategy's cost crosses polling's",
                                ["strategy", "cost", "axis", "other axes", "crossing at", "cheaper below"], rows))
    _fig(sec.blocks, "Sync cost", F.sync_cost, summaries, crossover)
    _fig(sec.blocks, "Sync egress", F.sync_egress, summaries, crossover)
    _fig(sec.blocks, "Sync memory", F.sync_memory, summaries)
    _fig(sec.blocks, "Sync staleness", F.sync_staleness, summaries)
    _fig(sec.blocks, "Staleness CDF", F.staleness_cdf, summaries)
    last: dict[str, Loaded] = {}
    for it, s in zip(items, summaries, strict=True):
        last[str(s.get("strategy"))] = it  # runs are in grid order: the last is the largest value
    for strategy, it in sorted(last.items()):
        _api_figures(sec.blocks, it.data.get("series"), 0.0, f" ({strategy})")
    return sec


def _n(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "-" if x != x else f"{x:.4g}"
    return str(x)


def build_sections(items: list[Loaded]) -> list[Section]:
    """One section per run, comparison or sweep, in the order given; all sync folders in one section."""
    out: list[Section] = []
    syncs = [it for it in items if it.kind == "sync"]
    for it in items:
        if it.kind == "run":
            out.append(run_section(it))
        elif it.kind == "comparison":
            out.append(comparison_section(it))
        elif it.kind == "sweep":
            out.append(sweep_section(it))
        elif it.kind == "envelope":
            out.append(envelope_section(it))
        elif it.kind == "sync-experiment":
            exp = it.data["experiment"]
            out.append(sync_section(it.data["runs"], exp.get("crossover"),
                                    f"Sync experiment: {it.name} (axes {', '.join(exp.get('axes') or {}) or '-'})"))
        elif it is syncs[0]:
            out.append(sync_section(syncs))
    return out
