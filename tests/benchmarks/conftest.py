"""Benchmark groups follow SimPy's suite: ``engine`` (the bare kernel), ``components`` (one kbench
component in isolation) and ``scenarios`` (whole runs). ``make bench`` saves every run under
``.benchmarks/`` (``--benchmark-autosave``); compare with the last one by
``pytest tests/benchmarks --benchmark-enable -m "" --benchmark-compare``.
"""
