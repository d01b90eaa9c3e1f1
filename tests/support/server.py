"""The service as production runs it: `care-episodes serve` in a process of its own."""

from __future__ import annotations

import base64
import hashlib
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
        """Until /readyz answers 200 (AssertionError with the output if it dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"the service was not ready within {timeout} s")

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
