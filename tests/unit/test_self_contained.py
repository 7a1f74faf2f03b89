"""The project is self-contained: nothing reads a folder beside it, and the bundled traces are here.

A fresh ``git clone`` of the repository alone must run ``make test``, ``make demo`` and the README's
examples, so no code path, test, scenario or Makefile target may name a folder outside the project
(the trace files used to be read from ``../shared/traces``; they are bundled in ``workloads/traces``).
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from kbench.bundled import ROOT, TRACES, trace
from kbench.config import load_scenario

SCANNED = ("kbench", "policies", "workloads", "tests", "Makefile", ".ci", "pyproject.toml")
SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".cfg", ".sh", ".md", ".txt", ".json", ""}
OUTSIDE = re.compile("|".join([
    r"\.\./shared",                               # ../shared/...
    r"shared/traces",                            # shared/traces anywhere
    r"""["']shared["']""",                       # Path(...) / "shared"
    r"/work/",                                   # an absolute path of the development machine
    r"ROOT\.parent\b|parents\[\d\]\.parent\b",      # the project root's parent: a folder beside it
]))


# One reviewed exception: `kbench bench --baseline` gives an old revision (which looked for its
# traces in a folder inside its own checkout) this project's bundled copies, written into the old
# revision's temporary tree; it reads nothing outside this project.
ALLOWED = {("kbench/benchpair.py", 'OLD_TRACES = ("shared", "traces")  # an old revision\'s trace folder, '
                                   "inside its tree (not this project's)")}


def _files() -> list[Path]:
    out = []
    for name in SCANNED:
        p = ROOT / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += [f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix in SUFFIXES
                    and "__pycache__" not in f.parts]
    return [f for f in out if f != Path(__file__).resolve()]  # this file spells the patterns out


def test_no_code_path_reads_a_folder_beside_the_project():
    """grep kbench, policies, workloads, tests, the Makefile and CI for paths outside the project."""
    files = _files()
    assert len(files) > 100  # the scan sees the tree
    hits = []
    for f in files:
        for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and (str(f.relative_to(ROOT)), line.strip()) not in ALLOWED:
                hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not hits, "paths outside the project:\n" + "\n".join(hits)
    for name, line in ALLOWED:  # the exception still exists as reviewed (else drop it)
        assert line in (ROOT / name).read_text().splitlines(), (name, line)


def test_the_pattern_catches_what_it_must():
    """The grep would catch the old spellings (so the test above can fail)."""
    for bad in ('TRACES = ROOT.parent / "shared" / "traces"', "traces: ../shared/traces",
                "see /work/shared/FGD.md", 'Path(__file__).parents[2].parent / "data"'):
        assert OUTSIDE.search(bad), bad
    assert not OUTSIDE.search("traces: traces  # workloads/traces")


@pytest.mark.parametrize("scenario", ["openb.yaml", "fgd-openb.yaml"])
def test_bundled_scenarios_read_bundled_traces(scenario):
    """The trace scenarios resolve their files inside workloads/traces."""
    sc = load_scenario(ROOT / "workloads" / scenario)
    params = sc.workload.params
    from kbench.config.params import resolve_path

    for key in ("pods", "nodes"):
        path = Path(resolve_path(f"{params['traces']}/{params[key]}", params["scenario_dir"]))
        assert path.parent == TRACES and path.is_file()


def test_bundled_traces_are_gzip_and_have_their_sources():
    """Every bundled trace is gzip with a header line; SOURCES.md names each one and the terms."""
    files = sorted(TRACES.glob("*.csv.gz"))
    assert len(files) == 20  # 17 openb pod lists, 2 node lists, the DLRM trace
    sources = (TRACES / "SOURCES.md").read_text()
    for f in files:
        with gzip.open(f, "rt") as fh:
            assert "," in fh.readline()
        assert f"`{f.name}`" in sources
    assert "research or study purpose" in sources and "cite" in sources
    assert trace("openb_pod_list_default.csv") == TRACES / "openb_pod_list_default.csv.gz"


def test_bundled_traces_are_tracked_by_git():
    """A clone gets the traces: git tracks each one (skipped outside a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "workloads/traces"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    tracked = {Path(p).name for p in out}
    missing = [f.name for f in TRACES.glob("*.csv.gz") if f.name not in tracked] + \
              [n for n in ("SOURCES.md",) if n not in tracked]
    assert not missing, f"untracked bundled files: {missing}"
