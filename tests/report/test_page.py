"""The report page: one self-contained file, escaped input, every kind of folder, the CLI."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.errors import KbenchError
from kbench.report import write_report
from kbench.report.base import esc
from kbench.report.loaders import detect_kind, load

from .conftest import EVIL

cli = CliRunner()


class Scripts(HTMLParser):
    """Collects every <script> tag's attributes and every src/href attribute."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith("#"):
                self.urls.append(a[key])


def arr(v):
    """A plotly JSON array: a list, or a typed array ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def figure_specs(text: str) -> list[dict]:
    return [json.loads(m.replace("<\\/", "</")) for m in
            re.findall(r'<script type="application/json" id="kb-fig-\d+-data">(.*?)</script>', text, re.S)]


def test_hostile_names_are_escaped(evil_run, evil_comparison, tmp_path):
    out = write_report([evil_run, evil_comparison], tmp_path / "r.html")
    text = out.read_text()
    assert EVIL not in text  # nowhere as a live tag, nor raw inside a script block
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # shown as text in the headings
    assert "<b>bold</b>" not in text
    p = Scripts()
    p.feed(text)
    ours = [s for s in p.scripts if s.get("type") == "application/json" and re.fullmatch(r"kb-fig-\d+-data", s["id"])]
    assert len(p.scripts) == len(ours) + 3  # error hook, plotly.js, the drawing script
    assert not p.urls  # no external script, stylesheet or link: works offline
    specs = figure_specs(text)
    assert len(ours) == len(specs) > 5
    cmp_fig = next(s for s in specs if "per policy" in s["layout"]["title"]["text"])
    # plotly shows entities literally, so the category holds the escaped name
    assert esc(EVIL) in cmp_fig["data"][0]["x"]
    assert esc("<b>bold</b>&amp") in cmp_fig["data"][0]["x"]
    for s in specs:
        assert "<" not in json.dumps(s["layout"].get("title", {}).get("text", ""))


def test_demo_report_is_small_offline_and_complete(demo_run):
    out = write_report([demo_run])
    assert out == demo_run / "report.html"
    text = out.read_text()
    assert out.stat().st_size < 10e6
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"""<(?:link|img|iframe)[^>]+(?:href|src)=["']?https?://""", text)
    assert text.count("Plotly.newPlot") == 1 and text.count("<figure") == len(figure_specs(text))
    specs = figure_specs(text)
    titles = [s["layout"]["title"]["text"] for s in specs]
    for want in ("Pod startup", "Where pod startup time went", "Scheduler throughput", "API request latency",
                 "APF seats in use per priority level (mean per 1 s)", "etcd", "Watch fan-out", "Cluster allocation",
                 "Pods per node"):
        assert any(want in t for t in titles), want
    # the demo queues nothing and rejects nothing: one line each instead of a flat zero line
    assert "<b>APF queues</b>: no request waited in an APF queue: every level dispatched at once." in text
    assert "<b>APF rejections</b>: no request was rejected by APF (0 responses 429)." in text
    assert not any("APF queue" in t or "429" in t for t in titles)
    for s in specs:  # every figure has axis titles (with units in parentheses) and a caption
        lay = s["layout"]
        axes = [v for k, v in lay.items() if re.fullmatch(r"[xy]axis\d*", k) and v.get("title", {}).get("text")]
        assert axes and all("(" in a["title"]["text"] for a in axes if a["title"]["text"] != "pods, by end-to-end startup"
                            and "node rank" not in a["title"]["text"] and "verb" not in a["title"]["text"]
                            and "policy" not in a["title"]["text"]), lay["title"]["text"]
        assert lay["meta"]["caption"]
    assert "Not shown: <b>GPU allocation and fragmentation</b> (no GPUs in this run)" in text
    assert "every SLO passes" in text and "pod_startup_p99_s" in text
    from kbench.results.schema import read_manifest
    wall = read_manifest(demo_run)["wall_s"]
    assert re.search(rf"<td>virtual s / wall s</td><td>240 / {wall:.4g}</td>", text)  # wall time from the manifest
    # the new etcd series is differenced into a latency panel
    etcd = next(s for s in specs if "etcd" in s["layout"]["title"]["text"])
    assert any("latency" in (v.get("title", {}).get("text") or "") for k, v in etcd["layout"].items() if k.startswith("yaxis"))


def test_sweep_report(sweep_folder):
    out = write_report([sweep_folder])
    text = out.read_text()
    assert out == sweep_folder / "report.html"
    specs = figure_specs(text)
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles == [f"{m} against {p}" for m in ("pod_startup_s.p99", "scheduling.throughput_pods_per_s")
                      for p in ("nodes", "qps")]
    assert "49 cells" in text and "complete: 48" in text and "failed: 1" in text


def test_loaders_detect_every_kind(demo_run, evil_comparison, sweep_folder, tmp_path):
    assert detect_kind(demo_run) == "run"
    assert detect_kind(evil_comparison) == "comparison"
    assert detect_kind(sweep_folder) == "sweep"
    assert load(sweep_folder).name == "sweep-test"
    with pytest.raises(KbenchError, match="not a results folder"):
        detect_kind(tmp_path)
    with pytest.raises(KbenchError, match="no such folder"):
        load(tmp_path / "nope")
    (tmp_path / "comparison.json").write_text("{not json")
    with pytest.raises(KbenchError, match="corrupt JSON"):
        load(tmp_path)


def test_sync_report_from_the_cli(tmp_path):
    res = cli.invoke(app, ["sync", "--strategy", "poll", "--strategy", "list-watch", "--clients", "10",
                           "--objects", "50", "--duration", "30s", "--out", str(tmp_path), "--report",
                           "-o", "markdown"])
    assert res.exit_code == 0, res.output
    assert "| LIST /s |" in res.stdout and "| metric | poll | list-watch |" in res.stdout
    m = re.search(r"report: (\S+)", res.output)
    assert m, res.output
    text = Path(m.group(1)).read_text()
    titles = [s["layout"]["title"]["text"] for s in figure_specs(text)]
    for title in ("Sync cost: apiserver and etcd CPU", "Sync egress: every byte the apiserver sends",
                  "Sync memory: apiserver heap", "Staleness of client caches: polling vs watching",
                  "apiserver egress by kind", "apiserver memory by component"):
        assert title in titles


def test_report_cli_and_errors(sweep_folder, tmp_path):
    out = tmp_path / "x" / "r.html"
    res = cli.invoke(app, ["report", str(sweep_folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and str(out) in res.output
    res = cli.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such folder" in res.output and "Traceback" not in res.output
    res = cli.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not a results folder" in res.output


@pytest.mark.parametrize("cmd", [["run", "workloads/demo.yaml"], ["compare", "workloads/demo.yaml", "--policy", "a",
                                                                   "--policy", "b"], ["sync"]])
def test_bad_output_format_is_one_line_and_exit_2(cmd):
    res = cli.invoke(app, cmd + ["-o", "xml"])
    assert res.exit_code == 2
    assert "-o xml: expected one of table, json, yaml, markdown" in res.output and "Traceback" not in res.output


GPU_SCENARIO = """
version: 1
name: gpu-small
seed: 1
duration_s: 40s
cluster:
  nodes: [{count: 4, cpu_cores: 16, memory_bytes: 64Gi, gpus: 4}]
workload:
  fgd_metrics: true
  deployments:
    - {name: train, replicas: 10, template: {cpu_cores: 1, gpus: 1}}
    - {name: share, replicas: 8, template: {cpu_cores: 500m, gpu_milli: 500}}
"""


def test_gpu_run_gets_the_gpu_figure(tmp_path):
    from kbench.experiment.runner import run

    (tmp_path / "gpu.yaml").write_text(GPU_SCENARIO)
    res = run(tmp_path / "gpu.yaml", out_dir=tmp_path / "r")
    text = write_report([res.run_dir]).read_text()
    assert "Not shown: <b>GPU" not in text
    gpu = next(s for s in figure_specs(text) if "GPU allocation" in s["layout"]["title"]["text"])
    alloc = gpu["data"][0]
    assert alloc["name"] == "GPU allocated"
    assert arr(alloc["y"])[-1] == pytest.approx(res.summary["gpu"]["allocated_pct"])  # 14 of 16 GPUs: 87.5 %
    assert arr(alloc["x"])[-1] == pytest.approx(res.summary["gpu"]["arrived_pct_final"])


def test_envelope_folder_report(envelope_folder):
    """``kbench report <envelope folder>`` (it used to say: unknown folder kind 'envelope')."""
    res = CliRunner().invoke(app, ["report", str(envelope_folder)])
    assert res.exit_code == 0, res.output
    text = (envelope_folder / "report.html").read_text()
    titles = [s["layout"]["title"]["text"] for s in figure_specs(text)]
    assert titles == ["staleness_p99_s against clients: the SLO first fails between clients = 180 and 200"]
    assert "Envelope: envelope-small" in text and "<caption>Steps (in the order run)</caption>" in text
