"""A sender's `SendResult` → the ledger row values it implies (pure, no I/O).

- SENT: `sent`, provider message id, sent_at.
- TEMPORARY (the recipient's server said "later": greylisting, 452): back to `pending`,
  due again after retry_backoff·2^(attempts-1) seconds (or the provider's `retry_after`
  if longer), until `max_attempts` → `failed`.
- UNKNOWN (handed over, no answer): like TEMPORARY, and counted in `doubts` — the
  provider may have accepted it, so sending it again may be a duplicate.
- PERMANENT: `failed` at once; `suppress=True` also adds the address to suppressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch.delivery.base import Outcome, SendResult
from dispatch.store.models import DeliveryStatus

ERROR_CHARS = 1000
RETRIED = (Outcome.TEMPORARY, Outcome.UNKNOWN)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        """Wait before attempt `attempts + 1`, `attempts` having failed so far (≥ 1)."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=max(seconds, retry_after or 0.0))


def row_values(
    result: SendResult, attempts_before: int, policy: RetryPolicy, now: datetime, owner: str
) -> dict[str, Any]:
    """Bind values for `ledger.UPDATE_ROW` (keys prefixed `b_`)."""
    attempts = attempts_before + 1
    values: dict[str, Any] = {
        "b_id": result.delivery_id,
        "b_owner": owner,
        "b_attempts": attempts,
        "b_next": None,
        "b_pmid": None,
        "b_sent_at": None,
        "b_error": _clip(result.error),
        "b_updated": now,
        "b_doubt": 1 if result.outcome == Outcome.UNKNOWN else 0,
    }
    if result.outcome == Outcome.SENT:
        values.update(b_status=DeliveryStatus.SENT, b_pmid=result.provider_message_id)
        values.update(b_sent_at=now, b_error=None)
    elif result.outcome in RETRIED and attempts < policy.max_attempts:
        values.update(b_status=DeliveryStatus.PENDING)
        values.update(b_next=now + policy.delay(attempts, result.retry_after))
    else:
        values.update(b_status=DeliveryStatus.FAILED)
        if result.outcome in RETRIED:
            reason = result.error or "no reason"
            values["b_error"] = _clip(f"gave up after {attempts} attempts: {reason}")
    return values


def counts_as_failure(result: SendResult) -> bool:
    """Whether a result adds to a streak that pauses the campaign: permanent refusals and
    unanswered messages do; a recipient's "try later" (greylisting) does not."""
    return result.outcome in (Outcome.PERMANENT, Outcome.UNKNOWN)


def _clip(error: str | None) -> str | None:
    return error if error is None or len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + "…"
