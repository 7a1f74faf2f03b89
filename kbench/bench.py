"""Performance benchmarks of kbench itself (issue 8, issue 21 item 7): ``kbench bench [--quick] [-o table|json]``.

Each reference scenario runs in a fresh Python subprocess (``python -m kbench.bench CHILD-SPEC``)
so that its peak resident set size is its own; the child times the run's call (the scenario
file's parsing and the modules the run imports on first use are in it, the interpreter's start
and kbench's command modules are not) and prints one JSON line; ``cpu_s`` (the child's user +
system CPU seconds over the same span; before 2026-12-05 it also counted the import of the run
modules, ~0.3 s, so a ``--baseline`` older than that reads ~0.3 s more CPU per scenario) is given
beside ``wall_s`` because on a shared machine it is the steadier figure. The cost figures are per
unit of simulated work, which stays meaningful as the engine drops events (the events-per-second
"efficiency" of schema 1 fell as events were removed, and is gone since schema 2):
``us_wall_per_request`` and ``us_wall_per_pod`` (wall microseconds per simulated API request, every
request the plane served or refused, batch members counted one by one, and per scheduled pod; None
when the count is 0) and their CPU twins ``us_cpu_per_*``.
``machine.loadavg`` is the 1/5/15-minute load average before and after, and each scenario records
the 1-minute load at its start (``loadavg_1m_start``), so a contended bench shows in its output.

Scenarios (full / ``--quick``):

* ``density-5k``: ``workloads/density-5k.yaml`` (5,000 nodes, 150,000 pods, 15 virtual minutes) /
  100 nodes, 600 pods, 40 virtual seconds.
* ``openb``: ``workloads/openb.yaml`` (1,523 nodes, 8,152 pods) / 3 % of the nodes, 40 pods.
* ``fgd-openb``: ``workloads/fgd-openb.yaml``, policy fgd, seed 42, the full plane (forced: the
  scenario declares placement-only) / 3 % of the nodes, 40 pods (before inflation to 130 % of the GPUs).
* ``fgd-openb-placement``: the same, placement-only (:mod:`kbench.experiment.placement`) / 10 % of
  the nodes, 400 pods.
* ``sync-list-watch``: 5,000 list-watch clients, 10,000 objects, 10 virtual minutes /
  200 clients, 1,000 objects, 1 virtual minute.
* growth: the density template with the same pods (30,000; quick: 300) on 1,000 and 5,000 nodes
  (quick: 50 and 250);
  the ratio of wall seconds per pod (large / small), and the same on CPU seconds.
* ``cl2-load-5k`` (only when named with ``--scenario``): ``workloads/cl2-load.yaml`` with
  ``nodes=5000``, ``throughput=20`` (ClusterLoader2's 5,000-node load job: 150,000 pods, hours of
  virtual time) / 20 nodes, one namespace of 600 pods.

The parent also times SimPy's bare timeout loop (``engine.simpy_timeout_events_per_s``, for the
record).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kbench.bundled import TRACES, WORKLOADS
from kbench.errors import KbenchError

SCHEMA_VERSION = 2
"""2 (issue 21): per-request and per-pod costs, loadavg, fgd-openb-placement, the growth CPU ratio;
``efficiency`` (per scenario and overall) removed."""
TRACE_FILE = "openb_pod_list_default.csv.gz"
LOADED = 1.5
"""A 1-minute load average above this at a scenario's start makes ``kbench bench`` warn (kbench default:
on a 2-core machine, more than one other busy process shares the cores)."""


@dataclass(frozen=True)
class BenchCase:
    """One benchmark scenario, run in a child process.

    Attributes:
        name: Key in the output (``scenarios.<name>``).
        kind: ``run`` (a pod-lifecycle scenario) or ``sync`` (the list-watch experiment).
        data: The scenario as a dict (``run``) or the sync parameters (``sync``: clients, objects,
            duration_s).
        description: One line for the table.
    """

    name: str
    kind: str
    data: dict[str, Any]
    description: str
    policy: str | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    opt_in: bool = False


# ------------------------------------------------------------------------------------ scenarios
def traces_dir() -> Path:
    """The bundled trace folder (``workloads/traces``).

    Raises:
        KbenchError: It lacks the openb pod list (not a source checkout).
    """
    if (TRACES / TRACE_FILE).exists():
        return TRACES
    raise KbenchError(f"{TRACES / TRACE_FILE}: no such file; the openb and fgd-openb benchmarks need the bundled "
                      "traces (kbench bench runs from a source checkout)")


def _workload(name: str) -> dict[str, Any]:
    path = WORKLOADS / name
    if not path.exists():
        raise KbenchError(f"{path}: no such file (kbench bench runs from a source checkout)")
    return yaml.safe_load(path.read_text())


def _density(nodes: int, pods: int, per_deployment: int, duration_s: float, name: str) -> dict[str, Any]:
    """The density-5k template resized: ``pods`` in deployments of ``per_deployment`` every 10 s."""
    data = _workload("density-5k.yaml")
    data["name"] = name
    data["duration_s"] = duration_s
    data["cluster"]["nodes"][0]["count"] = nodes
    tpl = data["workload"]["deployments"][0]["template"]
    n = -(-pods // per_deployment)
    data["workload"]["deployments"] = [
        {"name": f"density-{i:02d}", "replicas": min(per_deployment, pods - i * per_deployment),
         "at_s": f"{10 * i}s", "template": dict(tpl)} for i in range(n)]
    return data


def _trace(name: str, placement_only: bool = False, **trace: Any) -> dict[str, Any]:
    """A bundled trace scenario with absolute trace paths and replay overrides, in the given mode
    (fgd-openb.yaml declares placement-only: the full-plane benchmark forces the plane)."""
    data = _workload(name)
    data["workload"]["params"]["traces"] = str(traces_dir())
    data["workload"]["traces"][0].update(trace)
    data["workload"]["placement_only"] = placement_only
    return data


def _cl2(nodes: int, per_namespace: int, throughput: int) -> dict[str, Any]:
    """workloads/cl2-load.yaml with its size parameters set."""
    data = _workload("cl2-load.yaml")
    data["params"] = {**data["params"], "nodes": nodes, "nodes_per_namespace": per_namespace,
                      "throughput": throughput}
    return data


def cases(quick: bool) -> list[BenchCase]:
    """The reference scenarios (``quick``: tiny versions for CI smoke runs)."""
    cl2 = (BenchCase("cl2-load-5k", "run", _cl2(20, 20, 20), "cl2-load: 20 nodes, 600 pods (quick)", opt_in=True)
           if quick else
           BenchCase("cl2-load-5k", "run", _cl2(5000, 100, 20),
                     "workloads/cl2-load.yaml: 5,000 nodes, 150,000 pods, throughput 20", opt_in=True))
    return _cases(quick) + [cl2]


def _cases(quick: bool) -> list[BenchCase]:
    if quick:
        return [
            BenchCase("density-5k", "run", _density(100, 600, 300, 40, "bench-density-quick"),
                      "density template: 100 nodes, 600 pods, 40 s (quick)"),
            BenchCase("openb", "run", _trace("openb.yaml", sample_nodes=0.03, max_pods=40),
                      "openb replay: 3 % of nodes, 40 pods (quick)"),
            BenchCase("fgd-openb", "run", _trace("fgd-openb.yaml", sample_nodes=0.03, max_pods=40),
                      "fgd-openb, fgd, seed 42: 3 % of nodes, 40 pods (quick)", policy="fgd", seed=42),
            BenchCase("fgd-openb-placement", "run",
                      _trace("fgd-openb.yaml", placement_only=True, sample_nodes=0.1, max_pods=400),
                      "fgd-openb placement-only, fgd, seed 42: 10 % of nodes, 400 pods (quick)", policy="fgd", seed=42),
            BenchCase("sync-list-watch", "sync", {"clients": 200, "objects": 1000, "duration_s": 60},
                      "sync list-watch: 200 clients, 1,000 objects, 60 s (quick)"),
        ]
    return [
        BenchCase("density-5k", "run", _workload("density-5k.yaml"),
                  "workloads/density-5k.yaml: 5,000 nodes, 150,000 pods, 15 min"),
        BenchCase("openb", "run", _trace("openb.yaml"), "workloads/openb.yaml: 1,523 nodes, 8,152 pods"),
        BenchCase("fgd-openb", "run", _trace("fgd-openb.yaml"),
                  "workloads/fgd-openb.yaml, fgd, seed 42, full plane: 1,213 nodes", policy="fgd", seed=42),
        BenchCase("fgd-openb-placement", "run", _trace("fgd-openb.yaml", placement_only=True),
                  "workloads/fgd-openb.yaml, fgd, seed 42, placement-only: 1,213 nodes", policy="fgd", seed=42),
        BenchCase("sync-list-watch", "sync", {"clients": 5000, "objects": 10_000, "duration_s": 600},
                  "sync list-watch: 5,000 clients, 10,000 objects, 10 min"),
    ]


def growth_cases(quick: bool) -> tuple[BenchCase, BenchCase]:
    """The same pods on a small and a large cluster (wall time per pod should not grow much)."""
    small, large, pods, dur = (50, 250, 300, 30) if quick else (1000, 5000, 30_000, 180)
    per = 150 if quick else 5000
    return (BenchCase(f"growth-{small}", "run", _density(small, pods, per, dur, f"bench-growth-{small}"),
                      f"density template: {small:,} nodes, {pods:,} pods, {dur} s"),
            BenchCase(f"growth-{large}", "run", _density(large, pods, per, dur, f"bench-growth-{large}"),
                      f"density template: {large:,} nodes, {pods:,} pods, {dur} s"))


# ---------------------------------------------------------------------------------------- child
def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this process; returns the raw figures, wall and CPU over the same span (the
    run's call: the scenario file's parsing and the modules the run imports on first use are in it;
    the kbench modules imported here before it are not)."""
    from kbench.config import scenario_from_dict

    if spec["kind"] == "sync":
        from kbench.experiment.sync import run_sync

        sc = scenario_from_dict(_sync_scenario(spec["data"], spec.get("sets") or {}))
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        res = run_sync(sc, "list-watch")
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        s, st = res.summary, res.plane.stats
        virtual, pods, events = float(s["virtual_s"]), 0, int(s.get("events", 0))
        scheduled, mode = 0, "sync"
        requests = int(st.total("count") + st.total("rejected_429") + st.total("errors"))
    else:
        from kbench.experiment.runner import run

        path = Path(spec["path"])
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        s = run(path, policy=spec.get("policy"), seed=spec.get("seed")).summary
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        virtual, pods, events = float(s["sim"]["virtual_s"]), int(s["pods"]["created"]), int(s["sim"]["events"])
        scheduled, mode = int(s["scheduling"]["scheduled"]), s["sim"].get("mode", "full-plane")
        api = s.get("api")  # absent in a placement-only run
        requests = int(api["requests"] + api["rejected_429"] + api["errors"]) if api else 0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"wall_s": wall, "cpu_s": cpu, "virtual_s": virtual, "pods": pods, "events": events,
            "peak_rss_mib": rss_kib / 1024.0, "pods_scheduled": scheduled, "api_requests": requests, "mode": mode}


def _sync_scenario(p: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    """The sync case's scenario from its parameters (clients, objects, duration_s), ``--set`` applied."""
    from kbench.benchsets import apply_sets

    return apply_sets({"name": "bench-sync", "seed": 1, "duration_s": p["duration_s"],
                       "sync": {"clients": p["clients"], "objects": p["objects"]}}, sets)


def check_sets(todo: list[BenchCase], sets: dict[str, Any], tmp: Path) -> None:
    """Validate every case with the ``--set`` overrides applied, before any runs (a misspelt key
    fails at once, not after an hour of benchmarks).

    Raises:
        KbenchError: An override the scenario loader rejects (its message, prefixed ``--set``).
    """
    from kbench.config import load_scenario, scenario_from_dict

    for case in todo if sets else []:
        try:
            if case.kind == "sync":
                scenario_from_dict(_sync_scenario(case.data, sets))
            else:
                load_scenario(_write(case, sets, tmp))
        except KbenchError as err:
            where = f"{err.where}: " if err.where else ""
            raise KbenchError(f"--set: {case.name}: {where}{err.message}") from None


def _write(case: BenchCase, sets: dict[str, Any], tmp: Path) -> Path:
    """The run case's scenario file, ``--set`` applied."""
    from kbench.benchsets import apply_sets

    path = tmp / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(apply_sets(case.data, sets), sort_keys=False))
    return path


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_case(case: BenchCase, tmp: Path, sets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``case`` in a fresh subprocess, with the ``--set`` overrides ``sets``, and derive the rates.

    Raises:
        KbenchError: The child failed (its last error line is quoted).
    """
    spec: dict[str, Any] = {"kind": case.kind, "policy": case.policy, "seed": case.seed}
    if case.kind == "run":
        spec["path"] = str(_write(case, sets or {}, tmp))
    else:
        spec["data"], spec["sets"] = case.data, sets or {}
    env = dict(os.environ, PYTHONHASHSEED="0")
    load = loadavg()
    proc = subprocess.run([sys.executable, "-m", "kbench.bench", json.dumps(spec)], capture_output=True,
                          text=True, env=env, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise KbenchError(f"benchmark {case.name} failed: {lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    wall = max(raw["wall_s"], 1e-9)
    cpu, requests, scheduled = raw["cpu_s"], raw["api_requests"], raw["pods_scheduled"]
    return {
        "description": case.description,
        "mode": raw["mode"],
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "virtual_s": round(raw["virtual_s"], 3),
        "speedup": round(raw["virtual_s"] / wall, 2),
        "pods": raw["pods"],
        "pods_per_wall_s": round(raw["pods"] / wall, 1),
        "pods_scheduled": scheduled,
        "api_requests": requests,
        "us_wall_per_request": _per(wall, requests),
        "us_wall_per_pod": _per(wall, scheduled),
        "us_cpu_per_request": _per(cpu, requests),
        "us_cpu_per_pod": _per(cpu, scheduled),
        "events": raw["events"],
        "events_per_wall_s": round(raw["events"] / wall, 1),
        "peak_rss_mib": round(raw["peak_rss_mib"], 1),
        "loadavg_1m_start": None if load is None else load[0],
    }


def _per(seconds: float, count: int) -> float | None:
    """Microseconds per item (None when there is none)."""
    return round(seconds / count * 1e6, 2) if count > 0 else None


def loadavg() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------------------- engine
def simpy_timeout_rate(events: int = 300_000, processes: int = 100) -> float:
    """SimPy's bare timeout loop: ``processes`` processes each yielding ``env.timeout(1)``;
    returns scheduled events per wall second (the kernel's insertion counter over the loop's time)."""
    import simpy

    from kbench.simkernel import events_scheduled

    env = simpy.Environment()
    per = events // processes

    def loop():
        for _ in range(per):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(loop())
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return events_scheduled(env) / max(wall, 1e-9)


# ------------------------------------------------------------------------------------------ api
def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            # the build matters as much as the version (a PGO+LTO, statically linked CPython runs
            # kbench ~15 % faster than pyenv's default build of the same release: Makefile, PY)
            "python_executable": os.path.realpath(sys.executable)}


def bench(quick: bool = False, only: list[str] | None = None, growth: bool = True,
          log=None, sets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the benchmarks.

    Args:
        quick: Tiny scenarios (CI smoke, well under a minute).
        only: Run only these scenario names (default all).
        growth: Also run the growth pair.
        log: ``f(message)`` called before each scenario, or None.
        sets: Scenario overrides by dotted key (``--set``, :mod:`kbench.benchsets`), applied to every
            scenario and the growth pair.

    Returns:
        ``{version, quick, sets, machine (with loadavg.{before, after}), scenarios: {name: figures},
        engine, growth}``.

    Raises:
        KbenchError: An unknown scenario name, an override the loader rejects, missing traces or a
            failed scenario.
    """
    todo = cases(quick)
    names = [c.name for c in todo]
    for n in only or []:
        if n not in names:
            raise KbenchError(f"--scenario {n}: expected one of {', '.join(names)}")
    todo = [c for c in todo if ((c.name in only) if only else not c.opt_in)]
    sets = sets or {}
    out: dict[str, Any] = {"version": SCHEMA_VERSION, "quick": quick, "sets": sets, "machine": machine(),
                           "scenarios": {}}
    out["machine"]["loadavg"] = {"before": loadavg(), "after": None}
    with tempfile.TemporaryDirectory(prefix="kbench-bench-") as d:
        check_sets([*todo, *(growth_cases(quick) if growth else ())], sets, Path(d))
        for c in todo:
            if log:
                log(f"{c.name}: {c.description}")
            out["scenarios"][c.name] = run_case(c, Path(d), sets)
        if growth:
            small, large = growth_cases(quick)
            figs = {}
            for c in (small, large):
                if log:
                    log(f"{c.name}: {c.description}")
                figs[c.name] = run_case(c, Path(d), sets)
            fs, fl = figs[small.name], figs[large.name]
            per_s = fs["wall_s"] / max(fs["pods"], 1)
            per_l = fl["wall_s"] / max(fl["pods"], 1)
            cpu_s = fs["cpu_s"] / max(fs["pods"], 1)
            cpu_l = fl["cpu_s"] / max(fl["pods"], 1)
            out["growth"] = {"small": {"name": small.name, **fs}, "large": {"name": large.name, **fl},
                             "wall_s_per_pod_small": per_s, "wall_s_per_pod_large": per_l,
                             "ratio": round(per_l / per_s, 3) if per_s > 0 else None,
                             "cpu_s_per_pod_small": cpu_s, "cpu_s_per_pod_large": cpu_l,
                             "cpu_ratio": round(cpu_l / cpu_s, 3) if cpu_s > 0 else None}
    if log:
        log("engine: SimPy bare timeout loop")
    out["engine"] = {"simpy_timeout_events_per_s": round(simpy_timeout_rate(), 1)}
    out["machine"]["loadavg"]["after"] = loadavg()
    return out


if __name__ == "__main__":  # the child: python -m kbench.bench '{"kind": ...}'
    sys.stdout.write(json.dumps(_child(json.loads(sys.argv[1]))) + "\n")
