"""The scale envelope (``kbench envelope``): the smallest value of one dimension at which an SLO fails.

Like the Kubernetes thresholds document (CALIBRATION.md G1), but for one scenario on a laptop: grow
one dimension until an SLO breaks, then narrow the breach point down.

**Search.** Bracketing: evaluate ``min``, then multiply by ``growth`` (2) until the SLO fails or
``max`` is reached (``max`` itself is always tried). Bisection: between the last passing value and
the first failing one, evaluate the midpoint until ``first_fail - last_pass <= tolerance x
first_fail`` (integers for ``nodes`` and ``clients``: also stop when they are adjacent). The search
assumes that failing is monotone in the dimension; where it is not, it finds *a* transition.

**Replications and the rule.** Each step runs ``replications`` seeds, ``seed, seed + 1, ...``,
the same seeds at every step (common random numbers). A step *fails* when the SLO fails in at least
half of its replications (``2 x fails >= replications``; with an even count a tie counts as a
failure, so the reported breach is conservative).

**Dimensions** (the *value* is always the dimension's total, not a factor):

- ``nodes``: the total node count of ``cluster.nodes`` (after ``createNodes`` ops are compiled),
  split over the node groups in proportion to their counts (largest remainder). Nodes from trace
  files are not scaled.
- ``pod-rate``: the total mean creation rate, pods/s, of the bare pod groups (``workload.pods``
  and ``createPods`` ops) that have one: ``rate_per_s``, or an ``arrival`` of kind constant,
  poisson or diurnal (its ``rate_per_s``) or bursts (``burst_size / burst_every_s``; scaling
  shortens ``burst_every_s``). Every such group is scaled by ``value / base`` and its ``count``
  too, so the arrival window keeps its length. Deployments and Jobs have no arrival rate (their
  pods come as fast as the controllers create them) and groups with empirical arrivals or rate 0
  are left as they are.
- ``clients``: ``sync.clients`` of the List vs List-Watch experiment (:mod:`kbench.experiment.sync`),
  run with one strategy (``strategy``, default the scenario's first).

**SLOs.** ``nodes`` and ``pod-rate`` do pod-lifecycle runs (:func:`kbench.experiment.runner.run`)
and use the run summary's ``slo`` list (:data:`RUN_SLOS`). ``clients`` uses :data:`SYNC_SLOS`: the
API latency SLOs (G2, G3) computed the same way from the sync run's request histograms,
``staleness_p99_s`` and ``api_rejected_429`` (see :func:`sync_slos`). ``threshold`` overrides an
SLO's threshold; an SLO passes when its value is ``<= threshold`` (or when it has no value).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbench.config import Scenario
from kbench.errors import KbenchError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

DIMENSIONS = ("nodes", "pod-rate", "clients")
RUN_SLOS = ("api_mutating_latency_p99_s", "api_read_single_latency_p99_s", "api_list_latency_p99_s",
            "pod_startup_p99_s")
"""SLO names of a pod-lifecycle run (``summary["slo"]``, :mod:`kbench.metrics.summary`)."""
SYNC_SLOS = ("api_mutating_latency_p99_s", "api_read_single_latency_p99_s", "api_list_latency_p99_s",
             "staleness_p99_s", "api_rejected_429")
"""SLO names of the sync experiment (:func:`sync_slos`)."""
STALENESS_ALLOWANCE_S = 5.0
"""kbench default: staleness allowed beyond what polling alone gives (G6: watch latency has no SLO)."""
GROWTH = 2.0
RULE = "a step fails when the SLO fails in at least half of its replications (2 x fails >= replications)"
INTEGER = ("nodes", "clients")


def slo_names(dimension: str) -> tuple[str, ...]:
    """The SLOs ``--slo`` accepts for ``dimension``."""
    return SYNC_SLOS if dimension == "clients" else RUN_SLOS


# ----------------------------------------------------------------------------- SLOs of a sync run


def _p99(requests: pd.DataFrame, verbs: Sequence[str]) -> float | None:
    """p99 SLI latency (upper bucket bound, seconds) of ``verbs``, as ``RequestStats.quantile``."""
    from kbench.metrics.buckets import le_columns, quantile_upper_bound

    cols, bounds = le_columns(requests.columns, "sli")
    if requests.empty or not cols:
        return None
    cum = requests.loc[requests["verb"].isin(list(verbs)), cols].to_numpy().sum(axis=0)
    v = quantile_upper_bound(cum, bounds, 0.99)
    return None if v != v else v


def sync_slos(summary: dict[str, Any], requests: pd.DataFrame, scenario: Scenario) -> list[dict[str, Any]]:
    """SLO rows (``name, threshold, value, pass, source``) of one sync run.

    ``staleness_p99_s``: its threshold is :data:`STALENESS_ALLOWANCE_S` for list-watch and
    ``poll_period_s x (1 + poll_jitter)`` plus the same allowance for poll (the staleness the period
    gives by itself), seconds. ``api_rejected_429``: the apiserver's 429 count, threshold 0.

    Args:
        summary: The sync summary (:func:`kbench.experiment.sync.run_sync`).
        requests: Its ``requests`` table.
        scenario: The scenario it ran.
    """
    from kbench.metrics import summary as s

    cfg = scenario.sync
    stale_limit = STALENESS_ALLOWANCE_S
    if summary.get("strategy") == "poll":
        stale_limit += cfg.poll_period_s * (1.0 + cfg.poll_jitter)
    rows = [("api_mutating_latency_p99_s", s.SLO_API_MUTATING_S, _p99(requests, s.MUTATING), "G2"),
            ("api_read_single_latency_p99_s", s.SLO_API_READ_SINGLE_S, _p99(requests, ("get",)), "G3"),
            ("api_list_latency_p99_s", s.SLO_API_LIST_S, _p99(requests, ("list",)), "G3"),
            ("staleness_p99_s", round(stale_limit, 6), summary["staleness_s"]["p99"], "kbench (G6 has none)"),
            ("api_rejected_429", 0, summary["apiserver"]["rejected_429"], "kbench")]
    return [{"name": n, "threshold": t, "value": v, "pass": v is None or v <= t, "source": src}
            for n, t, v, src in rows]


# ---------------------------------------------------------------------------------- dimensions


def _largest_remainder(weights: Sequence[int], total: int) -> list[int]:
    base = sum(weights)
    exact = [w * total / base for w in weights]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _group_rate(g) -> float:
    """Mean creation rate of a pod group, pods/s (0: not scalable)."""
    a = g.arrival
    if a is None:
        return g.rate_per_s if g.rate_per_s > 0 else 0.0
    if a.kind in ("constant", "poisson", "diurnal"):
        return a.rate_per_s
    if a.kind == "bursts":
        return a.burst_size / a.burst_every_s
    return 0.0  # empirical: gaps from data, no rate to scale


def _scale_group(g, f: float):
    a = g.arrival
    count = max(1, round(g.count * f))
    if a is None:
        return replace(g, rate_per_s=g.rate_per_s * f, count=count)
    if a.kind == "bursts":
        a = replace(a, burst_every_s=a.burst_every_s / f, rate_per_s=a.rate_per_s * f)
    else:
        a = replace(a, rate_per_s=a.rate_per_s * f)
    return replace(g, arrival=a, count=count)


def base_value(scenario: Scenario, dimension: str) -> float:
    """The scenario's own value of ``dimension`` (nodes, pods/s or clients).

    Raises:
        KbenchError: The scenario has nothing to scale in that dimension.
    """
    if dimension == "clients":
        return float(scenario.sync.clients)
    from kbench.workload.compile import compile_workload

    sc = compile_workload(scenario)
    if dimension == "nodes":
        total = sum(g.count for g in sc.cluster.nodes)
        if total <= 0:
            raise KbenchError("--vary nodes needs node groups (cluster.nodes or createNodes ops)", where="--vary")
        return float(total)
    total = sum(_group_rate(g) for g in sc.workload.pods)
    if total <= 0:
        raise KbenchError("--vary pod-rate needs bare pod groups with a rate (workload.pods or createPods ops); "
                          "Deployments and Jobs have no arrival rate to scale", where="--vary")
    return total


def apply(scenario: Scenario, dimension: str, value: float, seed: int) -> Scenario:
    """The scenario with ``dimension`` set to ``value`` (see the module docstring) and ``seed``.

    Workload ops are compiled with ``seed`` first, so per-object draws match a plain run's.
    """
    scenario = replace(scenario, seed=seed)
    if dimension == "clients":
        return replace(scenario, sync=replace(scenario.sync, clients=int(value)))
    from kbench.workload.compile import compile_workload

    sc = compile_workload(scenario)
    if dimension == "nodes":
        groups = list(sc.cluster.nodes)
        counts = _largest_remainder([g.count for g in groups], int(value))
        nodes = [replace(g, count=c) for g, c in zip(groups, counts, strict=True) if c > 0]
        return replace(sc, cluster=replace(sc.cluster, nodes=nodes))
    f = value / base_value(sc, dimension)
    pods = [_scale_group(g, f) if _group_rate(g) > 0 else g for g in sc.workload.pods]
    return replace(sc, workload=replace(sc.workload, pods=pods))


# ------------------------------------------------------------------------------------- a step


def measure(scenario: Scenario, dimension: str, value: float, slo: str, seed: int, *,
            out_dir: Path | None = None, policy: str | None = None, strategy: str | None = None
            ) -> tuple[dict[str, Any], str | None]:
    """One replication: run ``scenario`` at ``value`` and return (its SLO row, its run folder)."""
    sc = apply(scenario, dimension, value, seed)
    if dimension == "clients":
        from kbench.experiment.sync import run_sync

        res = run_sync(sc, strategy or sc.sync.strategies[0], seed=seed, out_dir=out_dir)
        rows = sync_slos(res.summary, res.frames["requests"], sc)
    else:
        from kbench.experiment.runner import run

        res = run(sc, policy=policy, seed=seed, out_dir=out_dir)
        rows = res.summary["slo"]
    row = next((r for r in rows if r["name"] == slo), None)
    if row is None:  # validated before; a summary without the SLO is a bug, not bad input
        raise RuntimeError(f"SLO {slo!r} missing from the run summary")
    return row, None if res.run_dir is None else str(res.run_dir)


# -------------------------------------------------------------------------------- the search


def _validate_names(dimension: str, slo: str, strategy: str | None) -> None:
    if dimension not in DIMENSIONS:
        raise KbenchError(f"unknown dimension {dimension!r}{did_you_mean(dimension, DIMENSIONS)}; expected one of "
                          f"{', '.join(DIMENSIONS)}", where="--vary")
    names = slo_names(dimension)
    if slo not in names:
        raise KbenchError(f"unknown SLO {slo!r} for --vary {dimension}; valid: {', '.join(names)}", where="--slo")
    if strategy is not None and strategy not in ("poll", "list-watch"):
        raise KbenchError(f"unknown strategy {strategy!r}: expected poll or list-watch", where="--strategy")


def _validate(lo: float, hi: float, replications: int, tolerance: float) -> None:
    if not lo > 0:
        raise KbenchError(f"must be > 0, got {lo:g}", where="--min")
    if lo >= hi:
        raise KbenchError(f"must be below --max ({lo:g} >= {hi:g})", where="--min")
    if replications < 1:
        raise KbenchError(f"must be >= 1, got {replications}", where="--replications")
    if not 0 < tolerance < 1:
        raise KbenchError(f"must be in (0, 1) (a fraction of the breach value), got {tolerance:g}",
                          where="--tolerance")


def _num(dimension: str, v: float) -> float | int:
    return int(v) if dimension in INTEGER else round(float(v), 6)


def envelope(scenario: Scenario, dimension: str, slo: str, *, min_value: float | None = None,
             max_value: float | None = None, replications: int = 1, tolerance: float = 0.1,
             seed: int | None = None, threshold: float | None = None, out_dir: str | Path | None = None,
             policy: str | None = None, strategy: str | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Find the smallest value of ``dimension`` at which ``slo`` fails (module docstring).

    Args:
        scenario: The scenario.
        dimension: ``nodes``, ``pod-rate`` or ``clients``.
        slo: An SLO name of :func:`slo_names`.
        min_value: First value tried (default: the scenario's own value).
        max_value: Largest value tried (default: 64 x ``min_value``).
        replications: Seeds per step.
        tolerance: Stop when ``first_fail - last_pass <= tolerance x first_fail`` (a fraction).
        seed: First seed (default: the scenario's).
        threshold: Overrides the SLO's threshold (its unit: seconds, or a count).
        out_dir: Parent of the envelope folder (``envelope.json``, ``manifest.json``, run folders).
        policy: Scheduling policy of lifecycle runs.
        strategy: ``poll`` or ``list-watch`` for ``clients`` (default: the scenario's first).
        progress: Called with each finished step.

    Returns:
        ``dimension, slo, threshold, breach_value, last_pass, first_fail, replications, rule,
        steps[{value, pass, values, passes, run_dirs}], envelope_dir, status`` and the inputs;
        ``status`` is ``breach``, ``breach_at_min`` or ``no_breach``.

    Raises:
        KbenchError: Bad input (unknown dimension or SLO, min >= max, nothing to scale).
    """
    _validate_names(dimension, slo, strategy)
    base = base_value(scenario, dimension)  # nothing to scale fails now, before any run
    lo = float(base if min_value is None else min_value)
    hi = float(max_value) if max_value is not None else 64.0 * lo
    _validate(lo, hi, replications, tolerance)
    if dimension in INTEGER:
        lo, hi = float(math.ceil(lo)), float(math.floor(hi))
        if lo >= hi:
            raise KbenchError(f"--min and --max leave no integer range ({lo:g} .. {hi:g})", where="--min")
    if policy is not None:
        from kbench.policy.resolve import resolve_policy
        resolve_policy(policy)
    from kbench.rng import check_seed

    seed0 = scenario.seed if seed is None else check_seed(seed)
    seeds = [seed0 + i for i in range(replications)]
    strat = (strategy or scenario.sync.strategies[0]) if dimension == "clients" else None
    folder = _make_folder(out_dir, scenario, dimension)
    result: dict[str, Any] = {
        "dimension": dimension, "slo": slo, "threshold": threshold, "breach_value": None, "last_pass": None,
        "first_fail": None, "replications": replications, "rule": RULE, "steps": [],
        "envelope_dir": None if folder is None else str(folder), "status": "running",
        "scenario": scenario.name, "seeds": seeds, "min": _num(dimension, lo), "max": _num(dimension, hi),
        "tolerance": tolerance, "growth": GROWTH, "strategy": strat, "policy": policy,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    if folder is not None:
        _write_json(folder / "manifest.json", _manifest(result, "running"))

    def step(value: float) -> bool:
        rows, dirs = [], []
        for s in seeds:
            row, d = measure(scenario, dimension, value, slo, s, out_dir=folder, policy=policy, strategy=strat)
            if threshold is not None:
                row = {**row, "threshold": threshold, "pass": row["value"] is None or row["value"] <= threshold}
            rows.append(row)
            dirs.append(d)
        fails = sum(1 for r in rows if not r["pass"])
        ok = not 2 * fails >= len(rows)
        entry = {"value": _num(dimension, value), "pass": ok, "values": [r["value"] for r in rows],
                 "passes": [bool(r["pass"]) for r in rows], "threshold": rows[0]["threshold"], "run_dirs": dirs}
        result["steps"].append(entry)
        if result["threshold"] is None:
            result["threshold"] = rows[0]["threshold"]
        if progress is not None:
            progress(entry)
        return ok

    try:
        _search(step, lo, hi, tolerance, dimension in INTEGER, result)
    except BaseException as err:
        if folder is not None:
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            _write_json(folder / "manifest.json", _manifest(result, status))
        raise
    for key in ("last_pass", "first_fail", "breach_value"):
        if result[key] is not None:
            result[key] = _num(dimension, result[key])
    if folder is not None:
        _write_json(folder / "envelope.json", result)
        _write_json(folder / "manifest.json", _manifest(result, "complete"))
    return result


def _search(step: Callable[[float], bool], lo: float, hi: float, tolerance: float, integer: bool,
            result: dict[str, Any]) -> None:
    """Bracketing then bisection; fills ``last_pass``, ``first_fail``, ``breach_value``, ``status``."""
    v = lo
    last_pass = None
    while True:
        if not step(v):
            first_fail = v
            break
        last_pass = v
        if v >= hi:
            result.update(last_pass=v, status="no_breach")
            return
        nxt = min(v * GROWTH, hi)
        v = float(math.ceil(nxt)) if integer else nxt
    if last_pass is None:
        result.update(first_fail=first_fail, breach_value=first_fail, status="breach_at_min")
        return
    while first_fail - last_pass > tolerance * first_fail and not (integer and first_fail - last_pass <= 1):
        mid = (last_pass + first_fail) / 2.0
        if integer:
            mid = float(math.floor(mid))
        if step(mid):
            last_pass = mid
        else:
            first_fail = mid
    result.update(last_pass=last_pass, first_fail=first_fail, breach_value=first_fail, status="breach")


# ------------------------------------------------------------------------------------ the folder


def _make_folder(out_dir: str | Path | None, scenario: Scenario, dimension: str) -> Path | None:
    if out_dir is None:
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in scenario.name)[:40]
    folder = Path(out_dir) / f"{stamp}-envelope-{safe}-{dimension}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder


def _manifest(result: dict[str, Any], status: str) -> dict[str, Any]:
    from kbench.experiment.compare import experiment_manifest

    folder = Path(result["envelope_dir"])
    keys = ("scenario", "dimension", "slo", "threshold", "replications", "seeds", "min", "max", "tolerance",
            "strategy", "policy", "breach_value", "last_pass", "first_fail", "created")
    return experiment_manifest(folder, "envelope", status, steps=len(result["steps"]),
                               envelope_status=result["status"], **{k: result[k] for k in keys})


def _write_json(path: Path, obj: Any) -> None:
    from kbench.experiment.compare import write_json_atomic

    write_json_atomic(path, obj)
