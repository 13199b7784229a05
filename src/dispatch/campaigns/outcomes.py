"""A sender's `SendResult` → the ledger row values it implies (pure, no I/O).

- SENT: `sent`, provider message id, sent_at.
- TEMPORARY: back to `pending`, due again after retry_backoff·2^(attempts-1) seconds
  (or the provider's `retry_after` if longer), until `max_attempts` → `failed`.
- PERMANENT: `failed` at once; `suppress=True` also adds the address to suppressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch.delivery.base import Outcome, SendResult
from dispatch.store.models import DeliveryStatus

ERROR_CHARS = 1000


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        """Wait before attempt `attempts + 1`, `attempts` having failed so far (≥ 1)."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=max(seconds, retry_after or 0.0))


def row_values(
    result: SendResult, attempts_before: int, policy: RetryPolicy, now: datetime
) -> dict[str, Any]:
    """Bind values for `ledger.UPDATE_ROW` (keys prefixed `b_`)."""
    attempts = attempts_before + 1
    values: dict[str, Any] = {
        "b_id": result.delivery_id,
        "b_attempts": attempts,
        "b_next": None,
        "b_pmid": None,
        "b_sent_at": None,
        "b_error": _clip(result.error),
        "b_updated": now,
    }
    if result.outcome == Outcome.SENT:
        values.update(b_status=DeliveryStatus.SENT, b_pmid=result.provider_message_id)
        values.update(b_sent_at=now, b_error=None)
    elif result.outcome == Outcome.TEMPORARY and attempts < policy.max_attempts:
        values.update(b_status=DeliveryStatus.PENDING)
        values.update(b_next=now + policy.delay(attempts, result.retry_after))
    else:
        values.update(b_status=DeliveryStatus.FAILED)
        if result.outcome == Outcome.TEMPORARY:
            values["b_error"] = f"gave up after {attempts} attempts: {result.error or 'no reason'}"
    return values


def is_failure(result: SendResult) -> bool:
    return result.outcome != Outcome.SENT


def _clip(error: str | None) -> str | None:
    return error if error is None or len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "…"
