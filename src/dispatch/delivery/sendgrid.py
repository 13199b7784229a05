"""`SendgridSender`: v3 Mail Send through the official `sendgrid` library.

One request (the engine's unit) carries up to 1000 personalizations, each address at most
once (a unit naming an address twice is split across requests). The content goes once per
request with substitution keys (`message.substituted()`); each personalization carries
that recipient's `substitutions`, its per-recipient `headers` (List-Unsubscribe …) and
`custom_args` with the campaign and delivery ids only (no personal data; they come back in
webhook events). Never `dynamic_template_data`.

What SendGrid answers becomes the result of every envelope in the request:

- `2xx` → SENT, with the `X-Message-Id` header as provider id;
- `400` naming personalizations (`personalizations.3.to.0.email`) → those recipients fail,
  PERMANENT with SendGrid's message, and the request is sent again without them;
- `429` → wait until `X-RateLimit-Reset` (at most `max_wait`) and retry; `5xx` and
  connections that could not be made → retry with exponential backoff; after
  `max_attempts` → `ProviderUnavailable` (temporary: the campaign resumes later);
- any other `4xx` (a `400` about the sender identity or the content, `401`/`403` for the
  key) → `ProviderUnavailable` with SendGrid's words: nobody is failed, and the campaign
  waits for someone to fix the settings;
- the request was sent and no response came (a read timeout, a reset) → UNKNOWN: SendGrid
  may have queued it, so it is not retried here (it would be a silent duplicate); the
  engine sends it again later and counts it in doubt.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from dispatch.config import Settings
from dispatch.delivery.base import (
    Admit,
    Envelope,
    Outcome,
    OutgoingMessage,
    ProviderUnavailable,
    SendResult,
    Substituted,
    build_or_fail,
)
from dispatch.delivery.mime import header_text
from dispatch.subscribers.addresses import wire_address

MAX_PERSONALIZATIONS = 1000


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


@dataclass(frozen=True, slots=True)
class _Stop:
    """The request as a whole was refused for a reason a retry will not change."""

    error: str


@dataclass(frozen=True, slots=True)
class _Refused:
    """A 400 naming recipients: their indexes in the request, and SendGrid's words."""

    indexes: tuple[int, ...]
    messages: dict[int, str]


PERSON_FIELD = re.compile(r"^personalizations\.(\d+)\.")


class SendgridSender:
    """Implements `dispatch.delivery.base.Sender` over SendGrid's v3 API."""

    name = "sendgrid"
    unit = MAX_PERSONALIZATIONS

    def __init__(
        self,
        api_key: str,
        host: str = "https://api.sendgrid.com",
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: float = 2.0,
        max_wait: float = 60.0,
        concurrency: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self.concurrency = concurrency
        self.clock = clock
        self.sleep = sleep
        self._api = SendGridAPIClient(api_key, host=host)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SendgridSender:
        key = settings.sendgrid_api_key.get_secret_value()
        options.setdefault("concurrency", settings.delivery.concurrency)
        return cls(key, host=settings.delivery.sendgrid.host, **options)

    def deliver(
        self, message: OutgoingMessage, envelopes: Sequence[Envelope], admit: Admit
    ) -> list[SendResult]:
        content = message.substituted()
        results: list[SendResult] = []
        requests: list[list[tuple[Envelope, dict[str, Any]]]] = []
        for chunk in split(envelopes, MAX_PERSONALIZATIONS):
            people: list[tuple[Envelope, dict[str, Any]]] = []
            for envelope in chunk:
                built = build_or_fail(envelope, partial(_personalization, message))
                if isinstance(built, SendResult):
                    results.append(built)
                else:
                    people.append((envelope, built))
            if people:
                requests.append(people)
        # Admitted once for the whole unit: a Halt between two requests (an address twice
        # in the unit) would lose the answers to the first one.
        if requests:
            admit([envelope for people in requests for envelope, _ in people])
        for people in requests:
            results.extend(self._request(message, content, people, results))
        return results

    def close(self) -> None:
        pass  # urllib opens a connection per request: nothing is held open

    def _request(
        self,
        message: OutgoingMessage,
        content: Substituted,
        people: list[tuple[Envelope, dict[str, Any]]],
        known: list[SendResult],
    ) -> list[SendResult]:
        """Post until SendGrid answers for everyone left; refused recipients are taken out."""
        refused: list[SendResult] = []
        while people:
            body = request_body(message, content, [p for _, p in people])
            answer = self._post(body, known + refused)
            if isinstance(answer, _Answer):
                return refused + [_result(e, answer) for e, _ in people]
            bad = set(answer.indexes)
            refused += [_refusal(people[i][0], answer.messages[i]) for i in sorted(bad)]
            people = [person for i, person in enumerate(people) if i not in bad]
        return refused

    def _post(self, body: dict[str, Any], known: list[SendResult]) -> _Answer | _Refused:
        delay = self.backoff
        for attempt in range(1, self.max_attempts + 1):
            result = self._attempt(body)
            if isinstance(result, _Answer | _Refused):
                return result
            if isinstance(result, _Stop):
                raise ProviderUnavailable(result.error, False, results=known)
            if attempt == self.max_attempts:
                raise ProviderUnavailable(result.error, True, result.wait, results=known)
            self.sleep(delay if result.wait is None else result.wait)
            delay = min(delay * 2, self.max_wait)
        raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def _attempt(self, body: dict[str, Any]) -> _Answer | _Refused | _Retry | _Stop:
        try:
            response = self._api.client.mail.send.post(request_body=body, timeout=self.timeout)
        except HTTPError as exc:
            return self._refused(exc, len(body["personalizations"]))
        except URLError as exc:  # the request could not be made: nothing reached SendGrid
            return _Retry(f"SendGrid at {self.host}: cannot connect: {_reason(exc)}")
        except (OSError, http.client.HTTPException) as exc:  # sent; no response came
            error = f"SendGrid at {self.host}: no response to the request: {_reason(exc)}"
            return _Answer(Outcome.UNKNOWN, error=error)
        return _Answer(Outcome.SENT, message_id=response.headers.get("X-Message-Id"))

    def _refused(self, exc: HTTPError, people: int) -> _Answer | _Refused | _Retry | _Stop:
        status = int(exc.status_code)
        error = f"SendGrid replied {status}: {_body(exc.body)}"
        if status == 429:
            return _Retry(error, self._until_reset(exc.headers))
        if status >= 500:
            return _Retry(error)
        if status == 400:
            found = _refused_people(exc.body, people)
            if found is not None:
                return found
        return _Stop(error)

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
    message: OutgoingMessage, content: Substituted, personalizations: list[dict[str, Any]]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": personalizations,
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
    wire = wire_address(recipient.email)
    if wire.needs_smtputf8:
        raise ValueError("SendGrid cannot send to an address with a non-ASCII local part")
    return {
        "to": [_address(wire.address, recipient.name)],
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


def _result(envelope: Envelope, answer: _Answer) -> SendResult:
    return SendResult(
        envelope.delivery_id,
        answer.outcome,
        provider_message_id=answer.message_id,
        error=answer.error,
        retry_after=answer.retry_after,
    )


def _refusal(envelope: Envelope, message: str) -> SendResult:
    error = f"SendGrid refused this recipient (400): {message}"
    return SendResult(envelope.delivery_id, Outcome.PERMANENT, error=error)


def _refused_people(raw: bytes | str | None, people: int) -> _Refused | None:
    """The recipients a 400 names, if every error in it names one of the `people` in the
    request (else None: the request as a whole is at fault)."""
    try:
        errors = json.loads(raw or b"")["errors"]
        found: dict[int, str] = {}
        for item in errors:
            match = PERSON_FIELD.match(str(item.get("field") or ""))
            if match is None:
                return None
            index = int(match.group(1))
            if index >= people:
                return None
            found[index] = "; ".join(filter(None, [found.get(index), str(item.get("message"))]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return _Refused(tuple(sorted(found)), found) if found else None


def _body(raw: bytes | str | None) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    return " ".join(text.split())[:2000] or "(empty body)"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    return str(reason or exc) or type(exc).__name__
