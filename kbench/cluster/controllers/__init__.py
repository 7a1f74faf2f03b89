"""kube-controller-manager in virtual time.

Build with ``ControllerManager(world)`` and call ``.start()`` after ``world.plane.start()``; read
``world.counters`` (``pods_created``, ``pods_deleted``, ``evictions``, ``node_not_ready``,
``endpointslice_writes``, ``jobs_complete``, ``jobs_failed``, ``quota_writes``,
``controller_conflicts``...) and ``ControllerManager.summary()`` for the run summary.

One module per controller: :mod:`.deployment` (with its arithmetic in :mod:`.deployutil`),
:mod:`.replicaset`, :mod:`.job`, :mod:`.daemonset`, :mod:`.statefulset`, :mod:`.nodelifecycle`,
:mod:`.endpointslice`, :mod:`.resourcequota`, :mod:`.namespace`, :mod:`.serviceaccount`,
:mod:`.garbagecollector`, :mod:`.podgc`; the clients and shared informers live in :mod:`.manager`,
the work queue in :mod:`.workqueue`.
"""

from kbench.cluster.controllers.endpointslice import reconcile_slices
from kbench.cluster.controllers.manager import ControllerManager
from kbench.cluster.controllers.nodelifecycle import not_ready_at, toleration_s
from kbench.cluster.controllers.workqueue import WorkQueue

__all__ = ["ControllerManager", "WorkQueue", "not_ready_at", "reconcile_slices", "toleration_s"]
