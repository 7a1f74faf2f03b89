"""Client-side rate limiting and retry backoff, as arithmetic (no process per token).

* :class:`TokenBucket`: client-go's QPS/burst limiter (C1-C5): a reservation returns how long to
  wait before the request may be sent.
* :class:`Backoff`: the reflector's exponential backoff (C7: 800 ms doubling to 30 s, jitter 1.0,
  reset after 2 min without errors).
"""

from __future__ import annotations

import numpy as np


class TokenBucket:
    """Token bucket with reservations (client-go ``flowcontrol.NewTokenBucketRateLimiter``).

    Args:
        qps: Refill rate, tokens per second.
        burst: Bucket size, tokens.
    """

    def __init__(self, qps: float, burst: int):
        self.qps = qps
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.t = 0.0

    def reserve(self, now: float) -> float:
        """Take one token; return the wait in seconds before the request may be sent."""
        if self.qps <= 0:
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.qps)
        self.t = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.qps


def try_take(lim: TokenBucket, now: float) -> float:
    """Take a token of ``lim`` if one is there now: returns 0 (taken) or the wait, seconds, after
    which one would be (nothing taken). For batched senders that send a member now or later."""
    if lim.qps <= 0:
        return 0.0
    tokens = lim.tokens + (now - lim.t) * lim.qps
    if tokens > lim.burst:
        tokens = lim.burst
    lim.t = now
    if tokens < 1.0:
        lim.tokens = tokens
        return (1.0 - tokens) / lim.qps
    lim.tokens = tokens - 1.0
    return 0.0


class Backoff:
    """Exponential backoff with jitter (C7).

    Args:
        initial_s: First delay, seconds.
        max_s: Cap, seconds.
        rng: Random stream for jitter.
        reset_s: A quiet period after which the delay starts again from ``initial_s``.
    """

    def __init__(self, initial_s: float, max_s: float, rng: np.random.Generator, reset_s: float = 120.0):
        self.initial_s = initial_s
        self.max_s = max_s
        self.rng = rng
        self.reset_s = reset_s
        self.current = 0.0
        self.last = -1e18

    def next(self, now: float) -> float:
        """The next delay in seconds (jitter 1.0: uniform in [d, 2d))."""
        if now - self.last > self.reset_s:
            self.current = 0.0
        self.current = self.initial_s if self.current == 0 else min(self.max_s, self.current * 2)
        self.last = now
        return self.current * (1.0 + float(self.rng.random()))
