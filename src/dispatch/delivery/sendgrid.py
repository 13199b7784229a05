"""`SendgridSender`: v3 Mail Send through the official `sendgrid` library.

One request carries up to 1000 personalizations, each address at most once (a batch
naming an address twice is split across requests). The content goes once per request
with substitution keys (`message.substituted()`); each personalization carries that
recipient's `substitutions`, its per-recipient `headers` (List-Unsubscribe …) and
`custom_args` with the campaign and delivery ids only (no personal data; they come
back in webhook events). Never `dynamic_template_data`.

Replies: `2xx` → every envelope SENT, with the `X-Message-Id` header as provider id;
`429` → wait until `X-RateLimit-Reset` (at most `max_wait`) and retry; `5xx`, timeouts
and connection errors → retry with exponential backoff; after `max_attempts` → TEMPORARY.
`401`/`403` (the API key is wrong or lacks the permission) → TEMPORARY, so that the
campaign pauses instead of failing everyone; any other `4xx` → PERMANENT, with the body.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from dispatch.config import Settings
from dispatch.delivery.base import Envelope, Outcome, OutgoingMessage, SendResult, Substituted
from dispatch.delivery.mime import header_text

MAX_PERSONALIZATIONS = 1000
KEY_REFUSED = (401, 403)


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one request finally came to, for every envelope in it."""

    outcome: Outcome
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Retry:
    """Worth trying again: why, and how long the provider asked us to wait (if it did)."""

    error: str
    wait: float | None = None


class SendgridSender:
    """Implements `dispatch.delivery.base.Sender` over SendGrid's v3 API."""

    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS

    def __init__(
        self,
        api_key: str,
        host: str = "https://api.sendgrid.com",
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 2.0,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._api = SendGridAPIClient(api_key, host=host)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SendgridSender:
        key = settings.sendgrid_api_key.get_secret_value()
        return cls(key, host=settings.delivery.sendgrid.host, **options)

    def send(self, message: OutgoingMessage, batch: Sequence[Envelope]) -> Iterator[SendResult]:
        content = message.substituted()
        for chunk in split(batch, MAX_PERSONALIZATIONS):
            answer = self._post(request_body(message, content, chunk))
            for envelope in chunk:
                yield SendResult(
                    envelope.delivery_id,
                    answer.outcome,
                    provider_message_id=answer.message_id,
                    error=answer.error,
                    retry_after=answer.retry_after,
                )

    def close(self) -> None:
        pass  # urllib opens a connection per request: nothing is held open

    def _post(self, body: dict[str, Any]) -> _Answer:
        delay = self.backoff
        for attempt in range(1, self.max_attempts + 1):
            result = self._attempt(body)
            if isinstance(result, _Answer):
                return result
            if attempt == self.max_attempts:
                return _Answer(Outcome.TEMPORARY, error=result.error, retry_after=result.wait)
            self.sleep(delay if result.wait is None else result.wait)
            delay = min(delay * 2, self.max_wait)
        raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def _attempt(self, body: dict[str, Any]) -> _Answer | _Retry:
        try:
            response = self._api.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            return self._refused(exc)
        except (OSError, http.client.HTTPException) as exc:  # timeout, refused, reset
            return _Retry(f"SendGrid at {self.host}: no response: {_reason(exc)}")
        return _Answer(Outcome.SENT, message_id=response.headers.get("X-Message-Id"))

    def _refused(self, exc: HTTPError) -> _Answer | _Retry:
        status = int(exc.status_code)
        error = f"SendGrid replied {status}: {_body(exc.body)}"
        if status == 429:
            return _Retry(error, self._until_reset(exc.headers))
        if status >= 500:
            return _Retry(error)
        outcome = Outcome.TEMPORARY if status in KEY_REFUSED else Outcome.PERMANENT
        return _Answer(outcome, error=error)

    def _until_reset(self, headers: Any) -> float | None:
        """Seconds until `X-RateLimit-Reset` (epoch seconds), at most `max_wait`."""
        try:
            reset = float(headers.get("X-RateLimit-Reset"))
        except (TypeError, ValueError, AttributeError):
            return None
        return min(max(reset - self.clock(), 0.0), self.max_wait)


def split(batch: Sequence[Envelope], limit: int) -> list[list[Envelope]]:
    """Chunks of at most `limit` envelopes, no address twice in one chunk (order kept)."""
    chunks: list[tuple[list[Envelope], set[str]]] = []
    for envelope in batch:
        address = envelope.recipient.email.lower()
        for chunk, seen in chunks:
            if address not in seen and len(chunk) < limit:
                break
        else:
            chunk, seen = [], set()
            chunks.append((chunk, seen))
        chunk.append(envelope)
        seen.add(address)
    return [chunk for chunk, _ in chunks]


def request_body(
    message: OutgoingMessage, content: Substituted, chunk: Sequence[Envelope]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [_personalization(message, envelope) for envelope in chunk],
        "from": _address(message.from_email, message.from_name),
        "subject": content.subject,
        "content": [
            {"type": "text/plain", "value": content.text},
            {"type": "text/html", "value": content.html},
        ],
    }
    if message.reply_to:
        body["reply_to"] = {"email": message.reply_to}
    return body


def _personalization(message: OutgoingMessage, envelope: Envelope) -> dict[str, Any]:
    recipient = envelope.recipient
    return {
        "to": [_address(recipient.email, recipient.name)],
        "substitutions": dict(message.substitutions(envelope)),
        "headers": dict(message.personal_headers(envelope)),
        "custom_args": {
            "campaign_id": str(envelope.campaign_id),
            "delivery_id": str(envelope.delivery_id),
        },
    }


def _address(email: str, name: str) -> dict[str, str]:
    name = " ".join(header_text(name).split())
    return {"email": email, "name": name} if name else {"email": email}


def _body(raw: bytes | str | None) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    return " ".join(text.split())[:2000] or "(empty body)"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    return str(reason or exc) or type(exc).__name__
