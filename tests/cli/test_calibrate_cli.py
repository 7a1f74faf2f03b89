"""``kbench calibrate`` and ``kbench validate --live-etcd`` on the command line: bad input is one
``error:`` line and exit 2, never a traceback; a real etcd dump calibrates."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kbench.cli import app

ETCD_DUMP = Path(__file__).parent.parent / "fixtures" / "metrics" / "etcd-3.4.23.prom"
runner = CliRunner()


@pytest.fixture
def closed_port():
    """A port that was bound and closed without listening: connections to it are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("args", [
    ["calibrate", "etcd", "--endpoints", "http://127.0.0.1:{port}"],
    ["calibrate", "etcd", "--endpoints", "http://127.0.0.1:{port}", "--clients", "1,4,16"],
    ["validate", "--live-etcd", "http://127.0.0.1:{port}"],
])
def test_closed_port_is_one_line_exit_2(closed_port, args):
    res = runner.invoke(app, [a.format(port=closed_port) for a in args])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: cannot reach etcd at http://127.0.0.1:{closed_port}: connection refused"]
    assert res.exception is None or isinstance(res.exception, SystemExit)


@pytest.mark.parametrize("args, says", [
    (["calibrate", "etcd", "--endpoints", "etcd:2379"], "expected http://HOST:PORT"),
    (["calibrate", "etcd", "--endpoints", "http://127.0.0.1:1", "--clients", "1"], "need two client counts"),
    (["calibrate", "etcd", "--endpoints", "http://127.0.0.1:1", "--clients", "a,b"], "expected whole numbers"),
    (["calibrate", "etcd", "--endpoints", "http://127.0.0.1:1", "--duration", "soon"], "--duration"),
    (["calibrate", "etcd", "--endpoints", "http://127.0.0.1:1", "-o", "xml"], "-o xml"),
    (["calibrate", "metrics", "missing.prom"], "missing.prom: no such file"),
    (["validate", "--only", "etcd-live"], "needs --live-etcd"),
    (["calibrate", "etcd", "--endpoints", "http://127.0.0.1:1", "--go-schedtrace", "missing.log"],
     "--go-schedtrace: no such file: missing.log"),
    (["validate", "--live-etcd", "http://127.0.0.1:1", "--go-schedtrace", "missing.log"],
     "--go-schedtrace: no such file: missing.log"),
])
def test_bad_input_is_one_line_exit_2(args, says):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert says in res.output and len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_a_real_etcd_dump_calibrates_its_disk(tmp_path):
    out = tmp_path / "etcd.yaml"
    res = runner.invoke(app, ["calibrate", "metrics", f"etcd={ETCD_DUMP}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(out.read_text())
    assert doc["source"]["kind"] == "metrics" and "etcd.fsync_s" in doc["fits"]
    assert "etcd.rtt_s" in doc["not_fitted"]  # one member: no peers
    assert "not fitted: etcd.rtt_s" in res.output
    res = runner.invoke(app, ["validate", "--quick", "--only", "etcd", "--calibration", str(out), "-o", "json"])
    assert res.exit_code == 0, res.output
    import json

    records = {r["name"]: r for r in json.loads(res.output)}
    assert records["etcd/write_rate_1_client"]["kind"] == "info"  # B4 is other hardware
    assert records["little/etcd_proposals_1"]["kind"] == "rel"  # theory stays a check
