"""`kbench workload inspect` and `kbench workload convert` (on a local typer app: the lead registers
the commands in kbench/cli.py): JSON keys scripts rely on, the table, one-line errors, bad rows."""

import json

import pytest
import typer
from typer.testing import CliRunner

from kbench.bundled import TRACES
from kbench.cli import guarded
from kbench.workload import commands

app = typer.Typer()
app.command("inspect")(guarded(commands.inspect_cmd))
app.command("convert")(guarded(commands.convert_cmd))
runner = CliRunner()

HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
SMALL = HEADER + (
    "p0,4000,1024,1,500,,LS,Running,0,100,0\n"
    "p1,8000,2048,2,1000,V100M16|V100M32,LS,Running,10,50,12\n"
    "p2,2000,512,0,0,,BE,Succeeded,30,40,30\n"
)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "pods.csv"
    p.write_text(SMALL)
    return p


def test_inspect_json_has_the_keys_scripts_rely_on(small):
    res = invoke("inspect", small, "-o", "json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["format"] == "openb-pods" and s["pods"] == 3 and s["nodes"] == 0 and s["span_s"] == 30.0
    assert s["arrival_rate_per_s"] == pytest.approx(2 / 30, abs=1e-6)
    assert s["requests"]["cpu_milli"] == {"min": 2000.0, "p50": 4000.0, "max": 8000.0, "mean": pytest.approx(4666.666667)}
    assert s["requests"]["gpu_total_milli"]["max"] == 2000.0 and s["requests"]["memory_bytes"]["min"] == 512 * 2**20
    assert s["gpu_pods"] == {"cpu_only": 1, "sharing": 1, "whole": {"2": 1}}
    assert s["gpu_model_constraints"] == 1 and sum(s["histogram"]["counts"]) == 3


def test_inspect_table_prints_a_histogram(small):
    res = invoke("inspect", small)
    assert res.exit_code == 0, res.output
    assert "pods / nodes" in res.stdout and "3 / 0" in res.stdout and "arrivals per" in res.stdout
    assert "gpu_total_milli" in res.stdout


@pytest.mark.parametrize(("content", "expected"), [
    (HEADER + "p0,4000,1024,1,abc,,LS,Running,0,100,0\n", ":2: "),
    (HEADER + "p0,4000,1024,1,500,,LS,Running,-5,100,0\n", ":2: "),
    ("nope,header\n1,2\n", "pods.csv"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, expected):
    p = tmp_path / "pods.csv"
    p.write_text(content)
    res = invoke("inspect", p, "--format", "openb-pods") if "nope" not in content else invoke("inspect", p)
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and expected in err


def test_unknown_format_and_missing_file_exit_2(small, tmp_path):
    res = invoke("inspect", small, "--format", "openb-podz")
    assert res.exit_code == 2 and "openb-pods" in res.stderr
    res = invoke("inspect", tmp_path / "missing.csv")
    assert res.exit_code == 2 and res.stderr.startswith("error: ")
    res = invoke("inspect", small, "-o", "xml")
    assert res.exit_code == 2 and "table, json, yaml" in res.stderr


def test_skip_bad_rows_skips_and_counts(tmp_path):
    p = tmp_path / "pods.csv"
    p.write_text(SMALL + "p3,x,1,0,0,,BE,Running,50,60,50\n")
    assert invoke("inspect", p, "-o", "json").exit_code == 2
    res = invoke("inspect", p, "-o", "json", "--skip-bad-rows")
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["pods"] == 3 and s["bad_rows"] == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_convert_to_native_round_trips(small, tmp_path, suffix):
    out = tmp_path / f"native{suffix}"
    res = invoke("convert", small, "--format", "openb-pods", "--out", out)
    assert res.exit_code == 0, res.output
    assert out.exists() and "3 pods" in res.stdout
    back = json.loads(invoke("inspect", out, "-o", "json").stdout)
    orig = json.loads(invoke("inspect", small, "-o", "json").stdout)
    assert back["format"] == "native"
    for key in ("pods", "span_s", "requests", "gpu_pods"):
        assert back[key] == orig[key]


def test_convert_refuses_an_unknown_suffix(small, tmp_path):
    res = invoke("convert", small, "--out", tmp_path / "out.txt")
    assert res.exit_code == 2 and ".parquet or .csv" in res.stderr
    res = invoke("convert", small, "-o", tmp_path / "out.txt")  # -o is the output format
    assert res.exit_code == 2 and "table, json, yaml" in res.stderr
    res = invoke("convert", small)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "--out FILE is required" in res.stderr


def test_convert_old_spelling_still_works_with_a_deprecation_note(small, tmp_path):
    """``-o OUT.parquet`` (before -o meant the format everywhere) writes the file and says to use --out."""
    out = tmp_path / "old.parquet"
    res = invoke("convert", small, "-o", out)
    assert res.exit_code == 0 and out.exists()
    assert res.stderr.startswith("warning: -o ") and "--out FILE" in res.stderr


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_convert_prints_data_with_o_json_or_yaml(small, tmp_path, fmt):
    import yaml

    out = tmp_path / "pods.csv"
    res = invoke("convert", small, "--out", out, "-o", fmt)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout) if fmt == "json" else yaml.safe_load(res.stdout)
    assert data["pods"] == 3 and data["written"] == [str(out)] and data["format"] == "openb-pods"


@pytest.mark.parametrize("name", sorted(p.name for p in TRACES.glob("*.csv.gz")))
def test_inspect_every_shipped_file(name):
    res = invoke("inspect", TRACES / name, "-o", "json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    if name.startswith("openb_node_list"):
        assert s["nodes"] in (1213, 1523) and s["pods"] == 0 and s["node_shapes"]
    elif name == "openb_pod_list_default.csv.gz":
        assert s["pods"] == 8152 and s["requests"]["gpu_count"]["max"] == 8.0
    elif name.startswith("openb_pod_list_multigpu"):  # the 5-column lists carry no times
        assert s["pods"] > 8000 and s["span_s"] == 0
    else:
        assert s["pods"] > 1000 and s["span_s"] > 0
