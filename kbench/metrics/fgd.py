"""The FGD paper's metrics against arrived workload (FGD.md §1.3), recorded after every pod event.

A :class:`FgdRecorder` subscribes to the scheduler's outcomes (:attr:`Scheduler.listeners
<kbench.cluster.scheduler.scheduler.Scheduler>`). At every event (a pod's first attempt, whatever its outcome,
a later placement, or a placed pod leaving) it records four numbers, in milli-GPU:

* **arrived**: the GPU request k × u of every pod attempted so far, failed ones included (each pod
  counted once, at its first attempt);
* **allocated**: GPU milli held by placed pods (assumed or bound) in the scheduler's node table;
* **frag**: the cluster fragmentation F = Σ_n F_n against the typical pods (FGD.md §2.8);
* **idle**: unallocated GPU milli (frag rate = F / idle).

F_n is kept per node and recomputed only for the rows whose pods changed since the last event
(:meth:`NodeTable.pods_changed_since <kbench.cluster.objects.NodeTable.pods_changed_since>`),
through the state memo of :mod:`kbench.policy.fragmemo` (shared with the FGD policy; the same
values as :func:`kbench.policy.gpufrag.node_frag_amount`), so an event usually costs a dictionary
look-up instead of the whole cluster's numpy work.

:func:`by_arrived` bins the events as the paper's analysis scripts do
(``experiments/analysis/merge_*_discrete.py`` in hkust-adsl/kubernetes-scheduler-simulator):
x = round(100 × arrived / capacity) (Python rounding, half to even); for each integer x in
0..``max_pct`` the value is the mean over the events whose x equals it, or, where none does, over
the events with x within ±1; bins with neither are left out. Allocation is rounded to 2 decimals
per event before averaging, as the script does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kbench.policy.fragmemo import frag_memo
from kbench.policy.typical import MILLI, TypicalPods, pod_gpu

MAX_ARRIVED_PCT = 130
"""The x axis of the paper's figures runs from 0 to 130 % of the cluster's GPU capacity."""


def by_arrived(arrived_pct: np.ndarray, values: np.ndarray, max_pct: int = MAX_ARRIVED_PCT,
               digits: int | None = 2) -> dict[int, float]:
    """Average ``values`` per integer arrived % (FGD.md §1.3 binning with the ±1-bin fill).

    Args:
        arrived_pct: Arrived workload per event, % of the cluster's GPU capacity.
        values: The measured value per event (same length).
        max_pct: Last bin.
        digits: Round each bin's mean to this many decimals (None: no rounding).

    Returns:
        Integer arrived % → mean value, for the bins that have data (in ascending order).

    Example:
        >>> by_arrived(np.array([0.2, 0.9, 1.2, 3.4]), np.array([1.0, 3.0, 5.0, 7.0]), max_pct=4)
        {0: 1.0, 1: 4.0, 2: 5.0, 3: 7.0, 4: 7.0}
    """
    x = np.array([round(float(v)) for v in arrived_pct], dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    out: dict[int, float] = {}
    for b in range(0, max_pct + 1):
        sel = x == b
        if not sel.any():
            sel = (x >= b - 1) & (x <= b + 1)
            if not sel.any():
                continue
        mean = float(vals[sel].mean())
        out[b] = round(mean, digits) if digits is not None else mean
    return out


class FgdRecorder:
    """Records arrived / allocated / fragmented GPU after every scheduling outcome.

    Args:
        scheduler: The run's :class:`~kbench.cluster.scheduler.scheduler.Scheduler` (its node table is read).
        typical: Typical pods (from the original pod list, FGD.md §2.8); None records no frag.

    Attributes:
        capacity_milli: Cluster GPU capacity, milli-GPU (taken at the first event).
        events: Number of events recorded.
    """

    def __init__(self, scheduler, typical: TypicalPods | None):
        self.scheduler = scheduler
        self.nodes = scheduler.nodes
        self.typical = typical
        self.capacity_milli = 0.0
        self._arrived = 0.0
        self._seen: set[str] = set()
        self._rows: list[tuple[float, float, float, float, float]] = []  # (t, arrived, alloc, frag, idle)
        self._frag_n = np.zeros(0)  # F_n per row, milli-GPU
        self._frag_list: list[float] = []  # the same as a list (cheaper to read one by one)
        self._frag = 0.0  # their numpy sum
        self._idle_n: list[int] = []  # idle GPU milli per row
        self._idle = 0  # their sum
        self._n = 0
        self._version = -1
        scheduler.listeners.append(self.on_event)

    @property
    def events(self) -> int:
        """Events recorded so far."""
        return len(self._rows)

    # ----------------------------------------------------------------------------------- events
    def on_event(self, event: str, pod, now: float) -> None:
        """Scheduler listener (see :attr:`Scheduler.listeners`)."""
        if event in ("bound", "given_up"):
            return  # no change in the table since the outcome that preceded it
        key = pod.key
        if key not in self._seen and event in ("scheduled", "unschedulable"):
            self._seen.add(key)
            k, u = pod_gpu(pod.spec)
            self._arrived += float(k * u)
        self.record(now)

    def record(self, now: float) -> None:
        """Append one row with the table's current state.

        Per-node idle GPU milli and F_n are kept and refreshed only for the rows whose pods changed
        since the last row (all rows when a node was added). Idle milli is an integer total moved
        by those rows' changes (exact); F is summed afresh with numpy's sum, as the full
        computation would (a running float total would round differently).
        """
        nodes = self.nodes
        n = nodes.n
        if n == 0:
            return
        if n == self._n and self._version == nodes.pods_version and self._rows:
            self._rows.append((now, self._arrived, *self._rows[-1][2:]))  # nothing changed since the last row
            return
        rows = nodes.pods_changed_since(self._version) if n == self._n and self._version >= 0 else None
        full = rows is None
        if full:
            self._n = n
            self.capacity_milli = float(nodes.gpu_count.sum()) * MILLI
            self._idle_n = nodes.gpu_free_total.tolist()  # Σ of each node's free milli (pads excluded)
            self._idle = sum(self._idle_n)
            rows = list(range(n))
        else:
            rows = sorted(set(rows)) if len(rows) > 1 else rows
            idle_n, total = self._idle_n, nodes.gpu_free_total
            for i in rows:
                new = int(total[i])
                self._idle += new - idle_n[i]
                idle_n[i] = new
        self._version = nodes.pods_version
        capacity = self.capacity_milli
        idle = float(self._idle)
        frag = float("nan")
        if self.typical is not None and capacity > 0:
            memo = frag_memo(self.typical)
            if full or self._frag_n.size != n:
                self._frag_list = memo.value_list(nodes, list(range(n)))
                self._frag_n = np.array(self._frag_list, dtype=np.float64)
                self._frag = float(self._frag_n.sum())
            elif rows:
                frag_list, frag_n, changed = self._frag_list, self._frag_n, False
                for i, v in zip(rows, memo.value_list(nodes, rows), strict=True):
                    if frag_list[i] != v:
                        frag_list[i] = frag_n[i] = v
                        changed = True
                if changed:
                    self._frag = float(frag_n.sum())
            frag = self._frag
        self._rows.append((now, self._arrived, capacity - idle, frag, idle))

    # ---------------------------------------------------------------------------------- results
    def frame(self):
        """One row per event: ``t_s, arrived_milli, allocated_milli, frag_milli, idle_milli``."""
        import pandas as pd

        arr = np.asarray(self._rows, dtype=np.float64).reshape(-1, 5)
        return pd.DataFrame(arr, columns=["t_s", "arrived_milli", "allocated_milli", "frag_milli", "idle_milli"])

    def summary(self, max_pct: int = MAX_ARRIVED_PCT) -> dict[str, Any]:
        """The ``gpu.*_at_arrived`` mappings of the run summary (integer arrived % → value).

        ``unallocated_pct_at_arrived``: 100 − mean allocation %; ``frag_amount_pct_at_arrived``:
        100 × mean F / capacity; ``frag_rate_pct_at_arrived``: mean of 100 × F / idle per event.
        """
        if not self._rows or self.capacity_milli <= 0:
            return {}
        arr = np.asarray(self._rows, dtype=np.float64)
        cap = self.capacity_milli
        x = 100.0 * arr[:, 1] / cap
        alloc = np.round(100.0 * arr[:, 2] / cap, 2)
        out: dict[str, Any] = {
            "unallocated_pct_at_arrived": {b: round(100.0 - v, 2) for b, v in by_arrived(x, alloc, max_pct).items()},
            "arrived_pct_final": round(float(x[-1]), 4),
            "fgd_events": int(len(arr)),
        }
        frag, idle = arr[:, 3], arr[:, 4]
        if not np.isnan(frag).all():
            out["frag_amount_pct_at_arrived"] = by_arrived(x, 100.0 * frag / cap, max_pct)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = np.where(idle > 0, 100.0 * frag / idle, 0.0)
            out["frag_rate_pct_at_arrived"] = by_arrived(x, rate, max_pct)
        return out
