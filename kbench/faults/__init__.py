"""Faults in virtual time: the injector that fires a scenario's fault timeline and its measurements.

See docs/FAULTS.md. :class:`~kbench.faults.injector.FaultInjector` is built and started by the
runner; :func:`~kbench.faults.measure.fault_summary` is the summary's ``faults`` section.
"""
