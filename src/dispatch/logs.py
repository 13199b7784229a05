"""Structured logs: one line per event that an operator can grep.

    2026-11-26T07:00:01.000Z info event=campaign.started campaign=12 list=briefing recipients=5000

`event(logger, "campaign.started", campaign=12, …)` logs at INFO (or `level=`); the
fields travel on the record, so `configure()` can print them as `key=value` (default)
or as one JSON object per line (`[logging] json = true` or `--log-json`). Values with
spaces, quotes or `=` are quoted JSON-style, so every line splits unambiguously.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from dispatch.config import LoggingSettings

FIELDS = "dispatch_fields"  # the LogRecord attribute that carries an event's fields
QUIET = ("apscheduler", "alembic")  # chatty below WARNING (a line per job run or migration check)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log the event `name` with its fields (None values are left out)."""
    values = {"event": name, **{k: v for k, v in fields.items() if v is not None}}
    logger.log(level, name, extra={FIELDS: values})


def _value(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    if not text or any(c.isspace() or c in '"=\\' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, FIELDS, None)
    if fields is not None:
        return dict(fields)
    return {"event": "log", "logger": record.name, "message": record.getMessage()}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info).splitlines()[-1]
        pairs = " ".join(f"{key}={_value(value)}" for key, value in fields.items())
        return f"{_timestamp(record)} {record.levelname.lower()} {pairs}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _timestamp(record), "level": record.levelname.lower()}
        fields.update(_fields(record))
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str, ensure_ascii=False)


def configure(
    settings: LoggingSettings, json_lines: bool | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to `stream` (stderr) as key=value or JSON lines."""
    use_json = settings.json_lines if json_lines is None else json_lines
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else KeyValueFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "dispatch", False)]:
        root.removeHandler(old)
    handler.dispatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
