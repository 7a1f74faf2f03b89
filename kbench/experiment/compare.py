"""Compare scheduling policies over seeds with common random numbers (``kbench compare``).

Every policy runs once per seed, and a given seed is the same workload realisation for every
policy (common random numbers), so differences are analysed in pairs. See
:mod:`kbench.experiment.stats` for the statistics and why 10 Wilcoxon seeds is the default.

The returned dict (and ``comparison.json``) carries the keys scripts rely on::

    metrics.<metric>.<policy>.{median, ci_low, ci_high, values[]}
    paired.<metric>.<policy>.{diff_median, ci_low, ci_high, p_value, p_raw, significant}   # policy != baseline
    ranking.<metric>            # policies, best first
    seeds, baseline, test, warning, policies, directions, scenario, alpha

The comparison folder holds ``comparison.json``, the run folders and a ``manifest.json`` (kind
``comparison``: scenario, policies, seeds, metrics, test, created, versions; see
:func:`experiment_manifest`), so ``kbench results ls`` lists it and ``kbench.results.load`` reads it.

``p_value`` is Holm-adjusted across the compared metrics (per policy); ``p_raw`` is the test's own
p-value. ``significant`` is ``p_value <= alpha``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kbench.config import Scenario, load_scenario
from kbench.errors import KbenchError, RunFailed, did_you_mean
from kbench.experiment import stats

DEFAULT_METRICS = (
    "pod_startup_s.p50",
    "pod_startup_s.p99",
    "scheduling.throughput_pods_per_s",
    "gpu.unallocated_pct_at_arrived.100",
)
"""Metrics compared when none are named (those missing from a scenario's summary are skipped)."""

HIGHER_IS_BETTER = ("throughput", "scheduled", "running", "succeeded", "created", "utilization", "allocated_pct")
"""Substrings of metric paths where a higher value is better; every other metric is lower-is-better
(latencies, unallocated %, rejections). Override per metric with ``directions={metric: "higher"}``
or ``--metric NAME:higher`` on the command line."""

DIRECTIONS = ("lower", "higher")


def direction_of(metric: str, overrides: dict[str, str] | None = None) -> str:
    """Whether ``lower`` or ``higher`` is better for ``metric`` (overrides win, then the table)."""
    if overrides and metric in overrides:
        return overrides[metric]
    if "unallocated" in metric:
        return "lower"
    return "higher" if any(s in metric for s in HIGHER_IS_BETTER) else "lower"


def normalize_metric(metric: str) -> str:
    """``gpu.unallocated_pct_at_arrived["100"]`` → ``gpu.unallocated_pct_at_arrived.100``."""
    return re.sub(r"\[\s*['\"]?([^'\"\]]+)['\"]?\s*\]", r".\1", metric.strip())


def metric_paths(summary: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted path to a number in a run summary (lists are skipped), sorted."""
    out = []
    for key, val in summary.items():
        path = f"{prefix}{key}"
        if isinstance(val, dict):
            out.extend(metric_paths(val, path + "."))
        elif isinstance(val, int | float) and not isinstance(val, bool):
            out.append(path)
    return sorted(out)


def extract(summary: dict[str, Any], metric: str) -> float:
    """The value at a dotted path of a summary, as a float (None → NaN).

    Raises:
        KbenchError: The path does not exist (with a "did you mean" over the available paths).
    """
    obj: Any = summary
    for part in normalize_metric(metric).split("."):
        keys = {str(k): k for k in obj} if isinstance(obj, dict) else {}
        if part in keys:  # summary keys may be numbers (e.g. the arrival percentage 100)
            obj = obj[keys[part]]
        else:
            raise KbenchError(f"unknown metric {metric!r}{did_you_mean(metric, metric_paths(summary))}",
                              where="--metric")
    if obj is None:
        return float("nan")
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        raise KbenchError(f"metric {metric!r} is not a number{did_you_mean(metric, metric_paths(summary))}",
                          where="--metric")
    return float(obj)


def value_of(summary: dict[str, Any], metric: str) -> float:
    """``metric`` of a summary, NaN when the summary lacks it (a failed cell)."""
    try:
        return extract(summary, metric)
    except KbenchError:
        return float("nan")


def _validate(policies: Sequence[str], seeds: Sequence[int], baseline: str | None, test: str) -> str:
    if len(policies) < 2:
        raise KbenchError("compare needs at least 2 policies", where="--policy")
    if len(set(policies)) != len(policies):
        raise KbenchError("a policy is named twice; give a second name to compare a policy with itself",
                          where="--policy")
    if len(seeds) < 2:
        raise KbenchError(f"compare needs at least 2 seeds (got {len(seeds)}); the default is "
                          f"{stats.DEFAULT_SEEDS}", where="--seeds")
    if test not in stats.TESTS:
        raise KbenchError(f"unknown test {test!r}; expected one of {', '.join(stats.TESTS)}", where="--test")
    baseline = policies[0] if baseline is None else baseline
    if baseline not in policies:
        raise KbenchError(f"baseline {baseline!r} is not a compared policy{did_you_mean(baseline, policies)}",
                          where="--baseline")
    return baseline


def compare(scenario: Scenario | str | Path, policies: Sequence[str], seeds: int | Sequence[int] = stats.DEFAULT_SEEDS,
            metrics: Sequence[str] | None = None, baseline: str | None = None, out_dir: str | Path | None = None, *,
            test: str = "wilcoxon", alpha: float = stats.ALPHA, directions: dict[str, str] | None = None,
            progress: Callable[[str, int], None] | None = None, jobs: int = 1) -> dict[str, Any]:
    """Run ``policies`` × ``seeds`` and compare them per metric.

    Args:
        scenario: A :class:`Scenario` or a path to a scenario YAML.
        policies: Policy names (or files), at least two, all different.
        seeds: A number of seeds (``scenario.seed``, ``scenario.seed + 1``, ...) or explicit seeds.
        metrics: Dotted summary paths; None for :data:`DEFAULT_METRICS` present in the summary.
        baseline: The policy the others are paired against (default: the first).
        out_dir: Parent folder of the comparison folder ``<compare-id>/`` holding ``comparison.json``
            and the run folders; nothing is written when None.
        test: ``wilcoxon`` (default) or ``t`` (paired t-test).
        alpha: Significance level after Holm correction.
        directions: ``{metric: "lower"|"higher"}`` overrides of :func:`direction_of`.
        progress: ``f(policy, seed)`` called before each run (``jobs`` > 1: as each run ends).
        jobs: Processes running the cells: 1 runs them one after the other in this process; more
            spawns that many worker processes (:class:`~kbench.experiment.executors.ProcessExecutor`,
            one run per cell). The results are joined in seed × policy order, so the comparison is
            the same for any ``jobs``.

    Returns:
        The comparison dict described in the module docstring.

    Raises:
        KbenchError: Bad input (fewer than 2 policies or seeds, unknown metric, policy or baseline).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seed_list = list(range(scenario.seed, scenario.seed + seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    policies = list(policies)
    baseline = _validate(policies, seed_list, baseline, test)
    from kbench.policy.resolve import resolve_policy
    for policy in policies:  # an unknown name fails now, with "did you mean", before any run
        resolve_policy(policy)
    directions = {normalize_metric(k): v for k, v in (directions or {}).items()}
    for m, d in directions.items():
        if d not in DIRECTIONS:
            raise KbenchError(f"direction {d!r} for {m!r}: expected lower or higher", where="--metric")

    folder = None
    chosen: list[str] | None = [normalize_metric(m) for m in metrics] if metrics else None
    from kbench.metrics.names import check_metric
    for m in chosen or []:  # a misspelt name fails now, before any run
        check_metric(m)
    for m in directions:
        check_metric(m)
    created = _now()
    info = {"scenario": scenario.name, "policies": policies, "seeds": seed_list, "baseline": baseline,
            "test": test, "alpha": alpha, "created": created}
    if out_dir is not None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in scenario.name)[:40]
        folder = Path(out_dir) / f"{stamp}-compare-{safe}"
        folder.mkdir(parents=True, exist_ok=False)
        write_json_atomic(folder / "manifest.json",
                          experiment_manifest(folder, "comparison", "running", metrics=chosen, **info))

    summaries: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    cells = _inline(scenario, policies, seed_list, folder, progress) if jobs <= 1 else \
        _parallel(scenario, policies, seed_list, folder, progress, jobs)
    try:
        for policy, _seed, summary in cells:
            summaries[policy].append(summary)
            if chosen is None:
                paths = set(metric_paths(summary))
                chosen = [m for m in DEFAULT_METRICS if m in paths]
            else:
                for m in chosen:  # fail on an unknown metric after the first run, not after all of them
                    extract(summary, m)
    except BaseException as err:
        if folder is not None:
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            write_json_atomic(folder / "manifest.json", experiment_manifest(
                folder, "comparison", status, metrics=chosen, error=str(err).split("\n")[0], **info))
        raise
    assert chosen is not None
    result = analyse({p: [[extract(s, m) for s in summaries[p]] for m in chosen] for p in policies}, chosen,
                     seed_list, baseline, test=test, alpha=alpha, directions=directions)
    result["scenario"] = scenario.name
    if folder is not None:
        result["comparison_dir"] = str(folder)
        write_json_atomic(folder / "comparison.json", result)
        write_json_atomic(folder / "manifest.json",
                          experiment_manifest(folder, "comparison", "complete", metrics=chosen, **info))
    return result


def _inline(scenario: Scenario, policies: list[str], seeds: list[int], folder: Path | None,
            progress: Callable[[str, int], None] | None) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Run the cells one after the other in this process; yield ``(policy, seed, summary)``."""
    from kbench.experiment.runner import run

    for seed in seeds:
        for policy in policies:
            if progress is not None:
                progress(policy, seed)
            try:
                res = run(scenario, policy=policy, seed=seed, out_dir=folder)
            except (KbenchError, KeyboardInterrupt):
                raise
            except Exception as err:  # a run that crashed: name it (the CLI exits 1)
                raise RunFailed(f"run of policy {policy} seed {seed} failed: {str(err).splitlines()[0]}") from err
            yield policy, seed, res.summary


def _parallel(scenario: Scenario, policies: list[str], seeds: list[int], folder: Path | None,
              progress: Callable[[str, int], None] | None, jobs: int) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Run the cells on ``jobs`` spawned processes; yield ``(policy, seed, summary)`` in seed × policy order
    once all have finished (the first failed cell stops the others)."""
    from kbench.config.loader import to_dict
    from kbench.experiment.executors import CellTask, ProcessExecutor

    data = to_dict(scenario)
    order = [(seed, policy) for seed in seeds for policy in policies]
    tasks = [CellTask(f"{seed}/{policy}", data, policy, seed, str(folder) if folder is not None else None)
             for seed, policy in order]
    by_cell: dict[str, dict[str, Any]] = {}
    with ProcessExecutor(jobs) as ex:
        for rec in ex.run(tasks):
            seed_s, _, policy = rec["cell_id"].partition("/")
            if rec["status"] == "error":
                raise KbenchError(rec["error"])
            if rec["status"] != "complete":
                raise RunFailed(f"run of policy {policy} seed {seed_s} failed: {rec.get('error', rec['status'])}")
            by_cell[rec["cell_id"]] = rec["summary"]
            if progress is not None:
                progress(policy, int(seed_s))
    for seed, policy in order:
        yield policy, seed, by_cell[f"{seed}/{policy}"]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def experiment_manifest(folder: Path, kind: str, status: str, **fields: Any) -> dict[str, Any]:
    """The ``manifest.json`` of an experiment folder (a comparison, an envelope) holding run folders.

    It carries what a run folder's manifest records (:class:`kbench.results.store.RunWriter`:
    ``schema_version``, kbench, Python and SimPy versions, git commit) so that ``kbench results
    ls`` lists the folder and :func:`kbench.results.load` reads it.

    Args:
        folder: The experiment folder (its name is the ``run_id``).
        kind: ``comparison`` or ``envelope``.
        status: ``running``, ``complete``, ``failed`` or ``interrupted``.
        **fields: Kind-specific fields (scenario, policies, seeds, metrics, test, created...).
    """
    from kbench.results.store import SCHEMA_VERSION, _git_commit, _versions

    out = {"schema_version": SCHEMA_VERSION, "run_id": folder.name, "kind": kind, **_versions(),
           "git_commit": _git_commit(), "status": status, **fields}
    out.setdefault("created", _now())
    if status != "running":
        out["finished"] = _now()
    return out


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _num(x: float) -> float | None:
    return None if x != x else round(float(x), 6)  # NaN → None (valid JSON)


def analyse(values: dict[str, list[list[float]]], metrics: Sequence[str], seeds: Sequence[int], baseline: str, *,
            test: str = "wilcoxon", alpha: float = stats.ALPHA,
            directions: dict[str, str] | None = None) -> dict[str, Any]:
    """The statistics of a comparison, from values already collected.

    Args:
        values: ``values[policy][i_metric]`` = one value per seed, seeds in the same order for all policies.
        metrics: Metric names, in the order of ``values[policy]``.
        seeds: The seeds (for the output).
        baseline: The baseline policy.
        test: ``wilcoxon`` or ``t``.
        alpha: Significance level after Holm correction.
        directions: Overrides of :func:`direction_of`.

    Returns:
        The comparison dict (module docstring), without ``scenario``.
    """
    policies = list(values)
    out: dict[str, Any] = {"seeds": list(seeds), "baseline": baseline, "test": test, "alpha": alpha,
                           "policies": policies, "metrics": {}, "paired": {}, "ranking": {}, "directions": {},
                           "interval": stats.spread_label(len(seeds))}
    for i, m in enumerate(metrics):
        out["metrics"][m] = {}
        for p in policies:
            ci = stats.spread(values[p][i])
            out["metrics"][m][p] = {"median": _num(ci.estimate), "ci_low": _num(ci.low), "ci_high": _num(ci.high),
                                    "values": [_num(v) for v in values[p][i]]}
        d = direction_of(m, directions)
        out["directions"][m] = d
        sign = 1.0 if d == "lower" else -1.0
        key = [(sign * x if x is not None else float("inf"), p)
               for p, x in ((p, out["metrics"][m][p]["median"]) for p in policies)]
        out["ranking"][m] = [p for _, p in sorted(key)]
        out["paired"][m] = {}
    for p in policies:
        if p == baseline:
            continue
        raw = [stats.paired_test(values[p][i], values[baseline][i], test) for i in range(len(metrics))]
        adj = stats.holm(raw)
        for i, m in enumerate(metrics):
            diff = stats.paired_diff(values[p][i], values[baseline][i])
            out["paired"][m][p] = {"diff_median": _num(diff.estimate), "ci_low": _num(diff.low),
                                   "ci_high": _num(diff.high), "p_value": _num(adj[i]), "p_raw": _num(raw[i]),
                                   "significant": bool(adj[i] <= alpha)}
    out["warning"] = stats.too_few_seeds_warning(len(seeds), comparisons=len(metrics), alpha=alpha, test=test)
    return out
