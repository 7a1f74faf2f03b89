"""kbench: a Kubernetes control plane simulated in virtual time."""

__version__ = "0.1.0"
