"""The etcd model against a real etcd (issue 20's acceptance): calibrated on 1 and 4 closed-loop
clients, it must predict 16 and 64 clients: throughput within 25 %, mean latency within 35 %.

A single etcd member is started on free 127.0.0.1 ports with a temporary data dir and stopped at
the end (kbench/calibrate/localetcd.py). The test skips only when there is no etcd binary (Debian's
``etcd-server``, or ``$KBENCH_ETCD``), and fails instead when ``CI`` is set: CI installs it
(.ci/run). On a developer's machine busy with other work in every window (the load generator
screens the CPU of other processes) the measurement is of that work, not of etcd: the test then
reports the table as inconclusive and skips, unless ``CI`` is set. The machine's speed drifts by
10-30 % over tens of seconds (a virtual machine's neighbours; two CI runs measured 16 clients 40 %
below this machine's usual figure, then 64 clients at the usual one): the calibration's points (1,
4 clients) and the predicted ones (16, 64) are therefore measured in 5 rounds, one 6 s window of
each point per round (kbench/calibrate/live.py ``measure_points``), so that both sample the same
stretch of time, in short enough slices that a slow minute falls on every point. It takes about 2.9
minutes: 5 rounds x 4 points x (2 s warm-up + 6 s), the fits and the predictions; ``make test-live`` runs it alone.
The local etcd prints Go's scheduler trace, and the fit leaves the runtime's idle spinning out of the
CPU per put (kbench/calibrate/gosched.py; docs/CALIBRATE.md has why: without it the prediction at 64
clients ran 9-17 % low on a quiet machine and 26-28 % low in three slow-hour runs). On failure the message has the table (measured,
predicted, error), the etcd version and the CPU figures.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from kbench.calibrate.localetcd import LocalEtcd, find_etcd

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def local_etcd(tmp_path_factory):
    binary = find_etcd()
    if not binary:
        why = "no etcd binary on PATH (apt-get install etcd-server, or set KBENCH_ETCD)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the live etcd test: {why}")
        pytest.skip(why)
    with LocalEtcd(binary, parent=tmp_path_factory.mktemp("etcd")) as etcd:
        yield etcd


def _table(records, version: str) -> str:
    lines = [f"etcd: {version}", f"{'check':34s} {'measured':>11s} {'predicted':>11s} {'error':>8s}  note"]
    for r in records:
        lines.append(f"{r.name:34s} {r.expected:11.4g} {r.simulated:11.4g} {r.error:+8.1%}  "
                     f"{'pass' if r.passed else 'FAIL'} {r.kind} {r.note}")
    return "\n".join(lines)


def test_live_etcd_predicts_16_and_64_clients(local_etcd):
    from kbench.validate.etcdlive import check_live_etcd

    records = check_live_etcd(local_etcd.url, duration_s=6.0, repeat=5, sched=local_etcd.sched, say=print)
    table = _table(records, local_etcd.version)
    print(table)
    live = {r.name: r for r in records if r.kind != "info"}
    if any(r.extra.get("machine_busy") for r in live.values()) and not os.environ.get("CI"):
        # Other work used the CPU in every window: the figures are of a busy machine, not of etcd, so
        # they can neither confirm nor refute the model. CI runs alone and must pass.
        pytest.skip("inconclusive: the machine was busy with other processes in every window\n" + table)
    drift = [r for r in records if r.extra.get("machine_drift")]
    assert not drift, table  # calibrated here, in the same rounds: no control point, no drift to report
    assert sorted(live) == sorted(f"etcd/live_{what}_{n}_clients" for what in ("throughput", "latency")
                                  for n in (16, 64)), table
    assert all(r.passed for r in live.values()), table


def test_calibrate_cli_writes_a_calibration_that_runs(local_etcd, tmp_path):
    """kbench calibrate etcd end to end (short windows), then the file drives kbench validate's etcd family."""
    from kbench.cli import app
    from kbench.config.calibration import load_calibration

    out = tmp_path / "cal.yaml"
    res = CliRunner().invoke(app, ["calibrate", "etcd", "--endpoints", local_etcd.url, "--clients", "1,2",
                                   "--duration", "1s", "--warmup", "0.5s", "--repeat", "1", "--ops", "put,range",
                                   "--go-schedtrace", str(local_etcd.sched.path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    cal = load_calibration(out)
    assert "GODEBUG=schedtrace, mean of" in cal.content["fits"]["etcd.write_cpu_s"]["from"]
    assert all(p["spin_cores"] is not None for p in cal.content["points"] if p["op"] == "put")
    assert not any("counted as write CPU" in n for n in cal.content["notes"])
    etcd = cal.overlay["etcd"]
    assert etcd["members"] == 1 and etcd["cores"] == os.cpu_count()
    assert 0 <= etcd["write_cpu_s"] < 0.01 and 0 <= etcd["batch_cpu_s"] < 0.01  # 1 s windows: rough
    assert cal.content["testbed"]["client_packing"].startswith("one process per client")
    assert cal.content["source"]["etcd_version"] == local_etcd.version.split()[-1]
    assert "etcd.rtt_s" in cal.content["not_fitted"]  # one member says nothing about the network
    res = CliRunner().invoke(app, ["validate", "--quick", "--only", "etcd", "--calibration", str(out), "-o", "json"])
    assert res.exit_code == 0, res.output
    assert '"kind": "info"' in res.output  # B4 is other hardware under a calibration
