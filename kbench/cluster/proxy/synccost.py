"""How long a kube-proxy rule sync takes, by mode, as the cluster's Services and endpoints grow.

The cost of a sync grows with what the data plane holds (CALIBRATION L1): iptables has no
incremental API, so even a partial restore (KEP-3453, L2) sends every rule of the chains it
touches and the binary reads and writes the whole table: a sync is O(objects); nftables updates
are O(changed objects) in principle, but current releases list the whole table on every sync
(kubernetes/kubernetes issue #139513), so a partial sync stays O(elements), much cheaper per
element; IPVS (deprecated, L6) adds or removes virtual servers one by one. The models:

* ``iptables``: ``T = t0 + c x O`` with ``O = objects_per_service x S + objects_per_endpoint x E``
  (per Service port about 2 chains and 3 rules, per endpoint 1 chain and 3 rules: a kbench
  reading of the rule layout, L1), ``c`` = ``iptables_partial_s_per_object`` or
  ``iptables_full_s_per_object``;
* ``nftables``: ``T = t0 + c x (S + E)``, ``c`` = ``nftables_partial_s_per_element`` or
  ``nftables_full_s_per_element``;
* ``ipvs``: ``T = t0 + ipvs_s_per_service`` (one Service touched per sync);
* ``fixed``: ``T = t0`` (kbench before issue 18).

``t0`` is the ``kubeproxy.sync_s`` draw (proxies differ by it, as before); the size term is the
same on every node: scaled by the draw over its median (p99 ten times it) it would give a
5,000-node network programming latency p99 near 80 s, where L2's chart reads about 24 s. Constants are fitted to one figure each (docs/VALIDATION.md:
calibration) and everything else is a prediction:

* ``iptables_partial_s_per_object``: L2, 5,000-node CL2 load test after KEP-3453 at
  ``--iptables-min-sync-period`` 10 s, network programming latency p50 ≈ 13 s. With syncs every
  10 s a change waits U(0, 10 s) then a whole sync, plus ≈ 0.5 s from the pod's change to the
  proxy: 13 = 0.5 + 5 + T, T = 7.5 s at CL2's 8,250 Services and 82,000 endpoints (O = 369,250);
* ``iptables_full_s_per_object``: the same test before KEP-3453 (every sync full), p50 ≈ 27 s:
  syncs run back to back (T > 10 s), a change waits half a sync then a whole one, 27 = 0.5 + 1.5 T;
* ``nftables_partial_s_per_element``: PR #126013, 10,000 Services x 2 endpoints, adding one
  Service took 141 ms;
* ``nftables_full_s_per_element``: issue #135639, 5,006 Services and 250,011 endpoints, a full
  sync took 13 min 15 s;
* ``ipvs_s_per_service``: L6 (third party, 2019): 0.8-1.5 ms per rule at any size.
"""

from __future__ import annotations

MODES = ("iptables", "nftables", "ipvs", "fixed")

CL2_5K_OBJECTS = 5 * 8_250 + 4 * 82_000
"""O of CL2's load test at 5,000 nodes (8,250 Services, 82,000 endpoints): the iptables anchors'."""
L2_AFTER_SYNC_S = 13.0 - 0.5 - 5.0
"""L2: the partial sync time behind a 13 s p50 at min-sync-period 10 s, seconds."""
L2_BEFORE_SYNC_S = (27.0 - 0.5) / 1.5
"""L2: the full sync time behind a 27 s p50 (back-to-back syncs), seconds."""
NFT_PARTIAL_ANCHOR = (0.141, 10_000 + 2 * 10_000)
"""PR #126013: (seconds, elements) of adding one Service to 10,000 Services x 2 endpoints."""
NFT_FULL_ANCHOR = (13 * 60 + 15.0, 5_006 + 250_011)
"""Issue #135639: (seconds, elements) of a full nftables sync."""


def objects(mode: str, services: int, endpoints: int, per_service: float, per_endpoint: float) -> float:
    """The size term of ``mode``: iptables rules and chains, nftables elements, else 0."""
    if mode == "iptables":
        return per_service * services + per_endpoint * endpoints
    if mode == "nftables":
        return float(services + endpoints)
    return 0.0


def sync_cost_s(cfg, services: int, endpoints: int, full: bool) -> float:
    """The size-dependent part of one sync, seconds (``t0`` excluded), for ``kubeproxy`` config
    ``cfg`` (:class:`~kbench.config.kubelet.KubeProxyConfig`)."""
    mode = cfg.mode
    if mode == "iptables":
        c = cfg.iptables_full_s_per_object if full else cfg.iptables_partial_s_per_object
    elif mode == "nftables":
        c = cfg.nftables_full_s_per_element if full else cfg.nftables_partial_s_per_element
    elif mode == "ipvs":
        return cfg.ipvs_s_per_service
    else:
        return 0.0
    return c * objects(mode, services, endpoints, cfg.objects_per_service, cfg.objects_per_endpoint)
