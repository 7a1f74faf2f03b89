"""``kbench.rng.Uniforms``: block draws that give the same values, in the same order, as the
per-call draws they replace (the lease jitters of a batch)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.rng import SeedTree, Uniforms


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60), st.integers(1, 64))
def test_block_draws_equal_the_calls_they_replace(sizes, block):
    ref = SeedTree(7).stream("kubelet/lease")
    u = Uniforms(SeedTree(7).stream("kubelet/lease"), block=block)
    for n in sizes:  # 0 stands for a single scalar draw (Heartbeats._renewed)
        if n == 0:
            assert u.one() == float(ref.random())
        else:
            assert u.take(n) == ref.random(n).tolist()


def test_values_are_floats_in_the_unit_interval():
    u = Uniforms(np.random.default_rng(1), block=8)
    xs = u.take(20) + [u.one() for _ in range(5)]
    assert len(xs) == 25 and all(isinstance(x, float) and 0.0 <= x < 1.0 for x in xs)
