"""The kbench command line: parses, calls the library, prints; nothing else (STYLE habit 15).

Exit codes follow kubectl: 0 on success, 1 when a check the user asked for fails, 2 on bad input.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kbench.errors import KbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="kbench: a Kubernetes control plane simulated in virtual time.")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn):
    """Turn KbenchError (and a few other user-input errors) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KbenchError as err:
            fail(err.one_line())
        except FileNotFoundError as err:
            fail(f"{err.filename}: no such file")
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json")) -> None:
    if output not in allowed:
        fail(f"-o {output}: expected one of {', '.join(allowed)}")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------------------- sync


@app.command("sync")
@guarded
def sync_cmd(
    scenario: Path = typer.Argument(None, help="Scenario YAML (optional; options below override it)."),
    strategy: list[str] = typer.Option(None, "--strategy", help="poll or list-watch; repeat to run both."),
    clients: int = typer.Option(None, "--clients", help="Number of clients."),
    objects: int = typer.Option(None, "--objects", help="Number of objects."),
    changes_per_s: float = typer.Option(None, "--changes-per-s", help="Object changes per second."),
    poll_period: str = typer.Option(None, "--poll-period", help="LIST period of polling clients (10s, 1m)."),
    object_bytes: str = typer.Option(None, "--object-bytes", help="Object size (1Ki, 20Ki)."),
    scope: str = typer.Option(None, "--scope", help="all (every client caches every object) or partitioned."),
    duration: str = typer.Option(None, "--duration", help="Virtual time to simulate (10m)."),
    seed: int = typer.Option(None, "--seed", help="Master seed."),
    restart_at: str = typer.Option(None, "--apiserver-restart-at", help="Restart the apiserver at this time."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the run folders."),
    output: str = typer.Option("table", "-o", "--output", help="table or json."),
) -> None:
    """The List vs List-Watch experiment: polling clients against informers."""
    check_output(output)
    from kbench.config import Scenario, load_scenario
    from kbench.configload import from_dict, to_dict
    from kbench.experiment.sync import run_sync
    from kbench.quantity import parse_duration, parse_quantity

    base = load_scenario(scenario) if scenario is not None else Scenario(name="sync")
    data = to_dict(base)
    sync = data["sync"]
    for key, value in (("strategies", strategy or None), ("clients", clients), ("objects", objects),
                       ("changes_per_s", changes_per_s), ("scope", scope)):
        if value is not None:
            sync[key] = value
    if poll_period is not None:
        sync["poll_period_s"] = parse_duration(poll_period, where="--poll-period")
    if object_bytes is not None:
        sync["object_bytes"] = parse_quantity(object_bytes, where="--object-bytes")
    if restart_at is not None:
        sync["apiserver_restart_at_s"] = parse_duration(restart_at, where="--apiserver-restart-at")
    if duration is not None:
        data["duration_s"] = parse_duration(duration, where="--duration")
    if seed is not None:
        data["seed"] = seed
    for name in ("clients", "objects"):
        if sync[name] < 1:
            fail(f"--{name}: must be >= 1, got {sync[name]}")
    eff = from_dict(Scenario, data)
    results = []
    for strat in eff.sync.strategies:
        if output == "table":
            err_console.print(f"running {strat}: {eff.sync.clients} clients, {eff.sync.objects} objects, "
                              f"{eff.duration_s:g} virtual s ...", markup=False)
        results.append(run_sync(eff, strat, out_dir=out).summary)
    if output == "json":
        print_json(results[0] if len(results) == 1 else results)
        return
    _sync_table(results)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def _sync_table(results: list[dict]) -> None:
    table = Table(title="List vs List-Watch")
    table.add_column("metric")
    for r in results:
        table.add_column(r["strategy"], justify="right")
    rows = [
        ("LIST /s", lambda r: r["apiserver"]["requests_per_s"]["list"]),
        ("WATCH /s", lambda r: r["apiserver"]["requests_per_s"]["watch"]),
        ("apiserver MB/s", lambda r: r["apiserver"]["bytes_per_s"] / 1e6),
        ("apiserver CPU-s", lambda r: r["apiserver"]["cpu_s"]),
        ("429s", lambda r: r["apiserver"]["rejected_429"]),
        ("etcd reads /s", lambda r: r["etcd"]["reads_per_s"]),
        ("etcd writes /s", lambda r: r["etcd"]["writes_per_s"]),
        ("staleness mean s", lambda r: r["staleness_s"]["mean"]),
        ("staleness p50 s", lambda r: r["staleness_s"]["p50"]),
        ("staleness p99 s", lambda r: r["staleness_s"]["p99"]),
        ("staleness max s", lambda r: r["staleness_s"]["max"]),
        ("relists", lambda r: r["relists"]),
        ("wall s", lambda r: r["wall_s"]),
    ]
    for label, get in rows:
        table.add_row(label, *[_fmt(get(r)) for r in results])
    console.print(table)
    for r in results:
        if r.get("run_dir"):
            console.print(f"{r['strategy']}: results in {r['run_dir']}", markup=False, highlight=False)


# ------------------------------------------------------------------------------ registrations


def _register_optional() -> None:
    """Commands whose modules live with their subsystem."""
    try:
        from kbench.policy import commands as policy_commands
    except ImportError:  # pragma: no cover - during bootstrap only
        return
    app.command("explain")(guarded(policy_commands.explain_cmd))
    app.command("policies")(guarded(policy_commands.policies_cmd))


_register_optional()


@app.command("version")
def version_cmd() -> None:
    """Print the kbench version."""
    import kbench
    console.print(f"kbench {kbench.__version__}", markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KbenchError as err:  # errors raised while parsing
        err_console.print(f"error: {err.one_line()}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
