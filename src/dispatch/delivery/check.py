"""`check_sender(settings)`: can the configured backend send at all?

Run before a campaign is created (CLI, admin, API) and when `dispatch serve` or
`dispatch worker` starts, so that a missing SendGrid key, SMTP password or DKIM key is
reported at once with the key to set, instead of after the recipients were frozen. It
checks what can be known without sending: the secrets and keys are present and readable,
the outbox folder can be written. Nothing is sent and no server is contacted.
"""

from __future__ import annotations

import os
from pathlib import Path

from dispatch.config import Settings
from dispatch.delivery.factory import make_sender
from dispatch.errors import ConfigError


def check_sender(settings: Settings, backend: str | None = None) -> None:
    """Raise `ConfigError` naming what to fix when the backend could not send."""
    settings.secret_key  # every message carries links signed with it  # noqa: B018
    chosen = backend or settings.delivery.backend
    make_sender(settings, chosen).close()  # reads the API key, SMTP password, DKIM key
    if chosen == "outbox":
        _writable(settings.delivery.outbox.dir, settings)


def _writable(folder: Path, settings: Settings) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{settings.path.name}: delivery.outbox.dir: cannot create {folder}: "
            f"{exc.strerror or exc}"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{settings.path.name}: delivery.outbox.dir: {folder} is not writable")
