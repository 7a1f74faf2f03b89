"""Open-Gpu-Share: the GPU filter and the per-GPU choice at Reserve (FGD.md §2.1).

Follows ``GpuSharePlugin.Filter`` / ``Reserve`` and ``allocateGpuIdBasedOnBestFit`` /
``allocateGpuIdBasedOnRandomFit`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/open_gpu_share.go``, ``GpuNodeInfo.AllocateGpuId`` in
``pkg/type/open-gpu-share/cache/gpunodeinfo.go`` and ``AllocateExclusiveGpuId`` in
``pkg/type/resource.go``.

Filter: a CPU-only pod passes everywhere. A GPU pod needs a node with GPUs of an allowed model
("A|B" allows either); a sharing pod (one GPU, u < 1000 milli) needs one GPU with at least u free;
a pod of k GPUs needs k GPUs with at least u free each (k fully free GPUs for whole-GPU pods).

Reserve: picks the GPU indices and puts them in ``state["gpus"]`` unless an earlier Reserve plugin
(FGD's, which chooses inside its score) has already done so. ``gpuSelMethod``:

* ``best`` (default): a sharing pod takes the GPU with the least free milli that still fits
  (lowest index on ties); a multi-GPU pod takes the lowest-indexed fitting GPUs;
* ``random``: a sharing pod takes a uniform choice among the fitting GPUs, drawn from the
  handle's seeded stream; multi-GPU pods as ``best``;
* ``worst``: a sharing pod takes the GPU with the most free milli.

Departure: a multi-GPU pod with u < 1000 (absent from the FGD traces; the Go code panics at
Reserve) is given k distinct GPUs, one per GPU request.
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CodedReasons, CycleState, FilterResult, Handle, Plugin, Status
from kbench.policy.gpufrag import model_access, model_column
from kbench.policy.typical import MILLI, pod_gpu, pod_model

GPU_SEL_METHODS = ("best", "random", "worst")


def select_gpus(free: np.ndarray, k: int, u: int, method: str = "best",
                rng: np.random.Generator | None = None) -> tuple[int, ...]:
    """GPU indices for a pod of k GPUs × u milli on one node, or () when it does not fit.

    Args:
        free: Free milli-GPU of the node's real GPUs (no padding).
        k: GPUs requested.
        u: Milli-GPU per GPU (1000 = whole).
        method: ``best``, ``random`` or ``worst`` (sharing pods only; see the module docstring).
        rng: Stream for ``random``.
    """
    if k <= 0:
        return ()
    fits = np.flatnonzero(free >= u)
    if k == 1 and u < MILLI:
        if fits.size == 0:
            return ()
        if method == "random":
            if rng is None:
                raise PolicyError("random GPU selection needs the handle's rng", where="gpuSelMethod")
            return (int(fits[rng.integers(fits.size)]),)
        pick = np.argmax(free[fits]) if method == "worst" else np.argmin(free[fits])
        return (int(fits[pick]),)
    if fits.size < k:
        return ()
    return tuple(int(j) for j in fits[:k])


def _share_reasons(k: int, u: int, model: str, has_gpu: np.ndarray, allowed: np.ndarray,
                   fits: np.ndarray) -> CodedReasons:
    """Per-candidate reasons of :meth:`GpuShare.filter` (the first that applies: no GPU, model, fit)."""
    fit = f"no GPU with {u} milli free" if k == 1 and u < MILLI else f"fewer than {k} GPUs with {u} milli free"
    code = np.where(~has_gpu, 3, np.where(~allowed, 2, np.where(~fits, 1, 0)))
    return CodedReasons(code, ("", fit, f"GPU model is not {model}", "node has no GPU"))


class GpuShare(Plugin):
    """Open-Gpu-Share filter (GPU model, per-GPU share, k free GPUs) and Reserve GPU choice."""

    NAME = "GpuShare"
    DESCRIPTION = "Open-Gpu-Share: GPU model match, per-GPU share fit, k whole GPUs; picks GPU indices"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        unknown = set(self.args) - {"gpuSelMethod"}
        if unknown:
            raise PolicyError(f"unknown GpuShare arg(s) {sorted(unknown)}", where=f"args.{sorted(unknown)[0]}")
        method = self.args.get("gpuSelMethod", "best")
        if method not in GPU_SEL_METHODS:
            raise PolicyError(f"expected one of {list(GPU_SEL_METHODS)}, got {method!r}",
                              where="args.gpuSelMethod")
        self.method = method

    def filter(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> FilterResult:
        """Check every candidate at once (see the module docstring)."""
        k, u = pod_gpu(pod)
        if k == 0:
            return FilterResult.all_pass(len(candidates))
        model = pod_model(pod)
        fits = nodes.gpu_fit_count(u)[candidates] >= k  # k ≥ 1 GPUs of u ≥ 1 milli: implies has_gpu
        ok = fits & model_column(nodes, model)[candidates] if model else fits
        return FilterResult(ok, lambda: _share_reasons(k, u, model, nodes.gpu_count[candidates] > 0,
                                                       model_access(nodes, candidates, model), fits))

    def reserve(self, state: CycleState, pod, nodes, node_idx: int) -> Status:
        """Choose the GPUs on ``node_idx`` unless an earlier Reserve plugin set ``state["gpus"]``."""
        k, u = pod_gpu(pod)
        if k == 0 or state.get("gpus"):
            return Status.success()
        free = nodes.gpu_free_milli[node_idx, : int(nodes.gpu_count[node_idx])]
        gpus = select_gpus(free, k, u, self.method, self.handle.rng)
        if not gpus:
            return Status.error(f"{k} GPU(s) of {u} milli do not fit node {nodes.names[node_idx]}")
        state["gpus"] = gpus
        return Status.success()

    def unreserve(self, state: CycleState, pod, nodes, node_idx: int) -> None:
        """Forget the GPU choice."""
        state.pop("gpus", None)


PLUGINS = [GpuShare]
