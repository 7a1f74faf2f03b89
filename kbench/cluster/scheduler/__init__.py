"""kube-scheduler: assigns each pending pod to a node and binds it.

In Kubernetes it sees the cluster through informers, keeps pods in a scheduling queue (active,
backoff, unschedulable), runs the framework's plugins over the nodes of its cache and binds
asynchronously. kbench models the loop (:mod:`.scheduler`), the queue (:mod:`.queue`) and the cache
(:mod:`.cache`); the framework and plugins are in :mod:`kbench.policy` and ``policies/``.
"""

from kbench.cluster.scheduler.scheduler import Scheduler

__all__ = ["Scheduler"]
