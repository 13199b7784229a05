"""Every error Dispatch raises on purpose.

The tree::

    DispatchError                      root; `str()` says what went wrong and where
    ├── ConfigError                    config.toml is missing, unreadable or invalid
    ├── StoreError                     the database cannot be reached or migrated
    ├── NotFound(DispatchError, LookupError)
    │                                  something the user named does not exist
    ├── IngestError(DispatchError, ValueError)
    │                                  an input file cannot become an article (path, line)
    ├── CsvRowError(DispatchError, ValueError)
    │                                  a CSV row or header cannot become a subscriber (path, line)
    ├── InvalidAddress(DispatchError, ValueError)
    │                                  an email address is malformed or reads as another one
    ├── RenderError                    a template cannot be rendered or compiled (names it)
    ├── PublishError                   a static file cannot be written or removed (path)
    ├── CampaignError                  a campaign cannot do what was asked (id, status, why)
    ├── ScheduleError(DispatchError, ValueError)
    │                                  an article cannot be scheduled as asked (time, why)
    ├── MediaError(DispatchError, ValueError)
    │                                  an image cannot be stored (name, why)
    ├── SegmentError(DispatchError, ValueError)
    │                                  a segment expression cannot be read (column, why)
    ├── TagError(DispatchError, ValueError)
    │                                  a subscriber tag is empty, too long or holds `,` `;`
    ├── UpstreamError                  an upstream feed cannot be fetched or parsed (url, why)
    ├── SchedulerLocked                another scheduler already runs for this database (holder)
    ├── AuthError                      a login, session cookie or API token is refused (why)
    ├── AccountError(DispatchError, ValueError)
    │                                  an editor or API token cannot be created or changed (why)
    ├── ListError(DispatchError, ValueError)
    │                                  a list cannot be created or changed as asked (field, why)
    └── TokenError(DispatchError, ValueError)
        │                              a signed link token is forged, tampered or malformed
        └── TokenExpired               a signed link token is genuine but too old

Errors that concern one input item carry its location so that the CLI can print
`path:line: reason` and carry on with the rest of the work.
"""

from __future__ import annotations

from pathlib import Path


class DispatchError(Exception):
    """Root of every error Dispatch raises on purpose."""


class ConfigError(DispatchError):
    """The configuration file is missing, unreadable or invalid."""


class StoreError(DispatchError):
    """The database cannot be reached, opened or migrated."""


class NotFound(DispatchError, LookupError):
    """Something the user named does not exist."""


class IngestError(DispatchError, ValueError):
    """An input file cannot become an article."""

    def __init__(self, path: Path | str, reason: str, line: int = 1) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{self.path}:{line}: {reason}")


class CsvRowError(DispatchError, ValueError):
    """A CSV row cannot become a subscriber."""

    def __init__(self, line: int, reason: str, path: Path | str | None = None) -> None:
        self.line = line
        self.reason = reason
        self.path = Path(path) if path is not None else None
        where = f"{self.path}:{line}" if self.path is not None else f"line {line}"
        super().__init__(f"{where}: {reason}")


class InvalidAddress(DispatchError, ValueError):
    """An email address is malformed or refused; `str()` gives the address and the
    reason, `reason` the reason alone (what a form shows beside the field)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class RenderError(DispatchError):
    """A template cannot be rendered, or its MJML cannot be compiled; names the template."""


class TokenError(DispatchError, ValueError):
    """A signed link token is forged, tampered with, malformed or for another purpose."""


class TokenExpired(TokenError):
    """A signed link token is genuine but older than its purpose allows."""


class CampaignError(DispatchError):
    """A campaign cannot be created, started, paused, resumed or cancelled as asked."""


class ScheduleError(DispatchError, ValueError):
    """An article cannot be scheduled, rescheduled or unscheduled as asked; says why."""


class MediaError(DispatchError, ValueError):
    """An image is refused (not an image, too large, unsupported); names it and says why."""


class SegmentError(DispatchError, ValueError):
    """A segment expression cannot be read or used; `column` (1-based) is where, when known."""

    def __init__(self, reason: str, column: int | None = None) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"column {column}: {reason}" if column is not None else reason)


class TagError(DispatchError, ValueError):
    """A tag is empty, too long, holds a separator or control character, or one too many."""


class PublishError(DispatchError):
    """A static file (a feed) cannot be written or removed; names the path."""


class SchedulerLocked(DispatchError):
    """Another scheduler already runs for this database; `str()` names the holder."""


class UpstreamError(DispatchError):
    """An upstream RSS/Atom feed cannot be fetched or parsed; names the URL and why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class AuthError(DispatchError):
    """A login, a session cookie or an API token is refused; `str()` says why (for logs)."""


class AccountError(DispatchError, ValueError):
    """An editor or API token cannot be created or changed as asked (duplicate, weak password,
    unknown scope); `str()` names it and says why."""


class ListError(DispatchError, ValueError):
    """A mailing list cannot be created or changed as asked (which field, why)."""
