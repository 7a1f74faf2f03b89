"""The kbench command line: the typer app and its commands' registration, nothing else.

Each command lives with its subsystem (``kbench/experiment/run_cmd.py``, ``sync_cmd.py``,
``policy/commands.py``...) and prints through :mod:`kbench.console`. Exit codes follow kubectl: 0 on
success, 1 when a check the user asked for fails, 2 on bad input.
"""

from __future__ import annotations

import sys

import typer

from kbench.console import console, err_console, guarded
from kbench.errors import KbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="kbench: a Kubernetes control plane simulated in virtual time.")


def _register() -> None:
    """Commands, each from the module of its subsystem (their heavy imports happen when run)."""
    from kbench.bench_cmd import bench_cmd
    from kbench.calibrate import commands as calibrate_commands
    from kbench.experiment.compare_cmd import compare_cmd
    from kbench.experiment.envelope_cmd import envelope_cmd
    from kbench.experiment.run_cmd import run_cmd
    from kbench.experiment.sweep_cmd import sweep_cmd
    from kbench.experiment.sync_cmd import sync_cmd
    from kbench.policy import commands as policy_commands
    from kbench.report.commands import report_cmd
    from kbench.results import commands as results_commands
    from kbench.validate.commands import validate_cmd
    from kbench.validate.digest_cmd import digest_cmd
    from kbench.workload import commands as workload_commands

    app.command("sync")(guarded(sync_cmd))
    app.command("run")(guarded(run_cmd))
    app.command("explain")(guarded(policy_commands.explain_cmd))
    app.command("policies")(guarded(policy_commands.policies_cmd))
    workload_app = typer.Typer(no_args_is_help=True, help="Inspect and convert workload traces.")
    workload_app.command("inspect")(guarded(workload_commands.inspect_cmd))
    workload_app.command("convert")(guarded(workload_commands.convert_cmd))
    app.add_typer(workload_app, name="workload")
    app.command("compare")(guarded(compare_cmd))
    results_app = typer.Typer(no_args_is_help=True, help="List and inspect run folders.")
    results_app.command("ls")(guarded(results_commands.results_ls_cmd))
    results_app.command("show")(guarded(results_commands.results_show_cmd))
    app.add_typer(results_app, name="results")
    app.command("envelope")(guarded(envelope_cmd))
    app.command("sweep")(guarded(sweep_cmd))
    app.command("report")(guarded(report_cmd))
    app.command("bench")(guarded(bench_cmd))
    app.command("validate")(guarded(validate_cmd))
    app.command("digest")(guarded(digest_cmd))
    calibrate_app = typer.Typer(no_args_is_help=True, help="Fit kbench's costs to a real etcd or control plane.")
    calibrate_app.command("etcd")(guarded(calibrate_commands.etcd_cmd))
    calibrate_app.command("metrics")(guarded(calibrate_commands.metrics_cmd))
    app.add_typer(calibrate_app, name="calibrate")


_register()


def _print_version(value: bool) -> None:
    if value:
        from kbench.version import __version__

        console.print(f"kbench {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                       help="Print the kbench version and exit.")) -> None:
    """kbench: a Kubernetes control plane simulated in virtual time."""


@app.command("version")
def version_cmd() -> None:
    """Print the kbench version."""
    from kbench.version import __version__

    console.print(f"kbench {__version__}", markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KbenchError as err:  # errors raised while parsing
        err_console.print(f"error: {err.one_line()}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
