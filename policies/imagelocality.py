"""ImageLocality: favour nodes that already hold the pod's container images (CALIBRATION E11).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/imagelocality/image_locality.go``
@ 02d7708af661e2fb5a089a04c3944a54d2afcc0e (``calculatePriority``, ``sumImageScores``,
``scaledImageScore``, ``normalizedImageName``).

For every init and app container whose normalised image (``:latest`` appended when there is no tag)
is on the node, add ``int64(float64(size) * float64(numNodesWithImage) / float64(totalNodes))``
(the spread factor damps images present everywhere). Clamp the sum to
``[23 MiB, 1000 MiB × number of containers]`` and score ``100 * (sum - 23 MiB) / (max - 23 MiB)``.
``totalNodes`` is every node in the snapshot (the table), not only the candidates.
"""

from __future__ import annotations

import numpy as np

from policies.noderesources import check_keys

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """Upstream ``normalizedImageName``: append ``:latest`` when the last ':' is not after the last '/'."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def calculate_priority(sum_scores: np.ndarray, num_containers: int) -> np.ndarray:
    """Upstream ``calculatePriority`` over an int64 array of summed image scores."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = np.minimum(np.maximum(sum_scores, MIN_THRESHOLD), max(max_threshold, MIN_THRESHOLD))
    denom = max_threshold - MIN_THRESHOLD
    if denom <= 0:  # a pod without containers: Go would divide by a negative number; score 0
        return np.zeros(len(sum_scores), dtype=np.int64)
    return (100 * (clamped - MIN_THRESHOLD) // denom).astype(np.int64, copy=False)


class ImageLocality:
    """Scores nodes by the size of the pod's images already present on them, damped by spread (E11)."""

    NAME = NAME
    DESCRIPTION = "Favour nodes that already have the pod's container images"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "ImageLocalityArgs")
        self.handle = handle

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """0..100 int64 scores aligned with ``candidates``."""
        cand = np.asarray(candidates, dtype=np.int64)
        containers = [*pod.init_containers, *pod.containers]
        total_nodes = nodes.n
        total = None
        for c in containers:
            image = normalized_image_name(c.image)
            num = nodes.image_num_nodes(image)
            if num == 0:
                continue
            spread = float(num) / float(total_nodes)
            part = (nodes.image_size(image)[cand] * spread).astype(np.int64)  # 0 where the image is absent
            total = part if total is None else total + part
        if total is None:
            total = np.zeros(len(cand), dtype=np.int64)
        return calculate_priority(total, len(containers))


PLUGINS = [ImageLocality]
