"""Typical pods: the target workload that FGD and the fragmentation metric measure against.

FGD.md §2.8 ("Typical pods"), following ``GetTypicalPods`` and ``SortTargetPodInDecreasingCount`` in
hkust-adsl/kubernetes-scheduler-simulator ``pkg/utils/frag.go`` and ``TargetPodList.Less`` in
``pkg/type/resource.go``. Pods are grouped by the key (CPU millicores, per-GPU milli, GPU count, GPU
model constraint); memory is not in the key. Groups are sorted by count, descending (ties: the larger
key first, the order the Go code's ``sort.Reverse`` gives), the top groups are kept until they cover
at least ``threshold_pct`` of the pods, and their popularities are renormalised to sum to 1.

The floating-point steps follow the Go code, so popularities match it bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kbench.errors import PolicyError

MILLI = 1000  # one whole GPU in thousandths


def pod_gpu(pod) -> tuple[int, int]:
    """A pod's GPU request as (count, per-GPU milli), as the Open-Gpu-Share plugins see it.

    ``gpu_count`` GPUs of ``gpu_milli`` thousandths each. A GPU pod that gives no share takes whole
    GPUs (1000); shares above 1000 are capped at 1000 (FGD.md §5.3). A share without a count means
    one GPU. CPU-only pods give (0, 0).

    Args:
        pod: Anything with ``gpu_count`` and ``gpu_milli`` attributes (a :class:`Pod`).

    Returns:
        ``(k, u)``: number of GPUs and milli-GPU per GPU.
    """
    k = int(getattr(pod, "gpu_count", 0) or 0)
    u = int(getattr(pod, "gpu_milli", 0) or 0)
    if k <= 0 and u <= 0:
        return 0, 0
    if k <= 0:
        k = 1
    if u <= 0 or u > MILLI:
        u = MILLI
    return k, u


def pod_cpu_milli(pod) -> int:
    """The pod's CPU request in millicores with the 100m default for containers that omit it.

    The Go code takes ``GetNonzeroRequests`` for the pod side (``utils.GetPodResource``), E4.
    """
    req = pod.nonzero_requests() if hasattr(pod, "nonzero_requests") else pod.requests()
    return int(round(float(req.get("cpu", 0.0))))


def pod_model(pod) -> str:
    """The pod's GPU model constraint ("" for none; "A|B" allows either)."""
    return str(getattr(pod, "gpu_model", None) or "")


@dataclass(frozen=True)
class TypicalPods:
    """Typical pod shapes and their popularities (struct of arrays, length M).

    Attributes:
        cpu_milli: CPU request per shape, millicores.
        gpu_milli: Per-GPU share per shape, thousandths of a GPU (0 for CPU-only shapes).
        gpu_count: GPUs per shape.
        gpu_model: GPU model constraint per shape ("" for none, "A|B" for either).
        weight: Popularity per shape, summing to 1.
    """

    cpu_milli: np.ndarray
    gpu_milli: np.ndarray
    gpu_count: np.ndarray
    gpu_model: tuple[str, ...]
    weight: np.ndarray

    @property
    def m(self) -> int:
        """Number of shapes."""
        return len(self.weight)

    @cached_property
    def u_values(self) -> np.ndarray:
        """``(U,) int64`` the distinct per-GPU shares, ascending."""
        return np.unique(self.gpu_milli)

    @cached_property
    def cpu_rows(self) -> np.ndarray:
        """Indices of the CPU-only shapes (u = 0), in order."""
        return np.flatnonzero(self.gpu_milli == 0)

    @cached_property
    def gpu_rows(self) -> np.ndarray:
        """Indices of the GPU shapes (u > 0), in order."""
        return np.flatnonzero(self.gpu_milli > 0)

    @cached_property
    def u_index(self) -> np.ndarray:
        """``(M,) int64`` each shape's position in :attr:`u_values`."""
        return np.searchsorted(self.u_values, self.gpu_milli)

    @classmethod
    def from_records(cls, records: Sequence[dict], where: str = "typicalPods") -> TypicalPods:
        """Build from dicts ``{cpuMilli, gpuMilli, gpuCount, gpuModel, weight}`` (weights renormalised).

        Raises:
            PolicyError: A record is malformed; ``where`` names it (``typicalPods[2].weight``).
        """
        if not isinstance(records, (list, tuple)) or not records:
            raise PolicyError("expected a non-empty list of typical pod shapes", where=where)
        cpu, milli, count, model, weight = [], [], [], [], []
        for i, rec in enumerate(records):
            at = f"{where}[{i}]"
            if not isinstance(rec, dict):
                raise PolicyError("expected a mapping", where=at)
            unknown = set(rec) - {"cpuMilli", "gpuMilli", "gpuCount", "gpuModel", "weight"}
            if unknown:
                raise PolicyError(f"unknown field(s) {sorted(unknown)}", where=at)
            vals = {}
            for key in ("cpuMilli", "gpuMilli", "gpuCount", "weight"):
                v = rec.get(key, 0 if key != "weight" else None)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise PolicyError("expected a number >= 0", where=f"{at}.{key}")
                vals[key] = v
            if vals["weight"] <= 0:
                raise PolicyError("expected a weight > 0", where=f"{at}.weight")
            if vals["gpuMilli"] > MILLI:
                raise PolicyError("expected at most 1000 (one whole GPU)", where=f"{at}.gpuMilli")
            if (vals["gpuMilli"] > 0) != (vals["gpuCount"] > 0):
                raise PolicyError("gpuMilli and gpuCount must both be 0 or both > 0", where=at)
            cpu.append(int(vals["cpuMilli"]))
            milli.append(int(vals["gpuMilli"]))
            count.append(int(vals["gpuCount"]))
            model.append(str(rec.get("gpuModel") or ""))
            weight.append(float(vals["weight"]))
        w = np.asarray(weight, dtype=np.float64)
        return cls(
            np.asarray(cpu, dtype=np.int64),
            np.asarray(milli, dtype=np.int64),
            np.asarray(count, dtype=np.int64),
            tuple(model),
            w / w.sum(),
        )

    def records(self) -> list[dict]:
        """The shapes as dicts (the inverse of :meth:`from_records`)."""
        return [
            {
                "cpuMilli": int(self.cpu_milli[i]),
                "gpuMilli": int(self.gpu_milli[i]),
                "gpuCount": int(self.gpu_count[i]),
                "gpuModel": self.gpu_model[i],
                "weight": float(self.weight[i]),
            }
            for i in range(self.m)
        ]


def typical_pods(
    pods: Iterable, threshold_pct: float = 95.0, step: int = 1, include_cpu_pods: bool = True
) -> TypicalPods:
    """Typical pods of a pod list (FGD.md §2.8; ``GetTypicalPods`` in ``pkg/utils/frag.go``).

    Args:
        pods: The original pods (the trace before shuffling or inflation).
        threshold_pct: Keep the most popular shapes until they cover at least this % of the pods
            (``podPopularityThreshold``; the FGD experiment uses 95).
        step: Shapes added per round (``podIncreaseStep``; 1 in the experiment).
        include_cpu_pods: Count CPU-only pods (``isInvolvedCpuPods``; true in the experiment).

    Returns:
        The kept shapes, most popular first, popularities summing to 1.

    Raises:
        PolicyError: No pods to build from, or bad arguments.
    """
    if not 0 < threshold_pct <= 100:
        raise PolicyError("expected 0 < threshold <= 100", where="typicalPods.threshold_pct")
    if step < 1:
        raise PolicyError("expected step >= 1", where="typicalPods.step")
    counts: dict[tuple[int, int, int, str], float] = {}
    total = 0.0
    for pod in pods:
        k, u = pod_gpu(pod)
        if not include_cpu_pods and k == 0:
            continue
        key = (pod_cpu_milli(pod), u, k, pod_model(pod))
        counts[key] = counts.get(key, 0.0) + 1.0
        total += 1.0
    if not counts:
        raise PolicyError("no pods to compute typical pods from", where="typicalPods")
    # Descending count, ties: descending (cpu, milli, count, model) — sort.Reverse of TargetPodList.Less.
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    expected = float(threshold_pct) * total / 100.0
    i, taken_to, cum = 0, 0, 0.0
    pct = [c for _, c in ranked]
    while cum < expected:
        taken_to += step
        while i < taken_to and i < len(ranked):
            cum += ranked[i][1]
            pct[i] = ranked[i][1] / total
            i += 1
        if i >= len(ranked):
            break
    kept = ranked[:i]
    if i < len(ranked):  # renormalise after chopping, as the Go code does
        weights = [pct[j] / (cum / total) for j in range(i)]
    else:
        weights = pct[:i]
    return TypicalPods(
        np.asarray([key[0] for key, _ in kept], dtype=np.int64),
        np.asarray([key[1] for key, _ in kept], dtype=np.int64),
        np.asarray([key[2] for key, _ in kept], dtype=np.int64),
        tuple(key[3] for key, _ in kept),
        np.asarray(weights, dtype=np.float64),
    )
