"""The families ``kbench calibrate metrics`` fits, one function per component.

| family | metrics | fields |
| --- | --- | --- |
| etcd disk | ``etcd_disk_wal_fsync_duration_seconds`` | ``etcd.fsync_s`` (lognormal, mean and p99) |
| etcd peers | ``etcd_network_peer_round_trip_time_seconds{To}`` | ``etcd.members``, ``etcd.rtt_s`` |
| etcd CPU | ``process_cpu_seconds_total``, ``grpc_server_handled_total``, fsync count, 3+ dumps | ``etcd.write_cpu_s``, ``etcd.batch_cpu_s``, ``etcd.read_base_s`` (non-negative least squares over windows) |
| etcd seen by the apiserver | ``etcd_request_duration_seconds{operation}`` | ``etcd.grpc_rtt_s`` (mean minus the server side) |
| apiserver handler | ``apiserver_request_sli_duration_seconds``, ``apiserver_response_sizes``, ``apiserver_storage_objects`` | ``apiserver.request_base_cpu_s``, ``admission_cpu_s``, ``list_cache_cpu_s_per_object``, ``encode_cpu_s_per_byte`` (weighted non-negative least squares over (verb, resource, scope)) |
| webhooks | ``apiserver_admission_webhook_admission_duration_seconds`` | ``apiserver.webhook_enabled``, ``webhook_s`` |
| APF | ``apiserver_flowcontrol_nominal_limit_seats`` | ``apiserver.flowcontrol.max_requests_inflight`` and ``max_mutating_requests_inflight`` (their sum) |
| scheduler | ``scheduler_scheduling_attempt_duration_seconds``, ``scheduler_framework_extension_point_duration_seconds`` | ``scheduler.cycle_base_s``, ``filter_node_s``, ``score_node_s``, ``preemption_node_s`` |

Handler latency equals CPU only at low utilisation: the fits assume the dumps come from a lightly
loaded control plane (docs/CALIBRATE.md says how to check).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kbench.calibrate.dists import dist_yaml, lognormal_from_histogram, lognormal_from_mean_sigma, rel
from kbench.calibrate.promtext import Scrape, pooled, windows
from kbench.config import ApiserverConfig, EtcdConfig
from kbench.config.calibration import check_calibration, format_duration
from kbench.config.loader import from_dict
from kbench.config.scheduler import SchedulerConfig

WRITE_OPS = ("create", "update", "delete")
"""``etcd_request_duration_seconds`` operations that write (upstream storage/etcd3 store.go)."""
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
KV = "etcdserverpb.KV"
CONDITION_LIMIT = 1e3
"""Above this condition number of the (column-scaled) design the coefficients are not separable."""


@dataclass
class Fits:
    """What the fitters found: the overlay, how each value was fitted, what was not, what was seen."""

    scenario: dict[str, Any] = field(default_factory=dict)
    fits: dict[str, dict] = field(default_factory=dict)
    not_fitted: dict[str, str] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)

    def set(self, path: str, value: Any, method: str, error: float | None, source: str) -> None:
        """Set ``path`` (``etcd.fsync_s``) to ``value`` (already in file units)."""
        node = self.scenario
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
        self.fits[path] = {"method": method, "error_rel": rel(error) if error is not None else None, "from": source}
        self.not_fitted.pop(path, None)

    def skip(self, path: str, why: str) -> None:
        """Record that ``path`` could not be fitted, and why."""
        if path not in self.fits:
            self.not_fitted[path] = why


def _hist_src(s: Scrape, family: str, count: float, **match: str) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in match.items())
    return f"{s.source}: {family}{{{labels}}} sum/count over {count:,.0f} observations"


# ------------------------------------------------------------------------------------------ etcd

def fit_etcd_metrics(dumps: list[Scrape], fits: Fits) -> None:
    """etcd disk, peers and CPU from etcd's own ``/metrics``."""
    s = pooled(dumps)
    fsync = s.histogram("etcd_disk_wal_fsync_duration_seconds")
    if fsync.count > 0:
        d = lognormal_from_histogram(fsync.mean, fsync.buckets)
        fits.set("etcd.fsync_s", dist_yaml(d), "lognormal: mean from sum/count, shape by binned likelihood (a "
                 "loaded etcd's fsync "
                 "includes waiting for a core; take dumps of a lightly loaded etcd)", 1 / math.sqrt(fsync.count),
                 _hist_src(s, "etcd_disk_wal_fsync_duration_seconds", fsync.count))
    else:
        fits.skip("etcd.fsync_s", "no etcd_disk_wal_fsync_duration_seconds observations")
    peers = s.label_values("etcd_network_peer_round_trip_time_seconds_count", "To")
    if peers:
        rtt = s.histogram("etcd_network_peer_round_trip_time_seconds")
        fits.set("etcd.members", len(peers) + 1, "observed: peers with a round-trip series + 1", 0.0,
                 f"{s.source}: etcd_network_peer_round_trip_time_seconds{{To}}: {len(peers)} peers")
        if rtt.count > 0:
            fits.set("etcd.rtt_s", dist_yaml(lognormal_from_histogram(rtt.mean, rtt.buckets)),
                     "lognormal: mean from sum/count, shape by binned likelihood, every peer", 1 / math.sqrt(rtt.count),
                     _hist_src(s, "etcd_network_peer_round_trip_time_seconds", rtt.count))
    else:
        fits.skip("etcd.members", "no etcd_network_peer_round_trip_time_seconds: one member, or no peer traffic")
        fits.skip("etcd.rtt_s", "no peer round trips in the dumps (one member says nothing about the network)")
    _fit_etcd_cpu(dumps, fits)


def _fit_etcd_cpu(dumps: list[Scrape], fits: Fits) -> None:
    rows, ys = [], []
    for w in windows(dumps):
        writes = sum(w.total("grpc_server_handled_total", grpc_service=KV, grpc_method=m)
                     for m in ("Put", "Txn", "DeleteRange"))
        reads = w.total("grpc_server_handled_total", grpc_service=KV, grpc_method="Range")
        rows.append([writes, w.histogram("etcd_disk_wal_fsync_duration_seconds").count, reads])
        ys.append(w.total("process_cpu_seconds_total"))
    paths = ("etcd.write_cpu_s", "etcd.batch_cpu_s", "etcd.read_base_s")
    if len(dumps) < 3:
        for p in paths:
            fits.skip(p, "needs 3 or more dumps of etcd (2+ windows): the CPU split needs windows at different loads")
        if len(dumps) == 2 and rows and rows[0][0] + rows[0][2] > 0:
            fits.observed["etcd_cpu_per_kv_request_s"] = format_duration(ys[0] / (rows[0][0] + rows[0][2]))
        return
    a, y = np.asarray(rows, dtype=float), np.asarray(ys, dtype=float)
    keep = [j for j in range(3) if a[:, j].any()]
    coef, cond = nnls_scaled(a[:, keep], y)
    src = f"{len(dumps) - 1} windows of etcd dumps: process_cpu_seconds_total on grpc_server_handled_total " \
          "(Put+Txn+DeleteRange, Range) and WAL fsyncs"
    for j, p in enumerate(paths):
        if j not in keep:
            fits.skip(p, "no such requests in the windows")
        elif cond > CONDITION_LIMIT or len(dumps) - 1 < len(keep):
            fits.skip(p, f"not separable: the windows' mix hardly varies (condition number {cond:.3g})")
        else:
            fits.set(p, format_duration(coef[keep.index(j)]), f"non-negative least squares (condition {cond:.3g})",
                     None, src)


def nnls_scaled(a: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Non-negative (weighted) least squares with column scaling; (coefficients, condition number)."""
    from scipy.optimize import nnls

    if w is not None:
        a, y = a * np.sqrt(w)[:, None], y * np.sqrt(w)
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    an = a / scale
    sv = np.linalg.svd(an, compute_uv=False)
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf
    x, _ = nnls(an, y)
    return x / scale, cond


# ------------------------------------------------------------------------------------- apiserver

def _etcd_mean(s: Scrape, ops: tuple[str, ...], resource: str | None = None) -> tuple[float, float]:
    """(mean seconds, count) of ``etcd_request_duration_seconds`` over ``ops`` (and ``resource``).

    Newer apiservers label the object by ``resource`` (and ``group``), older ones by ``type``."""
    total = count = 0.0
    for op in ops:
        for label in ("resource", "type"):
            match = {"operation": op} if resource is None else {"operation": op, label: resource}
            h = s.histogram("etcd_request_duration_seconds", **match)
            if h.count:
                total, count = total + h.sum, count + h.count
                break
    return (total / count if count else math.nan), count


def stored_objects(s: Scrape, group: str, resource: str) -> float:
    """Objects of a resource: ``apiserver_resource_objects{group, resource}`` (1.34 and later), else the
    deprecated ``apiserver_storage_objects{resource}`` whose value is ``resource.group`` outside the
    core group (upstream storage/etcd3/metrics/metrics.go); 0 when neither has it."""
    n = s.total("apiserver_resource_objects", group=group, resource=resource)
    if n <= 0:
        n = s.total("apiserver_storage_objects", resource=f"{resource}.{group}" if group else resource)
    return max(n, 0.0)


def _server_side(etcd_dumps: list[Scrape] | None, fits: Fits) -> tuple[float, str]:
    """etcd's own time for a write (seconds) and where it came from."""
    if etcd_dumps:
        e = pooled(etcd_dumps)
        h = e.histogram("grpc_server_handling_seconds", grpc_service=KV, grpc_method="Txn")
        if not h.count:
            h = e.histogram("grpc_server_handling_seconds", grpc_service=KV, grpc_method="Put")
        if h.count:
            return h.mean, f"grpc_server_handling_seconds (Txn/Put) mean {format_duration(h.mean)} of {e.source}"
    cfg = EtcdConfig()
    ov = fits.scenario.get("etcd", {})
    if ov:  # the values fitted so far, in model units
        fitted = check_calibration({"kind": "kbench-calibration", "version": 1, "scenario": {"etcd": ov},
                                    "fits": {f"etcd.{k}": {"method": "-"} for k in ov}})["etcd"]
        cfg = from_dict(EtcdConfig, fitted, "etcd")
    est = cfg.batch_cpu_s + expected_commit(cfg) + cfg.apply_per_entry_s
    return est, (f"the model's server side {format_duration(est)} (batch CPU + the quorum commit of fsyncs"
                 f"{'' if cfg.members == 1 else ' and member round trips'} + apply, fitted values where there are)")


def expected_commit(cfg: EtcdConfig, samples: int = 20_000) -> float:
    """Mean of the model's commit delay (seconds): the leader's fsync in parallel with the quorum's
    round trip + fsync (CALIBRATION B2, B19), by sampling the configured distributions (seeded)."""
    rng = np.random.default_rng(0)
    leader = cfg.fsync_s.sample(rng, samples)
    acks = cfg.members // 2
    if acks == 0:
        return float(leader.mean())
    follow = np.sort(np.stack([cfg.rtt_s.sample(rng, samples) + cfg.fsync_s.sample(rng, samples)
                               for _ in range(cfg.members - 1)]), axis=0)[acks - 1]
    return float(np.maximum(leader, follow).mean())


def fit_apiserver(dumps: list[Scrape], etcd_dumps: list[Scrape] | None, fits: Fits) -> None:
    """etcd's client round trip, the handler's CPU costs, webhooks and APF's server concurrency."""
    s = pooled(dumps)
    write_mean, n = _etcd_mean(s, WRITE_OPS)
    if n:
        server, how = _server_side(etcd_dumps, fits)
        g = max(write_mean - server, 1e-6)
        sigma = EtcdConfig().grpc_rtt_s.sigma
        fits.set("etcd.grpc_rtt_s", dist_yaml(lognormal_from_mean_sigma(g, sigma)),
                 "closed form: the apiserver's mean etcd write minus etcd's side (shape kept from B19)",
                 1 / math.sqrt(n), f"{s.source}: etcd_request_duration_seconds{{operation=create|update|delete}} "
                                   f"mean {format_duration(write_mean)} over {n:,.0f} writes - {how}")
    else:
        fits.skip("etcd.grpc_rtt_s", "no etcd_request_duration_seconds for writes in the apiserver dumps")
    _fit_handler(s, fits)
    web = s.histogram("apiserver_admission_webhook_admission_duration_seconds")
    if web.count:
        fits.set("apiserver.webhook_enabled", True, "observed", 0.0,
                 f"{s.source}: apiserver_admission_webhook_admission_duration_seconds has observations")
        fits.set("apiserver.webhook_s", dist_yaml(lognormal_from_histogram(web.mean, web.buckets)),
                 "lognormal: mean from sum/count, shape by binned likelihood, one webhook call", 1 / math.sqrt(web.count),
                 _hist_src(s, "apiserver_admission_webhook_admission_duration_seconds", web.count))
    else:
        fits.skip("apiserver.webhook_s", "no admission webhook calls in the dumps")
    seats = s.series("apiserver_flowcontrol_nominal_limit_seats")
    if seats:
        total = int(round(sum(v for _, v in seats)))
        fits.observed["apf_nominal_limit_seats"] = {lab.get("priority_level", "?"): v for lab, v in seats}
        default = ApiserverConfig().flowcontrol
        if abs(total - default.max_requests_inflight - default.max_mutating_requests_inflight) > 0.02 * total:
            mutating = total // 3
            src = f"{s.source}: sum of apiserver_flowcontrol_nominal_limit_seats over {len(seats)} levels = {total}"
            how = "observed: the server concurrency limit (A3) is the sum of NominalCL (rounding: +-1 per level)"
            fits.set("apiserver.flowcontrol.max_requests_inflight", total - mutating,
                     how + "; the read-only/mutating split (2:1, A1/A2) is not in the metrics", None, src)
            fits.set("apiserver.flowcontrol.max_mutating_requests_inflight", mutating, how, None, src)
    else:
        fits.skip("apiserver.flowcontrol.max_requests_inflight", "no apiserver_flowcontrol_nominal_limit_seats")
    fits.skip("apiserver.cores", "the apiserver's cores are not in its metrics")


def _fit_handler(s: Scrape, fits: Fits) -> None:
    """Weighted least squares of handler latency on [1, mutating, cache objects, bytes] (module docstring)."""
    cfg = ApiserverConfig()
    sli = "apiserver_request_sli_duration_seconds"
    if not s.has(sli):
        sli = "apiserver_request_duration_seconds"
    rows, ys, ws = [], [], []
    cells = sorted({(lab.get("verb", ""), lab.get("resource", ""), lab.get("subresource", ""), lab.get("scope", ""),
                     lab.get("group", "")) for lab, _ in s.series(sli + "_count")})
    sizes = s.has("apiserver_response_sizes")
    objects_known = s.has("apiserver_resource_objects") or s.has("apiserver_storage_objects")
    lists_left = 0
    for verb, res, sub, scope, group in cells:
        if verb in ("WATCH", "CONNECT", "") or sub:
            continue
        h = s.histogram(sli, verb=verb, resource=res, subresource=sub, scope=scope)
        if h.count <= 0:
            continue
        if verb == "LIST" and not objects_known:  # its cost depends on a count the dumps do not give
            lists_left += 1
            continue
        size = s.histogram("apiserver_response_sizes", verb=verb, resource=res, scope=scope).mean if sizes else 0.0
        size = 0.0 if size != size else size
        offset = size / cfg.network_bytes_per_s
        mutating = verb in MUTATING
        if mutating:
            em, en = _etcd_mean(s, WRITE_OPS, res)
            offset += em if en else 0.0
            cache_objects = 0.0
        else:
            op = "list" if verb == "LIST" else "get"
            em, en = _etcd_mean(s, (op,), res)
            share = min(1.0, en / h.count) if en else 0.0
            objects = stored_objects(s, group, res) if verb == "LIST" else 1.0
            offset += share * ((em if en else 0.0) + objects * cfg.list_etcd_cpu_s_per_object)
            cache_objects = (1 - share) * objects
        rows.append([1.0, 1.0 if mutating else 0.0, cache_objects, size])
        ys.append(h.mean - offset)
        ws.append(h.count)
    paths = ("apiserver.request_base_cpu_s", "apiserver.admission_cpu_s", "apiserver.list_cache_cpu_s_per_object",
             "apiserver.encode_cpu_s_per_byte")
    if lists_left:
        fits.observed["apiserver_lists_not_fitted"] = (f"{lists_left} LIST cells left out: no apiserver_resource_objects"
                                                       " or apiserver_storage_objects to count their objects")
    if len(rows) < 2:
        for p in paths:
            fits.skip(p, f"fewer than 2 usable (verb, resource, scope) cells in {sli}")
        return
    a, y, w = np.asarray(rows), np.asarray(ys), np.asarray(ws, dtype=float)
    why = {1: "no mutating and read cells to tell apart",
           2: "no LIST served from the cache with a known object count (a cached GET's one object is folded "
              "into request_base_cpu_s)",
           3: "no apiserver_response_sizes (upstream observes GET and LIST only)"}
    has = {1: a[:, 1].any() and not a[:, 1].all(), 2: bool((a[:, 2] > 1).any()), 3: bool(a[:, 3].any())}
    keep = [0] + [j for j in (1, 2, 3) if has[j]]
    free = unidentified(a[:, keep], w)
    src = (f"{s.source}: {sli} mean per (verb, resource, scope) over {len(rows)} cells, minus etcd "
           "(etcd_request_duration_seconds) and transfer" + (", bytes from apiserver_response_sizes" if sizes else "")
           + (", objects from apiserver_resource_objects or apiserver_storage_objects" if objects_known else ""))
    if free:
        coef = np.linalg.lstsq(a[:, keep] * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
        cond = math.inf
    else:
        coef, cond = nnls_scaled(a[:, keep], y, w)
    for j, p in enumerate(paths):
        if j not in keep:
            fits.skip(p, why[j])
            continue
        i = keep.index(j)
        others = [paths[keep[k]].split(".")[-1] for k in free if k != i]
        if i in free:
            fits.skip(p, f"jointly fitted with {', '.join(others)}: not separable from these {len(rows)} cells")
        elif cond > CONDITION_LIMIT and not free:
            fits.skip(p, f"ill-conditioned ({cond:.3g}): the cells hardly vary in this")
        elif coef[i] < 0:
            fits.skip(p, f"fitted negative ({coef[i]:.3g} s): the cells disagree with the cost model")
        else:
            fits.set(p, format_duration(float(coef[i])), f"weighted least squares over {len(rows)} cells (condition "
                     f"{cond:.3g}; handler latency taken as CPU: low utilisation)", None, src)


def unidentified(a: np.ndarray, w: np.ndarray | None = None) -> list[int]:
    """Columns of ``a`` whose coefficient the rows cannot pin down (they move in its null space)."""
    if w is not None:
        a = a * np.sqrt(w)[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    _u, sv, vt = np.linalg.svd(a / scale)
    rank = int((sv > sv[0] * 1e-9).sum()) if sv.size else 0
    null = vt[rank:]
    return [j for j in range(a.shape[1]) if null.size and np.abs(null[:, j]).max() > 1e-8]


# ------------------------------------------------------------------------------------- scheduler

def fit_scheduler(dumps: list[Scrape], api_dumps: list[Scrape] | None, nodes: int | None, fits: Fits) -> None:
    """The cycle cost model from attempt and extension-point durations (SchedulerConfig's docstring)."""
    from kbench.policy.framework import num_feasible_nodes_to_find

    s = pooled(dumps)
    paths = ("scheduler.cycle_base_s", "scheduler.filter_node_s", "scheduler.score_node_s")
    att = s.histogram("scheduler_scheduling_attempt_duration_seconds", result="scheduled")
    n_nodes = nodes
    if n_nodes is None and api_dumps:
        n_nodes = int(stored_objects(pooled(api_dumps), "", "nodes")) or None
    if att.count <= 0 or not n_nodes:
        for p in paths:
            fits.skip(p, "no scheduled attempts" if att.count <= 0 else
                      "the node count is unknown: give --nodes or an apiserver dump with apiserver_storage_objects")
        return
    evaluated = num_feasible_nodes_to_find(n_nodes)
    ext = "scheduler_framework_extension_point_duration_seconds"

    def point(name: str) -> float:
        return s.histogram(ext, extension_point=name).mean

    bind, bind_src = point("Bind"), f"{ext}{{extension_point=Bind}}"
    if bind != bind and api_dumps:
        bind = pooled(api_dumps).histogram("apiserver_request_sli_duration_seconds", verb="POST", resource="pods",
                                          subresource="binding").mean
        bind_src = "apiserver_request_sli_duration_seconds{verb=POST,resource=pods,subresource=binding}"
    if bind != bind:
        bind, bind_src = 0.0, "no bind latency in the dumps (taken as 0)"
    cycle = att.mean - bind
    src = (f"{s.source}: scheduler_scheduling_attempt_duration_seconds{{result=scheduled}} mean "
           f"{format_duration(att.mean)} over {att.count:,.0f} attempts - bind ({bind_src}); {n_nodes} nodes, "
           f"{evaluated} evaluated and scored (D3/D4, all feasible as in D8)")
    filt, score = point("Filter"), point("Score")
    err = 1 / math.sqrt(att.count)
    if filt == filt and score == score:
        base = max(cycle - filt - score, 0.0)
        fits.set(paths[0], format_duration(base), "closed form: attempt - Filter - Score - bind", err, src)
        fits.set(paths[1], format_duration(filt / evaluated), "closed form: Filter mean / nodes evaluated", err,
                 src + f"; {ext}{{extension_point=Filter}}")
        fits.set(paths[2], format_duration(score / evaluated), "closed form: Score mean / nodes scored", err,
                 src + f"; {ext}{{extension_point=Score}}")
        post = point("PostFilter")
        if post == post:
            fits.set("scheduler.preemption_node_s", format_duration(post / evaluated),
                     "closed form: PostFilter mean / nodes evaluated", None, src)
        else:
            fits.skip("scheduler.preemption_node_s", "no PostFilter (preemption) durations")
    else:
        d = SchedulerConfig()
        k = cycle / (d.cycle_base_s + (d.filter_node_s + d.score_node_s) * evaluated)
        how = (f"scaled: kbench's split (D8) times {k:.3g} so that the cycle matches; no "
               f"{ext} for Filter and Score, so base and per-node costs are not separated")
        for p, v in zip(paths, (d.cycle_base_s, d.filter_node_s, d.score_node_s), strict=True):
            fits.set(p, format_duration(v * k), how, err, src)
        fits.skip("scheduler.preemption_node_s", "no PostFilter (preemption) durations")
    # These are the linear model's constants: without switching to it a run under the calibration would
    # keep the default work model (issue 17) and silently not use them.
    fits.set("scheduler.cost_model", "linear", "chosen: the fitted cycle_base_s, filter_node_s and score_node_s "
             "are the linear model's; the work model's per-plugin constants cannot be separated from these "
             "families (attempt duration and per-extension-point means)", None, src)
