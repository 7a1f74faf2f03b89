"""Report figures: pure functions from DataFrames to plotly figures, checked on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kbench.report import expfigures as X
from kbench.report import figures as F
from kbench.report import syncfigures as S
from kbench.report.base import caption_of, cdf_xy, esc, wide_span

PHASE_COLS = ["created_s", "first_attempt_s", "scheduled_s", "bound_s", "kubelet_seen_s", "sandbox_ready_s",
              "image_pulled_s", "started_s", "running_observed_s"]


def pods_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.exponential([0.5, 0.01, 0.005, 0.02, 0.1, 0.3, 0.8, 0.2, 0.05], size=(n, 9))
    steps[:, 0] = np.sort(rng.uniform(0, 60, n))
    t = np.cumsum(steps, axis=1)
    df = pd.DataFrame(t, columns=PHASE_COLS)
    df["image_pull_s"] = steps[:, 6]
    df["node"] = [f"node-{i % 4}" for i in range(n)]
    df["finished_s"] = np.where(np.arange(n) % 2 == 0, df["running_observed_s"] + 5.0, np.nan)
    df["deleted_s"] = np.nan
    return df


def assert_labelled(fig):
    assert fig.layout.title.text
    assert caption_of(fig).endswith((".", ".)"))
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_cdf_xy_is_a_distribution_and_drops_nan():
    x, y = cdf_xy([3.0, np.nan, 1.0, 2.0])
    assert list(x) == [1.0, 2.0, 3.0] and y[-1] == 1.0
    x, y = cdf_xy(np.arange(10_000.0), points=50)
    assert len(x) == 50 and x[0] == 0 and x[-1] == 9999 and np.all(np.diff(x) >= 0)


def test_wide_span_and_esc():
    assert wide_span([0.01, 5.0]) and not wide_span([1.0, 50.0]) and not wide_span([0.0, 1e6])
    assert esc("<script>&") == "&lt;script&gt;&amp;"


def test_startup_cdf_has_every_milestone_and_the_slo_curve():
    fig = F.startup_cdf(pods_frame())
    names = [t.name for t in fig.data]
    assert "bound" in names and "Running observed" in names
    assert any("SLO" in n for n in names)
    for t in fig.data:
        assert t.y[-1] == 1.0 and np.all(np.diff(t.x) >= 0)
    assert_labelled(fig)


def test_startup_breakdown_segments_add_up_to_the_end_to_end_mean():
    pods = pods_frame()
    fig = F.startup_breakdown(pods)
    assert [t.name for t in fig.data] == [s[0] for s in F.SEGMENTS]
    total = sum(t.x[0] for t in fig.data)  # the "all pods" bar
    assert total == pytest.approx((pods["running_observed_s"] - pods["created_s"]).mean())
    slow = sum(t.x[-1] for t in fig.data)
    assert slow > total  # the slowest 1 % bar is longer than the average
    assert_labelled(fig)


def test_breakdown_treats_a_skipped_phase_as_zero():
    pods = pods_frame(20)
    pods["first_attempt_s"] = np.nan
    fig = F.startup_breakdown(pods)
    assert fig.data[0].x[0] == 0.0  # queue wait: no first attempt recorded
    assert sum(t.x[0] for t in fig.data) == pytest.approx((pods["running_observed_s"] - pods["created_s"]).mean())


def test_missing_pods_raise_missing_data():
    with pytest.raises(F.MissingData):
        F.startup_cdf(pd.DataFrame())
    with pytest.raises(F.MissingData):
        F.scheduler_throughput(None)


def test_scheduler_throughput_counts_every_binding():
    pods = pods_frame(300)
    fig = F.scheduler_throughput(pods, bins=30)
    bound = fig.data[0]
    step = bound.x[1] - bound.x[0]
    assert sum(bound.y) * step == pytest.approx(300)
    waiting = fig.data[1].y
    assert waiting.min() >= 0 and waiting[-1] == 0  # every pod got bound
    assert fig.layout.yaxis.title.text == "throughput (pods/s)"


def requests_frame():
    bounds = [0.001, 0.01, 0.1, 1.0, float("inf")]
    rows = [("create", "pods", [0, 90, 9, 1, 0]), ("get", "nodes", [100, 0, 0, 0, 0]),
            ("list", "pods", [0, 0, 0, 0, 5]), ("watch", "pods", [10, 0, 0, 0, 0])]
    recs = []
    for verb, res, counts in rows:
        rec = {"verb": verb, "resource": res, "client": "c", "level": "workload-low", "count": sum(counts),
               "rejected_429": 2 if verb == "create" else 0}
        rec.update({f"sli_le_{b:g}": int(c) for b, c in zip(bounds, np.cumsum(counts), strict=True)})  # cumulative
        recs.append(rec)
    return pd.DataFrame(recs)


def test_api_latency_percentiles_from_buckets_and_slo_lines():
    fig = F.api_latency(requests_frame())
    p50, p99 = fig.data[0], fig.data[2]
    assert (p50.name, p99.name) == ("p50", "p99")
    ys = list(p50.y)
    assert "watch pods" not in ys and "create pods" in ys
    i = ys.index("create pods")
    assert p50.x[i] == 0.01 and p99.x[i] == 0.1
    assert p99.x[ys.index("list pods")] == 2.0  # +Inf bucket drawn at twice the last bound
    assert fig.layout.xaxis.type == "log"
    slo = [t for t in fig.data if t.name.startswith("SLO")]
    assert [list(t.x) for t in slo] == [[1.0, 1.0], [30.0, 30.0]]  # the SLO lines


def series_frame():
    t = np.arange(0.0, 10.0)
    rows = []
    for lv, rej in (("a", np.zeros(10)), ("b", np.cumsum(np.r_[0, np.ones(9) * 2]))):
        rows += [{"time_s": x, "metric": "apf_rejected_total", "labels": f"level={lv}", "value": v}
                 for x, v in zip(t, rej, strict=True)]
        rows += [{"time_s": x, "metric": "apf_seats_in_use", "labels": f"level={lv}", "value": 1.0 if lv == "b" else 0.0}
                 for x in t]
    rows += [{"time_s": x, "metric": "etcd_writes_total", "labels": "", "value": 10.0 * x} for x in t]
    rows += [{"time_s": x, "metric": "etcd_write_latency_sum_s", "labels": "", "value": 0.05 * x} for x in t]
    rows += [{"time_s": x, "metric": "etcd_db_size_bytes", "labels": "", "value": 1e6 * (x + 1)} for x in t]
    return pd.DataFrame(rows)


def test_apf_rejections_are_rates_from_the_cumulative_series():
    fig = F.apf_rejections(series_frame())
    assert [t.name for t in fig.data] == ["b"]  # level a never rejected
    assert list(fig.data[0].y) == [2.0] * 9
    assert "per s" in fig.layout.yaxis.title.text


def test_apf_rejections_fall_back_to_totals_and_say_so():
    fig = F.apf_rejections(None, requests_frame())
    assert list(fig.data[0].y) == [2] and "whole run" in fig.layout.title.text
    assert "no per-time" in caption_of(fig)


def test_apf_seats_leave_out_idle_levels():
    fig = F.apf_seats(series_frame())
    assert [t.name for t in fig.data] == ["b"]


def test_apf_seats_are_interval_means_of_the_seat_seconds_integral():
    """A level that served 0.2 s requests holding 1 seat, 3 per second: 0.6 seat-seconds each second, so
    0.6 mean seats, although a point sample on the second would often see 0 (the issue's node-high)."""
    t = np.arange(0.0, 6.0)
    rows = [{"time_s": x, "metric": "apf_seat_seconds_total", "labels": "level=node-high", "value": 0.6 * x}
            for x in t]
    rows += [{"time_s": x, "metric": "apf_seat_seconds_total", "labels": "level=catch-all", "value": 0.0} for x in t]
    rows += [{"time_s": x, "metric": "apf_seats_in_use", "labels": "level=node-high", "value": 0.0} for x in t]
    fig = F.apf_seats(pd.DataFrame(rows))
    assert [tr.name for tr in fig.data] == ["node-high"] and np.allclose(fig.data[0].y, 0.6)
    assert "mean per 1 s" in fig.layout.title.text and "catch-all" in caption_of(fig)


@pytest.mark.parametrize(("fn", "metric", "what"), [
    (F.apf_seats, "apf_seat_seconds_total", "no priority level held a seat"),
    (F.apf_queues, "apf_queue_request_seconds_total", "no request waited in an APF queue"),
    (F.apf_rejections, "apf_rejected_total", "no request was rejected by APF"),
])
def test_all_zero_panels_say_what_was_zero(fn, metric, what):
    from kbench.report.base import AllZero

    rows = [{"time_s": x, "metric": metric, "labels": f"level={lv}", "value": 0.0}
            for x in range(5) for lv in ("a", "b")]
    with pytest.raises(AllZero, match=what):
        fn(pd.DataFrame(rows))


def test_etcd_mean_write_latency_per_interval():
    fig = F.etcd(series_frame())
    lat = fig.data[0]
    assert np.allclose(lat.y, 5.0)  # 0.05 s per 10 writes = 5 ms each
    assert fig.data[1].y[0] == 1.0  # DB size in MB
    only_size = series_frame().query("metric == 'etcd_db_size_bytes'")
    fig2 = F.etcd(only_size)
    assert len(fig2.data) == 1 and "no write-latency series" in caption_of(fig2)


def test_node_allocation_counts_pods_alive_on_each_node():
    pods = pd.DataFrame({"node": ["n1", "n1", "n2", ""], "bound_s": [0.0, 5.0, 1.0, np.nan],
                         "finished_s": [np.nan, 8.0, np.nan, np.nan], "deleted_s": [np.nan] * 4})
    fig = F.node_allocation(pods, times=11)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2, 11)
    x = np.asarray(fig.data[0].x)
    i6 = int(np.argmin(np.abs(x - 6.0)))
    assert z[0, i6] == 2 and z[1, i6] == 1  # n1 is busiest: two pods alive at t = 6
    assert z[0, -1] == 1  # the second pod on n1 finished at t = 8
    big = pd.DataFrame({"node": [f"n{i}" for i in range(500)], "bound_s": np.zeros(500)})
    assert np.asarray(F.node_allocation(big, max_rows=50).data[0].z).shape[0] == 50


def test_gpu_figure_only_where_gpus_exist():
    with pytest.raises(F.MissingData, match="no GPUs"):
        F.gpu_fragmentation(None, {"pods": {}})
    fgd = pd.DataFrame({"t_s": [0, 1, 2], "arrived_milli": [0, 1000, 2000], "allocated_milli": [0, 1000, 1500],
                        "frag_milli": [0, 100, 200], "idle_milli": [2000, 1000, 500]})
    fig = F.gpu_fragmentation(fgd)
    assert list(fig.data[1].y) == pytest.approx([0, 5, 10])
    fig2 = F.gpu_fragmentation(None, {"gpu": {"unallocated_pct_at_arrived": {"0": 100.0, "50": 60.0}}})
    assert list(fig2.data[0].y) == [0.0, 40.0]


def test_unit_of():
    assert X.unit_of("pod_startup_s.p99") == "s"
    assert X.unit_of("scheduling.throughput_pods_per_s") == "pods/s"
    assert X.unit_of("gpu.unallocated_pct_at_arrived.100") == "%"
    assert X.unit_of("api.requests") == "value"


def test_comparison_metric_error_bars_are_the_confidence_interval(evil_comparison):
    import json

    comp = json.loads((evil_comparison / "comparison.json").read_text())
    m = "pod_startup_s.p99"
    fig = X.comparison_metric(comp, m)
    med = fig.data[0]
    assert list(med.x) == [esc(p) for p in comp["ranking"][m]]
    for i, p in enumerate(comp["ranking"][m]):
        v = comp["metrics"][m][p]
        assert med.y[i] == v["median"]
        assert med.error_y.array[i] == pytest.approx(v["ci_high"] - v["median"])
        assert med.error_y.arrayminus[i] == pytest.approx(v["median"] - v["ci_low"])
    assert len(fig.data[1].y) == 18  # every seed's value, 3 policies × 6 seeds
    with pytest.raises(X.MissingData):
        X.comparison_metric(comp, "nope")


def test_sweep_metric_lines_bands_and_log_axes(sweep_folder):
    cells = pd.read_parquet(sweep_folder / "cells.parquet")
    fig = X.sweep_metric(cells, "pod_startup_s.p99", "nodes")
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(lines) == 4  # 2 policies × 2 qps values
    assert bands and all(len(b.x) == 8 for b in bands)
    assert fig.layout.xaxis.type == "log"  # 10 .. 10000 nodes
    assert fig.layout.yaxis.type == "log"
    line = next(t for t in lines if t.name == "default, qps=5")
    assert list(line.x) == [10, 100, 1000, 10000]
    assert line.y[0] == pytest.approx(0.05 + 0.1 + 0.02)  # the median seed
    fig2 = X.sweep_metric(cells, "scheduling.throughput_pods_per_s", "qps")
    assert fig2.layout.xaxis.type != "log"
    with pytest.raises(X.MissingData):
        X.sweep_metric(cells, "nope", "nodes")


def sync_summaries():
    out = []
    for strat, cpu, stale in (("poll", 80.0, 5.0), ("list-watch", 10.0, 0.01)):
        for clients in (10, 100, 1000):
            out.append({"strategy": strat, "clients": clients, "virtual_s": 100.0,
                        "apiserver": {"cpu_s": cpu * clients / 100, "bytes_per_s": 1e6 * clients},
                        "staleness_s": {"p50": stale, "p99": stale * 2, "max": stale * 3}})
    return out


def test_sync_cost_and_staleness_against_clients():
    fig = S.sync_cost(sync_summaries())
    poll = next(t for t in fig.data if t.name == "poll" and t.xaxis == "x")
    assert list(poll.x) == [10, 100, 1000] and list(poll.y) == pytest.approx([0.08, 0.8, 8.0])
    assert fig.layout.xaxis.type == "log"
    st = S.sync_staleness(sync_summaries())
    assert {t.name for t in st.data} >= {"poll p99", "list-watch p99"}
    assert st.layout.yaxis.type == "log"
    with pytest.raises(X.MissingData):
        S.sync_staleness([{"strategy": "poll", "clients": 5, "staleness_s": {}}])


def test_sync_figures_with_one_client_count_never_put_bars_on_a_log_axis():
    """One client count: bars on a linear axis, or, when the values span two decades (a log axis), dots:
    a bar on a log axis starts at an arbitrary floor and hides the smaller strategy."""
    runs = [s for s in sync_summaries() if s["clients"] == 100]
    fig = S.sync_cost(runs)  # CPU per panel (apiserver, etcd) on linear axes: bars
    assert {t.type for t in fig.data} == {"bar"} and fig.layout.yaxis.type != "log"
    colours = {(t.name, t.marker.color) for t in fig.data}
    assert len(colours) == 2  # one colour per strategy, the same in both panels
    st = S.sync_staleness(runs)  # 0.01 .. 15 s: log, dots
    assert {t.type for t in st.data} == {"scatter"} and {t.mode for t in st.data} == {"markers"}
    assert st.layout.yaxis.type == "log"
    poll = next(t for t in st.data if t.name == "poll")
    assert list(poll.x) == ["p50", "p99", "max"] and list(poll.y) == [5.0, 10.0, 15.0]
    close = [{**s, "apiserver": {"cpu_s": 100.0 + 50 * i, "bytes_per_s": 2e6}, "staleness_s": {"p50": 1, "p99": 2, "max": 3}}
             for i, s in enumerate(runs)]
    lin = S.sync_cost(close)
    assert {t.type for t in lin.data} == {"bar"} and lin.layout.yaxis.type != "log"
    assert {t.type for t in S.sync_staleness(close).data} == {"bar"}


def test_sync_cost_shows_the_gzip_share_of_the_apiserver_cpu():
    """A poller's compression CPU (cpu_s_by_kind.gzip, I31) is drawn as its own dotted line on the
    apiserver panel; a strategy without any gets none."""
    runs = sync_summaries()
    for s in runs:
        if s["strategy"] == "poll":
            s["apiserver"]["cpu_s_by_kind"] = {"gzip": s["apiserver"]["cpu_s"] / 2}
    fig = S.sync_cost(runs)
    gz = [t for t in fig.data if t.name.endswith("(of which gzip)")]
    assert [t.name for t in gz] == ["poll (of which gzip)"]
    assert gz[0].line.dash == "dot" and gz[0].xaxis == "x"
    assert list(gz[0].y) == pytest.approx([0.04, 0.4, 4.0])
    assert not [t for t in S.sync_cost(sync_summaries()).data if "gzip" in t.name]
