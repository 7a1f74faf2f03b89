"""The simulated control plane: one package per Kubernetes component.

:mod:`~kbench.cluster.objects` (pods, nodes, the node table, stored values) is shared by all;
:mod:`~kbench.cluster.etcd`, :mod:`~kbench.cluster.apiserver`, :mod:`~kbench.cluster.clients`,
:mod:`~kbench.cluster.scheduler`, :mod:`~kbench.cluster.kubelet`,
:mod:`~kbench.cluster.controllers` and :mod:`~kbench.cluster.proxy` are the components;
:mod:`~kbench.cluster.controlplane` builds and wires etcd, the apiserver and clients, and
:mod:`~kbench.cluster.world` is the shared context of a pod-lifecycle run. docs/ARCHITECTURE.md
draws the data flow.
"""
