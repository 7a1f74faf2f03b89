"""NodePorts' and SchedulingGates' upstream unit-test tables, ported case by case (shared by the table
tests and ``kbench validate``'s ``filtering`` family).

Sources (kubernetes/kubernetes, ``pkg/scheduler/framework/plugins/``):

* ``nodeports/node_ports_test.go`` @ 008b3652959ca58af8be3fb5b6ecfe9ae7638282: TestNodePorts
  (:data:`NODE_PORTS`: the pod's ports and the ports of the one pod already on node ``m1``, written
  ``PROTOCOL/hostIP/hostPort`` as upstream's ``newPod``), TestFits (:data:`FITS`) and
  Test_isSchedulableAfterAssignedPodDeleted (:data:`PORT_HINTS`);
* ``schedulinggates/scheduling_gates_test.go`` (code index copy 52163112462; the index lists
  4a0608cb77f6a53af41cb4a453af104a4d4a0610): TestPreEnqueue (:data:`GATES`).
"""

from __future__ import annotations

from kbench.policy.api import Code

U = int(Code.UNSCHEDULABLE)
PORTS_TAKEN = (U, "node(s) didn't have free ports for the requested pod ports")

NODE_PORTS = [  # (case name, pod's app ports, pod's (sidecar?, ports) of an init container, existing pod's ports, expected)
    ("skip filter", (), None, (), "skip"),
    ("other port", ("UDP/127.0.0.1/8080",), None, ("UDP/127.0.0.1/9090",), ""),
    ("same udp port", ("UDP/127.0.0.1/8080",), None, ("UDP/127.0.0.1/8080",), PORTS_TAKEN),
    ("same tcp port", ("TCP/127.0.0.1/8080",), None, ("TCP/127.0.0.1/8080",), PORTS_TAKEN),
    ("different host ip", ("TCP/127.0.0.1/8080",), None, ("TCP/127.0.0.2/8080",), ""),
    ("different protocol", ("UDP/127.0.0.1/8080",), None, ("TCP/127.0.0.1/8080",), ""),
    ("second udp port conflict", ("UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"), None, ("UDP/127.0.0.1/8080",),
     PORTS_TAKEN),
    ("first tcp port conflict", ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"), None,
     ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"), PORTS_TAKEN),
    ("first tcp port conflict due to 0.0.0.0 hostIP", ("TCP/0.0.0.0/8001",), None, ("TCP/127.0.0.1/8001",),
     PORTS_TAKEN),
    ("TCP hostPort conflict due to 0.0.0.0 hostIP", ("TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"), None,
     ("TCP/127.0.0.1/8001",), PORTS_TAKEN),
    ("second tcp port conflict to 0.0.0.0 hostIP", ("TCP/127.0.0.1/8001",), None, ("TCP/0.0.0.0/8001",), PORTS_TAKEN),
    ("second different protocol", ("UDP/127.0.0.1/8001",), None, ("TCP/0.0.0.0/8001",), ""),
    ("UDP hostPort conflict due to 0.0.0.0 hostIP", ("UDP/127.0.0.1/8001",), None,
     ("TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"), PORTS_TAKEN),
    ("non-sidecar initContainer using hostPort", (), (False, ("TCP//8001",)), ("TCP/0.0.0.0/8001",), "skip"),
    ("TCP hostPort conflict from sidecar initContainer", (), (True, ("TCP//8001",)), ("TCP/0.0.0.0/8001",),
     PORTS_TAKEN),
]

FITS = [  # (case name, pod's ports, existing pod's ports, fits)
    ("non-conflicting ports", ("TCP/127.0.0.1/80",), ("TCP/127.0.0.1/9090",), True),
    ("multiple non-conflicting ports", ("TCP/127.0.0.1/80", "TCP/127.0.1.1/80", "TCP/127.0.1.1/90", "TCP/127.0.1.1/100"),
     ("TCP/127.0.0.1/9090", "TCP/127.0.0.1/9191", "TCP/127.0.1.1/8080"), True),
    ("same ports on different protocols", ("TCP/127.0.0.1/80",), ("UDP/127.0.0.1/80",), True),
    ("conflicting ports", ("TCP/127.0.0.1/80",), ("TCP/127.0.0.1/80",), False),
    ("multiple ports, some conflicting", ("TCP/127.0.0.1/80", "TCP/127.0.1.1/80", "TCP/127.0.1.1/90",
                                          "TCP/127.0.1.1/100"),
     ("TCP/127.0.0.1/9090", "TCP/127.0.1.1/90", "TCP/127.0.1.1/8080"), False),
]

PORT_HINTS = [  # (case name, the deleted assigned pod's ports, Queue?) for a pod wanting host port 8080
    ("skip-queue-on-non-hostport", (), False),
    ("skip-queue-on-unrelated-hostport", ("TCP//8081",), False),
    ("queue-on-released-hostport", ("TCP//8080",), True),
]
"""Upstream's "skip-queue-on-unscheduled" is the queue's job in kbench (a pod without a node raises
no AssignedPod event; tests/model/test_scheduler_queueing.py), and "backoff-wrong-old-object" is Go
typing."""

GATES = [  # (case name, scheduling gates, expected PreEnqueue status: None = success)
    ("pod does not carry scheduling gates", (), None),
    ("pod carries scheduling gates", ("foo", "bar"),
     (int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE), "waiting for scheduling gates: [foo bar]")),
]
