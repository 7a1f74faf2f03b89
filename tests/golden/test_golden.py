"""Golden-seed tests: the summary of fixed scenarios must not change when the code is optimised.

The golden files were written before the performance work (issue 8). A change that alters model
results on purpose regenerates them with ``python -m tests.golden.test_golden`` and says why in
its commit message; wall time and event counts (``sim``) are excluded because optimisations
change them without changing the model, and so is ``run_dir``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from kbench.bundled import TRACES
from kbench.experiment.runner import run

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
VOLATILE = ("sim", "run_dir")


def _trace_case(name: str, tmp: Path, workload: dict | None = None, **trace) -> Path:
    data = yaml.safe_load((ROOT / "workloads" / name).read_text())
    data["workload"]["params"]["traces"] = str(TRACES)
    data["workload"].update(workload or {})
    data["workload"]["traces"][0].update(trace)
    out = tmp / name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


CASES = {
    "demo": lambda tmp: ROOT / "workloads" / "demo.yaml",
    "fault-apiserver-restart": lambda tmp: ROOT / "workloads" / "faults" / "apiserver-restart.yaml",
    # the full plane (fgd-openb.yaml declares placement_only, which tests/model/test_placement_only.py checks)
    "fgd-openb-reduced": lambda tmp: _trace_case("fgd-openb.yaml", tmp, {"placement_only": False},
                                                 sample_nodes=0.05, max_pods=300),
    "openb-reduced": lambda tmp: _trace_case("openb.yaml", tmp, max_pods=400),
}


def stable_summary(name: str, tmp: Path) -> dict:
    """The run summary without wall-clock and location fields, round-tripped through JSON."""
    summary = run(CASES[name](tmp)).summary
    return json.loads(json.dumps({k: v for k, v in summary.items() if k not in VOLATILE}, default=str))


@pytest.mark.parametrize("name", sorted(CASES))
def test_summary_matches_golden(name, tmp_path):
    expected = json.loads((HERE / f"{name}.json").read_text())
    assert stable_summary(name, tmp_path) == expected


if __name__ == "__main__":  # regenerate: python -m tests.golden.test_golden [NAME...]
    with tempfile.TemporaryDirectory() as d:
        for name in sys.argv[1:] or sorted(CASES):
            (HERE / f"{name}.json").write_text(
                json.dumps(stable_summary(name, Path(d)), indent=1, sort_keys=True) + "\n")
            print(f"wrote {name}.json")
