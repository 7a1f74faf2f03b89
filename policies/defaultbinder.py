"""DefaultBinder (Bind): the pod is bound by one API write.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/defaultbinder/default_binder.go``
(one ``POST pods/<name>/binding``, CALIBRATION M3). In kbench the scheduler's asynchronous binding
write (:mod:`kbench.cluster.scheduler.scheduler`, D6) is this plugin's effect; the plugin itself
only says SUCCESS. kbench models the binding as an ``update pods`` write rather than a
``create pods/binding``: the same one write through the apiserver and etcd, and the same APF level
(the scheduler's flow schema covers both).
"""

from __future__ import annotations

from kbench.policy.api import Status
from policies.resourceargs import check_keys

NAME = "DefaultBinder"


class DefaultBinder:
    """Bind: one API write (performed by the scheduler's asynchronous binding)."""

    NAME = NAME
    DESCRIPTION = "Bind: one API write per pod (the scheduler's asynchronous binding)"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "DefaultBinderArgs")
        self.handle = handle

    def bind(self, state, pod, nodes, node_idx) -> Status:
        """SUCCESS: the scheduler sends the write."""
        return Status.success()


PLUGINS = [DefaultBinder]
