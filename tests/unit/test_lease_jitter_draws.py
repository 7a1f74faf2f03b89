"""The lease jitters of batched renewals come from ``Dist.uniform(0, 1).sampler`` on the dedicated
``kubelet/lease`` stream: block draws that give the same values, in the same order, as the
``random()`` and ``random(n)`` calls they replace."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.dist import Dist
from kbench.rng import SeedTree


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60), st.integers(1, 64))
def test_block_draws_equal_the_calls_they_replace(sizes, block):
    ref = SeedTree(7).stream("kubelet/lease")
    draw = Dist.uniform(0.0, 1.0).sampler(SeedTree(7).stream("kubelet/lease"), batch=block)
    for n in sizes:  # 0 stands for a single scalar draw (Heartbeats._renewed)
        if n == 0:
            assert draw() == float(ref.random())
        else:
            assert [draw() for _ in range(n)] == ref.random(n).tolist()


def test_values_are_floats_in_the_unit_interval():
    draw = Dist.uniform(0.0, 1.0).sampler(np.random.default_rng(1), batch=8)
    xs = [draw() for _ in range(25)]
    assert len(xs) == 25 and all(isinstance(x, float) and 0.0 <= x < 1.0 for x in xs)
