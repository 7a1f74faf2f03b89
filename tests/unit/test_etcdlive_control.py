"""The live etcd check's control point (kbench/validate/etcdlive.py): a machine that changed speed
between the calibration and the end of the predictions is flagged, one that did not is not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kbench.validate import etcdlive


def _point(throughput: float):
    median = SimpleNamespace(throughput=throughput, client_cpu_cores=0.5,
                             per_request=lambda cores: cores / throughput)
    return SimpleNamespace(median=median)


@pytest.mark.parametrize(("now", "drift"), [(3000.0, False), (3400.0, False), (3500.0, True), (2500.0, True)])
def test_control_flags_a_machine_that_changed_speed(monkeypatch, now, drift):
    asked = []

    def fake_run_point(lead, clients, op, **kw):
        asked.append((clients, op, kw["windows"]))
        return _point(now)

    monkeypatch.setattr(etcdlive, "run_point", fake_run_point)
    doc = {"points": [{"op": "put", "clients": 1, "throughput_per_s": 1400.0},
                      {"op": "put", "clients": 4, "throughput_per_s": 3000.0},
                      {"op": "range", "clients": 8, "throughput_per_s": 9000.0}]}
    [rec] = etcdlive._control(None, doc, b"/p/", 10.0, 2.0, "src", None)
    assert asked == [(4, "put", 1)]  # the highest put point, once
    assert rec.name == "etcd/live_control_throughput_4_clients" and rec.kind == "info"
    assert rec.expected == now and rec.simulated == 3000.0
    assert rec.extra["machine_drift"] is drift
    assert ("MACHINE DRIFT" in rec.note) is drift


def test_no_control_without_put_points(monkeypatch):
    monkeypatch.setattr(etcdlive, "run_point", lambda *a, **k: pytest.fail("measured without a calibration point"))
    assert etcdlive._control(None, {"points": []}, b"/p/", 10.0, 2.0, "src", None) == []
