"""The run report's write mix (issue 18) in a real browser, and its figures' data checks."""

from __future__ import annotations

import re

import pytest

from kbench.report import mixfigures as W
from kbench.report import write_report
from kbench.report.base import MissingData
from tests.report.test_browser import check_rendered, load_in_browser


def test_write_mix_section_renders_in_chromium(demo_run, tmp_path):
    page = write_report([demo_run], tmp_path / "mix.html")
    dom, console = load_in_browser(page, tmp_path / "mix.png", tmp_path / "profile")
    check_rendered(page, dom, console)
    assert "Write mix: API writes per pod created" in dom
    for title in ("API writes by component", "Events written per second", "Objects in etcd by resource"):
        assert re.search(r"<text[^>]*>[^<]*" + re.escape(title), dom), title
    assert "pods/status" in dom and "pods/binding" in dom


def test_write_rows_and_missing_data():
    s = {"writes_per_pod": {"pods": {"create": 1.0, "delete": 2.0}, "events": {"create": 5.5}}}
    assert W.write_rows(s) == [["events", "create", 5.5], ["pods", "delete", 2.0], ["pods", "create", 1.0]]
    with pytest.raises(MissingData):
        W.writes_by_component({})
    with pytest.raises(MissingData):
        W.events_rate(None)
