"""`kbench --help` and the light commands must start fast: importing the CLI must not import the
heavy libraries (pandas ~0.5 s, scipy.stats ~1 s of CPU); the commands that need them import them."""

import subprocess
import sys


def test_importing_the_cli_imports_neither_pandas_nor_scipy():
    code = ("import sys, kbench.cli; "
            "print(','.join(m for m in ('pandas', 'scipy', 'pyarrow', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_lazy_results_exports_still_resolve():
    import kbench.results
    from kbench.results.store import RunWriter, load

    assert kbench.results.RunWriter is RunWriter and kbench.results.load is load
