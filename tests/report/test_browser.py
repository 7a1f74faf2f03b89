"""The report in a real browser: Debian's chromium, headless, loads the page with the network cut off.

Checks: no console output that is an error, every figure container holds a rendered ``<svg>``, the
page's own render hook reports every figure drawn and no script error, and hostile names show as text.
A screenshot is saved under ``tests/artifacts/`` (git-ignored) as a test artifact.

chromium is required: ``.ci/run`` installs it. Without it the test fails, unless
``KBENCH_ALLOW_NO_BROWSER=1`` explicitly allows skipping (never set in CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kbench.report import write_report

from .conftest import EVIL, REPO

ALLOW_SKIP = "KBENCH_ALLOW_NO_BROWSER"
ARTIFACTS = REPO / "tests" / "artifacts"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BENIGN = ("willReadFrequently",)  # Chrome's own performance hints, not page errors


def chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get(ALLOW_SKIP) == "1":
        pytest.skip(f"chromium not installed and {ALLOW_SKIP}=1")
    pytest.fail(f"chromium not found (tried {', '.join(CANDIDATES)}): install Debian's chromium (.ci/run does) "
                f"or set {ALLOW_SKIP}=1 to skip the browser test explicitly")


def load_in_browser(page: Path, screenshot: Path, profile: Path) -> tuple[str, list[str]]:
    """Load ``page`` headless with DNS disabled; returns (the rendered DOM, console lines from stderr)."""
    cmd = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", "--window-size=1280,2400", "--virtual-time-budget=20000",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run", f"--user-data-dir={profile}",
           f"--screenshot={screenshot}", "--dump-dom", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def figure_chunks(dom: str) -> list[str]:
    """The DOM of each figure container, from its opening tag to the end of its <figure>."""
    return [c.split("</figure>")[0] for c in re.split(r'<div class="kb-plot[^"]*"', dom)[1:]]


def check_rendered(page: Path, dom: str, console: list[str]) -> int:
    errors = [line for line in console if not any(b in line for b in BENIGN)]
    assert not errors, "console output:\n" + "\n".join(errors)
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-kb-errors" not in body, body
    n = page.read_text().count('<div class="kb-plot"')
    assert n > 0
    m = re.search(r'data-kb-rendered="(\d+)"', body)
    assert m and int(m.group(1)) == n, "the page did not finish drawing every figure"
    chunks = figure_chunks(dom)
    assert len(chunks) == n
    for i, chunk in enumerate(chunks):
        assert "<svg" in chunk and "main-svg" in chunk, f"figure {i} holds no rendered SVG"
    return n


def test_demo_report_renders_in_chromium(demo_run, tmp_path):
    page = write_report([demo_run])
    shot = tmp_path / "report-demo.png"
    dom, console = load_in_browser(page, shot, tmp_path / "profile")
    n = check_rendered(page, dom, console)
    assert n >= 9  # the demo queues and rejects nothing: those two panels are one line each
    assert 'class="kb-zero"' in page.read_text()
    assert shot.is_file() and shot.stat().st_size > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    saved = ARTIFACTS / "report-demo.png"
    shutil.copyfile(shot, saved)
    print(f"screenshot: {saved}")


def test_hostile_names_render_as_text(evil_comparison, tmp_path):
    page = write_report([evil_comparison], tmp_path / "evil.html")  # scenario and policies named EVIL
    dom, console = load_in_browser(page, tmp_path / "evil.png", tmp_path / "profile")
    check_rendered(page, dom, console)
    assert EVIL not in dom  # serialised DOM: a live element would appear as this tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    # inside plotly's SVG: the category label is text, not markup
    assert re.search(r"<text[^>]*>[^<]*&lt;script&gt;alert\(1\)&lt;/script&gt;", dom)
    assert re.search(r"<text[^>]*>[^<]*&lt;b&gt;bold&lt;/b&gt;&amp;amp", dom)
    shutil.copyfile(tmp_path / "evil.png", (ARTIFACTS.mkdir(exist_ok=True), ARTIFACTS / "report-escaping.png")[1])


def test_envelope_report_and_paired_comparison_plot_render(envelope_folder, evil_comparison, tmp_path):
    """The envelope report (SLO against the varied dimension, boundary) and the comparison's paired-difference
    plots draw in a real browser, on one page."""
    page = write_report([envelope_folder, evil_comparison], tmp_path / "experiments.html")
    dom, console = load_in_browser(page, tmp_path / "experiments.png", tmp_path / "profile")
    n = check_rendered(page, dom, console)
    text = page.read_text()
    assert "staleness_p99_s against clients: the SLO first fails between clients = 180 and 200" in text
    assert text.count("paired difference from the baseline default") == 2  # one per compared metric
    assert n == 1 + 2 * 2  # the envelope curve; per metric the per-policy figure and the paired one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "experiments.png", ARTIFACTS / "report-envelope-comparison.png")


def test_sync_experiment_report_renders_in_chromium(tmp_path):
    """Issue 16, T8.2: ``kbench sync`` with three --clients values and the three strategies writes one
    report whose cost, egress, memory and staleness figures draw a line per strategy (and mark the
    crossover where the sweep has one) in a real browser."""
    import json

    from typer.testing import CliRunner

    from kbench.cli import app

    res = CliRunner().invoke(app, ["sync", "--clients", "10,20,40", "--strategy", "poll", "--strategy", "list-watch",
                                   "--strategy", "watch-list", "--objects", "200", "--duration", "30s",
                                   "--out", str(tmp_path / "out"), "--report", "-o", "json"])
    assert res.exit_code == 0, res.output
    m = re.search(r"report: (\S+)", res.output)
    assert m, res.output
    page = Path(m.group(1))
    dom, console = load_in_browser(page, tmp_path / "report-sync.png", tmp_path / "profile")
    check_rendered(page, dom, console)
    specs = [json.loads(s.replace("<\\/", "</")) for s in re.findall(
        r'<script type="application/json" id="kb-fig-\d+-data">(.*?)</script>', page.read_text(), re.S)]
    by_title = {s["layout"]["title"]["text"]: s for s in specs}
    for title in ("Sync cost: apiserver and etcd CPU", "Sync egress: every byte the apiserver sends",
                  "Sync memory: apiserver heap", "Staleness of client caches: polling vs watching"):
        traces = by_title[title]["data"]
        assert len(traces) >= 3, title
        strategies = {t["name"].split(" ")[0] for t in traces if not t["name"].startswith("crossover")}
        assert strategies >= {"poll", "list-watch", "watch-list"}, title
    cdf = next(s for t, s in by_title.items() if t.startswith("Staleness CDF"))
    assert len(cdf["data"]) == 3
