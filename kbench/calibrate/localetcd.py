"""A throwaway single-member etcd on this machine: free 127.0.0.1 ports, a temporary data dir.

Used by the live tests (``tests/live/``) and by anyone who wants to try ``kbench calibrate etcd``
without a cluster. The binary is ``$KBENCH_ETCD`` or ``etcd`` on ``PATH`` (Debian's ``etcd-server``
package). ``--metrics extensive`` is on, so ``grpc_server_handling_seconds`` (the server's own
handling time) is exported, and the Go runtime prints its scheduler trace every 50 ms
(``GODEBUG=schedtrace=50``) into the member's log, so that a calibration can leave the runtime's
idle spinning out of the CPU per put (:attr:`LocalEtcd.sched`, :mod:`kbench.calibrate.gosched`).
The process is stopped and its data dir removed on :meth:`stop`, on
leaving a ``with`` block and, failing both, at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from kbench.calibrate.gosched import SchedTrace
from kbench.errors import KbenchError

SCHEDTRACE_MS = 50
"""Period of the Go scheduler trace the member prints, milliseconds."""


def find_etcd() -> str | None:
    """The etcd binary: ``$KBENCH_ETCD``, else ``etcd`` on ``PATH``; None when there is none."""
    return os.environ.get("KBENCH_ETCD") or shutil.which("etcd")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LocalEtcd:
    """One etcd member on free loopback ports.

    Args:
        binary: The etcd executable (default :func:`find_etcd`).
        parent: Folder for the data dir (default the system temp folder).
        tries: Attempts with new ports when a port is taken between choosing and binding it.

    Attributes:
        url: The client URL once started (``http://127.0.0.1:PORT``).
        version: ``etcd --version``'s first line.
        sched: The member's Go scheduler trace once started.
    """

    def __init__(self, binary: str | None = None, parent: str | Path | None = None, tries: int = 3):
        self.binary = binary or find_etcd()
        if not self.binary:
            raise KbenchError("no etcd binary (apt-get install etcd-server, or set KBENCH_ETCD)")
        self.parent = parent
        self.tries = tries
        self.url = ""
        self.version = ""
        self.proc: subprocess.Popen | None = None
        self.data_dir: str | None = None
        self.sched: SchedTrace | None = None

    def start(self) -> str:
        """Start it and wait until ``/health`` says true (15 s at most); return the client URL."""
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=False)
        self.version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"
        for _ in range(self.tries):
            self.data_dir = tempfile.mkdtemp(prefix="kbench-etcd-", dir=self.parent)
            client, peer = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
            cmd = [self.binary, "--name", "m0", "--data-dir", self.data_dir,
                   "--listen-client-urls", client, "--advertise-client-urls", client,
                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                   "--initial-cluster", f"m0={peer}", "--initial-cluster-state", "new",
                   "--log-level", "warn", "--logger", "zap", "--metrics", "extensive"]
            log_path = os.path.join(self.data_dir, "etcd.log")
            log = open(log_path, "w")  # noqa: SIM115 - closed with the dir
            godebug = [v for v in (os.environ.get("GODEBUG"), f"schedtrace={SCHEDTRACE_MS}") if v]
            env = {**os.environ, "GODEBUG": ",".join(godebug)}
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            self.sched = SchedTrace(log_path)
            atexit.register(self.stop)
            if self._healthy(client, 15.0):
                self.url = client
                return client
            self.stop()
        raise KbenchError(f"etcd did not start on free ports after {self.tries} tries ({self.binary})")

    def _healthy(self, url: str, limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if b"true" in urllib.request.urlopen(url + "/health", timeout=1).read():
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    @property
    def pid(self) -> int | None:
        """The etcd process id while it runs."""
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        """Stop etcd (SIGTERM, then SIGKILL after 5 s) and remove its data dir."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
            self.sched = None

    def __enter__(self) -> LocalEtcd:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
