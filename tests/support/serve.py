"""`dispatch serve` as a child process on a free loopback port, stopped by its PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.processes import stop


@contextmanager
def dispatch_serve(
    config_path: Path, port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The server, once /healthz answers; its stderr goes to `serve.log` beside the config."""
    command = [sys.executable, "-m", "dispatch", "--config", str(config_path), "serve"]
    command += ["--port", str(port), "--no-scheduler", "--log-text"]
    log = config_path.parent / "serve.log"
    environment = os.environ | {"DISPATCH_SECRET_KEY": "serve-test-secret"} | (env or {})
    with log.open("wb") as err:
        process = subprocess.Popen(command, env=environment, stdout=err, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"dispatch serve exited:\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"dispatch serve did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield process
    finally:
        stop(process)
