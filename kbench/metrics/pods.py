"""Per-pod lifecycle timestamps, one row per pod, held as numpy columns (DESIGN.md decision 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

PHASES = ("created", "first_attempt", "last_attempt", "scheduled", "bound", "kubelet_seen", "sandbox_ready",
          "image_pulled", "started", "running_observed", "finished", "deleted")
"""Timestamps recorded per pod, virtual seconds (NaN when the pod never got there):

created: the create request committed; first_attempt: the scheduler's first cycle for it;
last_attempt: the start of its latest cycle (the successful one for a bound pod); scheduled: the
cycle chose a node (assumed); bound: the scheduler got the binding's response (the commit and
the response's trip; the kubelet's watch may deliver the pod up to that trip earlier, issue 16's
response transfer); kubelet_seen: the kubelet's watch delivered it; sandbox_ready: RunPodSandbox done; image_pulled: images present
(equal to sandbox_ready when cached); started: containers started; running_observed: the Running
status, sent by the kubelet, was observed through a watch (F1's end point); finished: the pod
Succeeded or Failed; deleted: the object was removed.
"""

FINAL_STATES = ("pending", "running", "succeeded", "failed", "deleted")


class PodTimeline:
    """Columns of lifecycle timestamps indexed by a dense pod uid.

    Args:
        capacity: Initial rows (grows by doubling).
    """

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._cap = capacity
        self.t = {p: np.full(capacity, np.nan) for p in PHASES}
        self.node = np.full(capacity, -1, dtype=np.int64)
        self.attempts = np.zeros(capacity, dtype=np.int64)
        self.image_pull_s = np.zeros(capacity)
        self.final = np.zeros(capacity, dtype=np.int8)  # index into FINAL_STATES
        self.names: list[str] = []
        self.owner_kind: list[str] = []
        self.node_names: list[str] = []
        self._node_index: dict[str, int] = {}

    def _grow(self) -> None:
        cap = self._cap * 2
        for p in PHASES:
            col = np.full(cap, np.nan)
            col[: self._cap] = self.t[p]
            self.t[p] = col
        for attr, fill in (("node", -1), ("attempts", 0), ("image_pull_s", 0.0), ("final", 0)):
            old = getattr(self, attr)
            col = np.full(cap, fill, dtype=old.dtype)
            col[: self._cap] = old
            setattr(self, attr, col)
        self._cap = cap

    def new_pod(self, name: str, owner_kind: str = "") -> int:
        """Register a pod; returns its uid (row)."""
        if self.n == self._cap:
            self._grow()
        uid = self.n
        self.n += 1
        self.names.append(name)
        self.owner_kind.append(owner_kind)
        return uid

    def mark(self, uid: int, phase: str, t: float) -> None:
        """Record ``phase`` at ``t`` (the first time only)."""
        col = self.t[phase]
        if col[uid] != col[uid]:  # NaN: not yet set
            col[uid] = t

    def set_node(self, uid: int, node: str) -> None:
        """Record the node a pod was bound to."""
        idx = self._node_index.get(node)
        if idx is None:
            idx = self._node_index[node] = len(self.node_names)
            self.node_names.append(node)
        self.node[uid] = idx

    def set_final(self, uid: int, state: str) -> None:
        """Record the pod's current final state (``FINAL_STATES``)."""
        self.final[uid] = FINAL_STATES.index(state)

    def column(self, phase: str) -> np.ndarray:
        """The ``phase`` timestamps of every registered pod."""
        return self.t[phase][: self.n]

    def to_frame(self) -> pd.DataFrame:
        """One row per pod: name, owner kind, node, attempts, final state, every phase timestamp."""
        n = self.n
        nodes = np.asarray(self.node_names + [""], dtype=object)
        df = pd.DataFrame({
            "pod": self.names, "owner_kind": self.owner_kind,
            "node": nodes[self.node[:n]],
            "attempts": self.attempts[:n], "image_pull_s": self.image_pull_s[:n],
            "state": np.asarray(FINAL_STATES, dtype=object)[self.final[:n]],
        })
        for p in PHASES:
            df[f"{p}_s"] = self.t[p][:n]
        return df


def pod_startup(world) -> tuple[np.ndarray, np.ndarray]:
    """Per pod that was observed running: (SLO startup excluding image pulls, end-to-end), seconds."""
    tl = world.timeline
    created = tl.column("created")
    observed = tl.column("running_observed")
    e2e = observed - created
    slo = e2e - tl.image_pull_s[: tl.n]
    return slo, e2e
