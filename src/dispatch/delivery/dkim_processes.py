"""DKIM signing in worker processes, for a campaign at line rate on several cores.

`ProcessSigner.sign(bytes) -> bytes` is a drop-in for `DkimSigner.sign`: each call
takes an idle worker, sends it the message over a pipe and gets the signature headers
back, so the sending process spends a pipe round trip, not the canonicalisation and
the RSA operation, under its GIL. Workers are spawned (not forked: the sender runs
threads) with the key material when the first message comes, and stopped by
`close()`. A worker that dies makes that one message fail with ValueError (the SMTP
sender retries it later) and is replaced.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from dispatch.delivery.dkim import DkimSigner

FAILED = b"!"  # first byte of a worker's reply when signing failed


@dataclass(frozen=True)
class SignerSpec:
    """What a worker needs to build its own `DkimSigner` (picklable)."""

    domain: str
    selector: str
    rsa_pem: bytes
    ed25519: tuple[str, bytes] | None = None

    def build(self) -> DkimSigner:
        return DkimSigner(self.domain, self.selector, self.rsa_pem, ed25519=self.ed25519)


def _serve(connection: Connection, spec: SignerSpec) -> None:
    signer = spec.build()
    while True:
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        try:
            reply = signer.signature_headers(message)
        except ValueError as exc:
            reply = FAILED + str(exc).encode("utf-8", "replace")
        connection.send_bytes(reply)


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection


class ProcessSigner:
    """Signs like `spec.build()`, in `processes` worker processes."""

    def __init__(self, spec: SignerSpec, processes: int) -> None:
        spec.build()  # a bad key fails here, in the caller, with its own message
        self.spec = spec
        self.domain = spec.domain
        self._context = multiprocessing.get_context("spawn")
        self.processes = processes
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._started = False
        self._lock = threading.Lock()

    def _ensure_started(self) -> None:
        """Workers start with the first message: a sender made and closed without
        sending anything (the scheduler's periodic look for due campaigns) costs nothing."""
        with self._lock:
            if not self._started:
                for _ in range(self.processes):
                    self._idle.put(self._start())
                self._started = True

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self.spec), name="dispatch-dkim", daemon=True
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.append(worker)
        return worker

    def sign(self, message: bytes) -> bytes:
        if not self._started:
            self._ensure_started()
        worker = self._idle.get()
        try:
            worker.connection.send_bytes(message)
            reply = worker.connection.recv_bytes()
        except (EOFError, OSError) as exc:
            worker.connection.close()
            worker = self._start()  # the next message gets a fresh worker
            raise ValueError(f"DKIM signing process for {self.domain} died: {exc!r}") from exc
        finally:
            self._idle.put(worker)
        if reply.startswith(FAILED):
            raise ValueError(reply[1:].decode("utf-8", "replace"))
        return reply + message

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        for worker in self._all:
            with contextlib.suppress(OSError):
                worker.connection.send_bytes(b"")
            worker.connection.close()
        for worker in self._all:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
        self._all.clear()
        self._idle = queue.Queue()
        self._started = False
