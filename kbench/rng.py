"""The seed tree (DESIGN.md decision 6).

A run's master seed yields independent, named child streams. A stream's seed depends only on the
master seed and the stream's name, so adding a component (a new name) never perturbs the others, and
changing the policy never changes the workload realisation (common random numbers).
"""

from __future__ import annotations

import hashlib

import numpy as np

from kbench.errors import ConfigError


def check_seed(seed: object, where: str = "--seed") -> int:
    """``seed`` as a master seed: a whole number >= 0 (numpy's SeedSequence takes no negatives).

    Raises:
        ConfigError: Naming ``where``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"expected a whole number >= 0, got {seed!r}", where=where)
    if seed < 0:
        raise ConfigError(f"must be >= 0, got {seed}", where=where)
    return int(seed)


def _name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class SeedTree:
    """Named random streams derived from one master seed.

    Args:
        seed: The run's master seed (non-negative integer).

    Example:
        >>> tree = SeedTree(42)
        >>> a = tree.stream("etcd").random()
        >>> a == SeedTree(42).stream("etcd").random()
        True
    """

    def __init__(self, seed: int):
        self.seed = check_seed(seed, "seed")
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, name: str) -> np.random.Generator:
        """The generator for ``name``; the same object on every call within a run."""
        gen = self._streams.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(_name_key(name),))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._streams[name] = gen
        return gen

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator for ``name`` that restarts the stream from its beginning."""
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(_name_key(name),))
        return np.random.Generator(np.random.PCG64(seq))
