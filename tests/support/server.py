"""The service as production runs it: `care-episodes serve` in a process of its own."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# The master key every store the tests open is sealed under (PostgreSQL refuses
# to start without one): the test run's environment and the processes it starts.
TEST_MASTER_KEY = base64.b64encode(hashlib.sha256(b"care-episodes tests").digest())
TEST_KEY_ENV = {"CARE_MASTER_KEY": TEST_MASTER_KEY.decode()}


def sockets_on(port: int, state: str) -> set[int]:
    """The inode of each IPv4 TCP socket in `state` ("01" established, "0A"
    listening) whose local port is `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, now, inode = fields[1], fields[3], int(fields[9])
        if now == state and int(local.split(":")[1], 16) == port:
            found.add(inode)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """`care-episodes serve` on a free port, settings from `env` (CARE_*)."""

    def __init__(
        self, env: dict[str, str], *, workers: int = 2, cwd: Path = ROOT
    ) -> None:
        self.port = free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
        # Its log lines go to a file: a pipe nobody reads would fill (64 KiB) and
        # block the server's event loop on its next log line.
        # Opened for appending: the child shares the file offset with our reads.
        self._log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "infra.cli", "serve",
                "--port", str(self.port), "--workers", str(workers),
            ],
            cwd=cwd,
            env={**clean, "PYTHONPATH": str(ROOT), **TEST_KEY_ENV, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30) -> None:
        """Until every worker listens and /readyz answers 200 (AssertionError with
        the output if it dies). A worker listens once it has started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (
                    self.listening() == self.workers
                    and httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
                ):
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"the service was not ready within {timeout} s")

    def listening(self) -> int:
        """How many sockets listen on the service's port: one per worker started."""
        return len(sockets_on(self.port, "0A"))

    def output(self) -> str:
        """Everything the service has written to stdout and stderr so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout_s: float = 15) -> int:
        """SIGTERM, as a process manager stops it, then SIGKILL if it does not end
        within `timeout_s`; its exit code (its output stays readable)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def collector_settings(output: str) -> list[int]:
    """The young threshold of each "garbage collector set" line a process wrote
    (JSON log lines, as the service writes them when not on a terminal)."""
    found = []
    for line in output.splitlines():
        if line.startswith("{") and "garbage collector set" in line:
            found.append(json.loads(line)["young_threshold"])
    return found
