"""What a Score plugin returns, checked (E1): integer scores in 0..100, one per candidate.

The framework (:mod:`kbench.policy.framework`) calls Score, NormalizeScore and the optional
``uniform_score`` through these functions; a plugin that raises or returns something malformed
becomes the :class:`~kbench.errors.PolicyError` that ``fail(plugin, point, pod, error)`` builds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Fail = Callable[[str, str, object, BaseException], Exception]


def checked_uniform(fail: Fail, name: str, fn, pod, state, nodes) -> int | None:
    """A plugin's ``uniform_score(state, pod, nodes)``: the normalized score of every node, or None."""
    try:
        value = fn(state, pod, nodes)
    except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
        raise fail(name, "Score", pod, err) from err
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 100:
        raise fail(name, "Score", pod, ValueError(f"uniform score must be an integer in 0..100, got {value!r}"))
    return int(value)


def checked_scores(fail: Fail, name: str, pod, state, nodes, cand: np.ndarray, score, normalize) -> np.ndarray:
    """``score(state, pod, nodes, cand)`` then ``normalize(state, pod, raw)`` (when given), as
    ``(len(cand),) int64`` in 0..100."""
    point = "Score"
    try:
        raw = score(state, pod, nodes, cand)
        if normalize is not None:
            point = "NormalizeScore"
            if type(raw) is not np.ndarray:
                raw = np.asarray(raw)
            raw = normalize(state, pod, raw.astype(np.int64, copy=False) if raw.dtype.kind in "iub" else raw)
    except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
        raise fail(name, point, pod, err) from err
    if type(raw) is not np.ndarray:
        raw = np.asarray(raw)
    if raw.shape != cand.shape:
        raise fail(name, point, pod, ValueError(f"returned {raw.shape} scores for {cand.size} nodes"))
    if raw.dtype != np.int64:
        if raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or np.any(raw != np.floor(raw)):
                raise fail(name, point, pod, ValueError("scores must be integers"))
        elif raw.dtype.kind not in "iub":
            raise fail(name, point, pod, TypeError(f"scores must be integers, got dtype {raw.dtype}"))
        raw = raw.astype(np.int64)
    unsigned = raw.view(np.uint64)  # negative scores become huge: one argmax checks both ends
    if raw.size and unsigned[unsigned.argmax()] > 100:
        raise fail(name, point, pod, ValueError(
            f"scores must lie in 0..100 after normalization, got {int(raw.min())}..{int(raw.max())}"))
    return raw
