"""`OutboxSender` (the default backend): every message becomes an `.eml` file.

`<outbox>/<campaign_id>/<delivery_id>.eml` holds exactly the bytes a subscriber would
get, so a new user can open a campaign in any mail client before configuring a real
provider. Each file is written to a temporary name in the same folder and renamed over
the final name (`os.replace`), so a reader never sees half a message and re-sending a
delivery overwrites its file instead of adding a second copy. A written file survives
the process being killed (the kernel owns it); `fsync=True` also makes it survive a
power cut, at about 4 ms a message (20,000 messages: 75 s instead of 2.5 s).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from dispatch.delivery.base import Envelope, Outcome, OutgoingMessage, SendResult


class OutboxSender:
    """Implements `dispatch.delivery.base.Sender` by writing files into `directory`."""

    name = "outbox"
    max_batch = 1000

    def __init__(self, directory: Path, fsync: bool = False) -> None:
        self.directory = directory
        self.fsync = fsync

    def path(self, envelope: Envelope) -> Path:
        """Where the message for `envelope` is (or will be) written."""
        return self.directory / str(envelope.campaign_id) / f"{envelope.delivery_id}.eml"

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        for envelope in batch:
            yield self._write(message, envelope)

    def _write(self, message: OutgoingMessage, envelope: Envelope) -> SendResult:
        target = self.path(envelope)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._replace(target, message.as_bytes(envelope))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return SendResult(
                envelope.delivery_id, Outcome.TEMPORARY, error=f"cannot write {target}: {reason}"
            )
        return SendResult(envelope.delivery_id, Outcome.SENT, provider_message_id=target.name)

    def _replace(self, target: Path, data: bytes) -> None:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                if self.fsync:
                    file.flush()
                    os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        pass  # nothing held open between messages
