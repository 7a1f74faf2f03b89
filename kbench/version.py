"""kbench's version (one place; ``kbench version``, run manifests and reports read it)."""

__version__ = "0.1.0"
