"""Events: client-go's recorders, correlation and batched sinks (issue 18; CALIBRATION J1-J8).

:mod:`.correlator` is the pure logic (core/v1 ``EventCorrelator``, events.k8s.io series),
:mod:`.recorder` the recorders every component gets from the world's hub and the sinks that write
Events through the apiserver, :mod:`.scheduler` the scheduler's ``Scheduled`` / ``FailedScheduling``
hook. The apiserver's side (the Event TTL through etcd leases) is
:mod:`kbench.cluster.apiserver.eventttl`.
"""
