"""Start ``fusionlab serve`` in a child process and wait until it answers.

For notebooks, documentation pages, tests and benchmarks::

    with LocalServer(data_dir="fusionlab-data") as server:
        client = await connect(server.url)

The server is a real uvicorn process on a free loopback port; leaving the
``with`` block (or :meth:`LocalServer.stop`) stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["LocalServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalServer:
    """``fusionlab serve`` in a child process.

    Parameters
    ----------
    data_dir : path
        The server's data folder.
    port : int, optional
        A free port by default.
    database : str, optional
        Database URL (SQLite in ``data_dir`` by default).
    args : sequence of str
        More options of ``fusionlab serve`` (``--workers 2``...).
    env : dict, optional
        Extra environment variables of the child.
    log : path, optional
        File receiving the server's output (``data_dir/server.log`` by default).
    start_timeout : float
        Seconds to wait for ``/health``.
    """

    def __init__(self, data_dir, port=None, database=None, args=(), env=None, log=None,
                 start_timeout=60.0):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.database = database
        self.args = list(args)
        self.env = dict(env or {})
        self.log_path = Path(log) if log else self.data_dir / "server.log"
        self.start_timeout = start_timeout
        self.process = None
        self._log = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The child's command line."""
        command = [sys.executable, "-m", "fusionlab.service.cli", "--host", "127.0.0.1",
                   "--port", str(self.port), "--data-dir", str(self.data_dir),
                   "--log-level", "warning", *self.args]
        if self.database:
            command += ["--database", self.database]
        return command

    def start(self) -> LocalServer:
        """Start the child and wait until ``/health`` answers ok.

        Raises
        ------
        RuntimeError
            When the server exits or does not answer in time (its log is in
            the message).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **self.env}
        self.process = subprocess.Popen(self.command(), stdout=self._log, stderr=self._log,
                                        env=env, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fusionlab serve exited with {self.process.returncode}:\n"
                                   + self.log_text())
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fusionlab serve did not answer within {self.start_timeout} s:\n"
                           + self.log_text())

    def log_text(self) -> str:
        """What the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def kill(self, group: bool = False) -> None:
        """``kill -9`` the server (a crash); with ``group`` its job workers too."""
        if self.process is not None and self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait(10)
        self._close_log()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGINT, then SIGKILL after ``timeout`` seconds)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process is not None:
            # job workers left behind by a stopped server
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._close_log()

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
