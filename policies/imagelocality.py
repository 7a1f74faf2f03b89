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

import weakref

import numpy as np

from policies import signers
from policies.resourceargs import check_keys

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

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the normalized image names)."""
        return signers.image_names(pod)

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """0..100 int64 scores aligned with ``candidates``."""
        cand = np.asarray(candidates, dtype=np.int64)
        full, _ = _all_scores(pod, nodes)
        return full[cand]

    def uniform_score(self, state, pod, nodes) -> int | None:
        """The score when every node gets the same one (e.g. every node or none has the images)."""
        return _all_scores(pod, nodes)[1]


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _all_scores(pod, nodes) -> tuple[np.ndarray, int | None]:
    """``((n,) int64 scores of every node, the score if all are equal else None)`` for the pod's
    images, cached per table and image list until rows are added (node images change only then)."""
    images = tuple(c.image for c in pod.init_containers) + tuple(c.image for c in pod.containers)
    key = (nodes.n, nodes.labels_version)
    hit = _CACHE.get(nodes)
    if hit is None or hit[0] != key:
        hit = _CACHE[nodes] = (key, {})
    got = hit[1].get(images)
    if got is None:
        total_nodes = nodes.n
        total = None
        for image in images:
            image = normalized_image_name(image)
            num = nodes.image_num_nodes(image)
            if num == 0:
                continue
            spread = float(num) / float(total_nodes)
            part = (nodes.image_size(image) * spread).astype(np.int64)  # 0 where the image is absent
            total = part if total is None else total + part
        if total is None:
            total = np.zeros(total_nodes, dtype=np.int64)
        full = calculate_priority(total, len(images))
        full.flags.writeable = False
        same = int(full[0]) if full.size and bool((full == full[0]).all()) else None
        got = hit[1][images] = (full, same)
    return got


PLUGINS = [ImageLocality]
