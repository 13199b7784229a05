"""What every webhook does with a request before trusting it: a refusal that is logged,
a body read within its limit, and JSON parsed strictly (no NaN, no NUL for PostgreSQL)."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from fastapi import HTTPException, Request

log = logging.getLogger("dispatch.web.webhooks")

# `\u0000` escapes outside an escaped backslash: PostgreSQL text and JSONB refuse NUL.
NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
JSON_KINDS = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
}


def reject(status: int, reason: str, where: str = "sendgrid") -> HTTPException:
    log.warning("webhooks/%s: %s %s", where, status, reason)
    return HTTPException(status_code=status, detail=reason)


async def read_body(request: Request, limit: int, where: str = "sendgrid") -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise reject(413, f"body larger than {limit} bytes", where)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise reject(413, f"body larger than {limit} bytes", where)
    return bytes(body)


def json_value(text: str, where: str = "sendgrid") -> Any:
    try:
        return json.loads(
            NUL_ESCAPE.sub(r"\1\\ufffd", text),
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except (ValueError, RecursionError) as exc:
        raise reject(400, f"body is not valid JSON: {exc}", where) from None


def kind_of(value: Any) -> str:
    return JSON_KINDS.get(type(value), "a value")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value
