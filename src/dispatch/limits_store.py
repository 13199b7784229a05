"""The one `limits` storage a web app's rate windows live in: sign-ups, logins (and the
sending rate, configured by the same key): `delivery.limiter_storage`.

"memory://" keeps them in this process; a shared "redis://…" URI makes every web process
(and worker) count in the same windows, so N processes do not allow N times the rate.
"""

from __future__ import annotations

from typing import Any

from limits.storage import Storage, storage_from_string

from dispatch.config import Settings


def limits_storage(settings: Settings) -> Storage:
    return storage_from_string(settings.delivery.limiter_storage)


def app_limits_storage(state: Any) -> Storage:
    """The storage of one web app (`app.state`), made on first use and then shared."""
    found: Storage | None = getattr(state, "limits_storage", None)
    if found is None:
        found = state.limits_storage = limits_storage(state.settings)
    return found
