"""kbench: a Kubernetes control plane simulated in virtual time."""

__version__ = "0.1.0"


def run(scenario, **kwargs):
    """Run one scenario (see :func:`kbench.experiment.runner.run`)."""
    from kbench.experiment.runner import run as _run
    return _run(scenario, **kwargs)
