"""Parameter sweeps (``kbench sweep``): a grid of scenario parameters × policies × seeds.

A sweep file (YAML)::

    name: nodes-x-policy             # the folder under --out (default: the file's stem)
    scenario: tiny.yaml              # relative to the sweep file
    grid:                            # parameter: values; the cells are the cartesian product
      nodes: [5, 10]                 # an alias, or a dotted path (see kbench.experiment.sweep_params)
      sync_strategies.kubelet: [list-watch, "poll:10s"]
    policies: [default, most-allocated]   # default: the scenario's policy
    seeds: 3                         # 3 seeds from the scenario's seed on, or a list [1, 2, 5]
    metrics: [pod_startup_s.p99]     # dotted summary paths; default: DEFAULT_METRICS present

Everything is checked before any cell runs: every grid combination must build a valid scenario,
every policy must resolve; metric names are checked against the first finished cell (summaries
differ by scenario). A cell is one run: (grid values, policy, seed). Its id is stable: a hash of
its values, so a rerun finds the cells already done (:mod:`kbench.experiment.sweep_store`). Seed
``s`` is the same workload realisation for every policy and grid value (common random numbers).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbench.config import Scenario, scenario_from_dict
from kbench.config.loader import config_hash, load_yaml, to_dict
from kbench.errors import KbenchError, did_you_mean
from kbench.experiment import sweep_params
from kbench.experiment.compare import DEFAULT_METRICS, extract, normalize_metric

KEYS = ("version", "name", "description", "scenario", "grid", "policies", "seeds", "metrics")


@dataclass(frozen=True)
class Cell:
    """One run of a sweep.

    Attributes:
        cell_id: Stable id (``<policy>-s<seed>-<hash>``), the name of its record file.
        params: Grid parameter → value, as written in the sweep file.
        policy: The policy as written in the sweep file.
        seed: The master seed.
        combo: Index of ``params`` in :attr:`Sweep.combos`.
    """

    cell_id: str
    params: dict[str, Any]
    policy: str
    seed: int
    combo: int


@dataclass
class Sweep:
    """A validated sweep file.

    Attributes:
        name: Folder name of the sweep.
        source: The sweep file.
        scenario_path: The base scenario file.
        base: The base scenario.
        grid: Parameter → values, in file order.
        policies: Policies as written.
        policy_args: Policy as written → the argument given to the runner (files made absolute).
        seeds: Master seeds.
        metrics: Normalised metric paths, or None for the defaults.
        combos: Every combination of grid values, in order.
        scenarios: Plain scenario data (``to_dict`` form) of each combination, for the workers.
    """

    name: str
    source: Path
    scenario_path: Path
    base: Scenario
    grid: dict[str, list[Any]]
    policies: list[str]
    policy_args: dict[str, str]
    seeds: list[int]
    metrics: list[str] | None
    combos: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        """Every cell: combinations × policies × seeds, in that nesting order."""
        return [Cell(cell_id(params, policy, seed), params, policy, seed, i)
                for i, params in enumerate(self.combos) for policy in self.policies for seed in self.seeds]

    def scenario_hash(self) -> str:
        """Hash of the base scenario's effective config (its folder left out, so a moved checkout matches)."""
        data = to_dict(self.base)
        data.get("workload", {}).get("params", {}).pop("scenario_dir", None)
        return config_hash(data)


def _slug(text: str, n: int = 40) -> str:
    stem = Path(text).stem if ("/" in text or text.endswith((".py", ".yaml", ".yml"))) else text
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem.split(":")[0])[:n].strip(".") or "x"


def cell_id(params: dict[str, Any], policy: str, seed: int) -> str:
    """The stable id of a cell: readable prefix plus 12 hex digits of sha256 over its values."""
    text = json.dumps({"params": params, "policy": policy, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return f"{_slug(policy, 24)}-s{seed}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _list(value: Any, where: str, source: str) -> list[Any]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not value:
        raise KbenchError(f"expected a non-empty list, got {value!r}", source=source, where=where)
    return value


def load_sweep(path: str | Path, calibration: str | Path | None = None) -> Sweep:
    """Read and validate a sweep file (module docstring).

    Args:
        path: The sweep file.
        calibration: A calibration file laid over the base scenario's defaults (``--calibration``).

    Raises:
        KbenchError: Naming the file and key: unknown keys, an empty grid or value list, an unknown
            parameter or policy, bad seeds, a grid value that makes an invalid scenario.
    """
    from kbench.config import load_scenario
    from kbench.config.params import resolve_path
    from kbench.policy.resolve import resolve_policy

    path = Path(path)
    src = str(path)
    doc = load_yaml(path)
    for key in doc:
        if key not in KEYS:
            raise KbenchError(f"unknown key {key!r}{did_you_mean(str(key), KEYS)}", source=src, where=str(key))
    if doc.get("version", 1) != 1:
        raise KbenchError(f"unsupported version {doc['version']!r}: expected 1", source=src, where="version")
    name = _slug(str(doc.get("name") or path.stem), 80)
    if not doc.get("scenario") or not isinstance(doc["scenario"], str):
        raise KbenchError("expected the path of the base scenario", source=src, where="scenario")
    try:
        scenario_path = Path(resolve_path(doc["scenario"], str(path.resolve().parent), where="scenario"))
    except KbenchError as err:
        raise KbenchError(err.message, source=src, where="scenario") from None
    try:
        base = load_scenario(scenario_path, calibration=calibration)
    except KbenchError as err:
        raise KbenchError(f"scenario: {err.one_line()}", source=src) from None

    grid = doc.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise KbenchError("the grid is empty: give at least one parameter with a list of values "
                          "(e.g. nodes: [50, 100])", source=src, where="grid")
    paths: dict[tuple, str] = {}
    resolved = []
    for pname, values in grid.items():
        where = f"grid.{pname}"
        if not isinstance(values, list) or not values:
            raise KbenchError(f"expected a non-empty list of values, got {values!r}", source=src, where=where)
        for v in values:
            try:
                json.dumps(v)
            except (TypeError, ValueError):
                raise KbenchError(f"value {v!r}: expected numbers, text, lists or mappings", source=src,
                                  where=where) from None
        texts = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(texts)) != len(texts):
            raise KbenchError("a value is given twice", source=src, where=where)
        try:
            canon = sweep_params.resolve(base, str(pname), where)
        except KbenchError as err:
            raise KbenchError(err.message, source=src, where=err.where) from None
        if canon in paths:
            raise KbenchError(f"sets the same setting as {paths[canon]!r}", source=src, where=where)
        paths[canon] = str(pname)
        resolved.append((str(pname), canon))
    grid = {str(k): list(v) for k, v in grid.items()}

    policies = [str(p) for p in _list(doc.get("policies", [base.scheduler.policy]), "policies", src)]
    if len(set(policies)) != len(policies):
        raise KbenchError("a policy is named twice", source=src, where="policies")
    policy_args = {}
    for p in policies:
        arg = p
        if "/" in p or p.split(":")[0].endswith((".py", ".yaml", ".yml")):
            local = path.resolve().parent / p
            if not Path(p).is_absolute() and local.with_name(local.name.split(":")[0]).exists():
                arg = str(local)
        try:
            resolve_policy(arg)
        except KbenchError as err:
            raise KbenchError(err.one_line(), source=src, where="policies") from None
        policy_args[p] = arg

    seeds_raw = doc.get("seeds", 1)
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        if seeds_raw < 1:
            raise KbenchError(f"expected a number of seeds >= 1, got {seeds_raw}", source=src, where="seeds")
        seeds = list(range(base.seed, base.seed + seeds_raw))
    else:
        seeds = _list(seeds_raw, "seeds", src)
        if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
            raise KbenchError(f"expected whole numbers >= 0, got {seeds!r}", source=src, where="seeds")
        if len(set(seeds)) != len(seeds):
            raise KbenchError("a seed is given twice", source=src, where="seeds")

    metrics = None
    if doc.get("metrics") is not None:
        from kbench.metrics.names import check_metric

        metrics = list(dict.fromkeys(normalize_metric(str(m)) for m in _list(doc["metrics"], "metrics", src)))
        for m in metrics:  # a misspelt name fails now, before any cell runs
            try:
                check_metric(m, where="metrics")
            except KbenchError as err:
                raise KbenchError(err.message, source=src, where="metrics") from None

    sweep = Sweep(name, path, scenario_path, base, grid, policies, policy_args, seeds, metrics)
    base_data = to_dict(base)
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        data = copy.deepcopy(base_data)
        label = ", ".join(f"{k}={v!r}" for k, v in params.items())
        try:
            for pname, canon in resolved:
                sweep_params.apply(data, canon, params[pname], f"grid.{pname}")
            scenario_from_dict(data)
        except KbenchError as err:
            raise KbenchError(f"grid cell {label}: {err.one_line()}", source=src) from None
        sweep.combos.append(params)
        sweep.scenarios.append(data)
    return sweep


def has_metric(summary: dict[str, Any], metric: str) -> bool:
    """Whether ``metric`` names a number (or a None) in ``summary``."""
    try:
        extract(summary, metric)
        return True
    except KbenchError:
        return False


def choose_metrics(sweep: Sweep, summary: dict[str, Any]) -> list[str]:
    """The sweep's metrics checked against one finished cell's summary, or the defaults it has.

    Raises:
        KbenchError: A metric the summary does not have ("did you mean").
    """
    if sweep.metrics is None:
        return [m for m in DEFAULT_METRICS if has_metric(summary, m)]
    for m in sweep.metrics:
        try:
            extract(summary, m)
        except KbenchError as err:
            raise KbenchError(err.message, source=str(sweep.source), where="metrics") from None
    return list(sweep.metrics)


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        sweep_dir: The sweep folder.
        sweep: The sweep.
        records: Finished cells' records, in cell order.
        metrics: The metrics of the table.
        ran: Cells run now.
        skipped: Cells found done.
        wall_s: Wall-clock time of this invocation, seconds.
    """

    sweep_dir: Path
    sweep: Sweep
    records: list[dict[str, Any]]
    metrics: list[str]
    ran: int
    skipped: int
    wall_s: float

    @property
    def failed(self) -> int:
        """Finished cells whose run failed."""
        return sum(1 for r in self.records if r.get("status") != "complete")


def run_sweep(sweep: Sweep | str | Path, out: str | Path = "results", *, jobs: int | None = None,
              dask: str | None = None, progress: Callable[[int, int], None] | None = None,
              calibration: str | Path | None = None) -> SweepResult:
    """Run the cells of a sweep not yet done in ``<out>/<name>/``.

    Args:
        sweep: A :class:`Sweep` or the sweep file.
        out: Parent folder of the sweep folder.
        jobs: Worker processes (default ``os.cpu_count()``); 1 runs the cells in this process.
        dask: ``tcp://HOST:PORT`` of a Dask scheduler, or ``local`` for a LocalCluster of ``jobs`` workers.
        progress: ``f(cells_done, cells_total)``, called once at the start and after every cell.
        calibration: A calibration file laid over the base scenario's defaults (a sweep file only).

    Returns:
        The records of every finished cell and the counts.

    Raises:
        KbenchError: Bad sweep file, a sweep folder holding another grid or in use, an unknown metric,
            an unreachable Dask scheduler, or a cell whose scenario fails to compile.
    """
    from kbench.experiment.executors import CellTask, make_executor
    from kbench.experiment.sweep_store import SweepFolder

    t0 = time.perf_counter()
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep, calibration=calibration)
    executor = make_executor(jobs, dask)
    cells = sweep.cells()
    folder = SweepFolder.open(Path(out) / sweep.name, sweep, len(cells))
    ran = 0
    status = "failed"
    records: dict[str, dict[str, Any]] = {}
    metrics: list[str] | None = None
    try:
        records = folder.load_records(cells)
        skipped = len(records)
        done_ok = [r for r in records.values() if r.get("status") == "complete"]
        metrics = choose_metrics(sweep, done_ok[0]["summary"]) if done_ok else None
        if progress is not None:
            progress(len(records), len(cells))
        todo = [c for c in cells if c.cell_id not in records]
        by_id = {c.cell_id: c for c in todo}
        tasks = [CellTask(c.cell_id, sweep.scenarios[c.combo], sweep.policy_args[c.policy], c.seed,
                          str((folder.runs_dir / c.cell_id).resolve())) for c in todo]
        folder.clean_runs(records)
        last_table = time.monotonic()
        if tasks:
            with executor:
                for rec in executor.run(tasks):
                    cell = by_id[rec["cell_id"]]
                    if rec["status"] == "error":  # bad input met inside a cell: not a finished cell
                        raise KbenchError(f"cell {cell.cell_id}: {rec['error']}", source=str(sweep.source))
                    rec = {"cell_id": cell.cell_id, "params": cell.params, "policy": cell.policy, "seed": cell.seed,
                           **{k: v for k, v in rec.items() if k != "cell_id"}}
                    folder.write_record(rec)
                    records[cell.cell_id] = rec
                    ran += 1
                    if progress is not None:
                        progress(len(records), len(cells))
                    if metrics is None and rec["status"] == "complete":
                        metrics = choose_metrics(sweep, rec["summary"])
                    if time.monotonic() - last_table > 2.0:
                        folder.write_table(sweep, cells, records, metrics or [])
                        last_table = time.monotonic()
        status = "complete" if len(records) == len(cells) else "incomplete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        ordered = folder.finish(sweep, cells, records, metrics, status, time.perf_counter() - t0)
    return SweepResult(folder.path, sweep, ordered, metrics or [], ran, skipped, time.perf_counter() - t0)

