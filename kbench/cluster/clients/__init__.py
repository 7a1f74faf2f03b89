"""API clients: client-go's rate limiter, reflectors (LIST then WATCH), pollers and informers.

In Kubernetes every component talks to the apiserver through client-go, which limits its QPS,
retries with backoff and keeps caches up to date with reflectors. kbench models the token bucket
and backoff (:mod:`.ratelimit`), one client's identity (:mod:`.client`), the reflector and poll
loops (:mod:`.reflector`) and informers with event handlers (:mod:`.informer`).
"""

from kbench.cluster.clients.client import Client
from kbench.cluster.clients.informer import Informer
from kbench.cluster.clients.ratelimit import Backoff, TokenBucket

__all__ = ["Backoff", "Client", "Informer", "TokenBucket"]
