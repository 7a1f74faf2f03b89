"""Hypothesis profiles for the fuzz tests: bounded in ``make test``, long in ``make fuzz``.

``KBENCH_FUZZ=1`` (set by ``make fuzz``) selects the ``fuzz`` profile: many more examples.
Every example has a deadline, so a loader that hangs fails the test instead of hanging it.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("kbench-quick", max_examples=12, deadline=3000, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("kbench-fuzz", max_examples=1500, deadline=5000,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("kbench-fuzz" if os.environ.get("KBENCH_FUZZ") else "kbench-quick")
