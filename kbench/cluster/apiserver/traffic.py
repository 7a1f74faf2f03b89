"""The apiserver's network ledger: every byte it sends or receives, counted where it flows.

Egress is split by kind:

* ``response``: bodies of LIST, GET and write responses (after gzip when it applies, I3);
* ``watch``: every watch event delivered to every watcher (the once-encoded bytes of I9 plus the
  event's framing), counted per event and group of watchers, never per watcher in Python;
* ``initial``: the initial events a WatchList stream sends (KEP-3157) and the events replayed to a
  watcher that resumes from an older revision;
* ``bookmark``: bookmark events (A23), counted when a watch closes;
* ``proxy``: pods/log and exec streams through the apiserver.

Ingress is request bodies (writes). Each is keyed by resource and client class.
"""

from __future__ import annotations

KINDS = ("response", "watch", "initial", "bookmark", "proxy")


class Traffic:
    """Bytes in and out of one apiserver.

    Attributes:
        egress: ``(kind, resource, client class) -> bytes``.
        ingress: ``(resource, client class) -> bytes``.
        by_kind: ``kind -> bytes`` (running totals, for the time series).
    """

    def __init__(self) -> None:
        self.egress: dict[tuple[str, str, str], float] = {}
        self.ingress: dict[tuple[str, str], float] = {}
        self.by_kind: dict[str, float] = dict.fromkeys(KINDS, 0.0)
        self.ingress_total = 0.0

    def out(self, kind: str, resource: str, client: str, nbytes: float) -> None:
        """Count ``nbytes`` bytes sent."""
        key = (kind, resource, client)
        e = self.egress
        e[key] = e.get(key, 0.0) + nbytes
        self.by_kind[kind] += nbytes

    def inn(self, resource: str, client: str, nbytes: float) -> None:
        """Count ``nbytes`` bytes received."""
        key = (resource, client)
        self.ingress[key] = self.ingress.get(key, 0.0) + nbytes
        self.ingress_total += nbytes

    @property
    def egress_total(self) -> float:
        """Every byte sent, bytes."""
        return sum(self.by_kind.values())

    def sums(self, field: int) -> dict[str, float]:
        """Egress summed by key field ``field`` (0 kind, 1 resource, 2 client class), sorted."""
        out: dict[str, float] = {}
        for key, v in self.egress.items():
            out[key[field]] = out.get(key[field], 0.0) + v
        return dict(sorted(out.items()))
