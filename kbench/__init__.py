"""kbench: a Kubernetes control plane simulated in virtual time."""

from kbench.version import __version__

__all__ = ["__version__", "run"]


def run(scenario, **kwargs):
    """Run one scenario (see :func:`kbench.experiment.runner.run`)."""
    from kbench.experiment.runner import run as _run
    return _run(scenario, **kwargs)
