"""Both entry points start: the console script's module and ``python -m kbench.cli`` (which imports
kbench.cli a second time as ``__main__``, so a command module importing kbench.cli at import time
would be a circular import)."""

import subprocess
import sys


def test_python_dash_m_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "kbench.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for cmd in ("run", "sync", "compare", "sweep", "envelope", "report", "bench", "validate", "results"):
        assert cmd in out.stdout
