"""Servers tests start as child processes are stopped by their PID, never by name."""

from __future__ import annotations

import os
import signal
import subprocess


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> int | None:
    """SIGTERM, then SIGKILL if it does not go; close its stderr pipe; its exit code."""
    if process is None:
        return None
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    if process.stderr is not None:
        process.stderr.close()
    return process.returncode
