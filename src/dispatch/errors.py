"""Every error Dispatch raises on purpose.

The tree::

    DispatchError                      root; `str()` says what went wrong and where
    ├── ConfigError                    config.toml is missing, unreadable or invalid
    ├── StoreError                     the database cannot be reached or migrated
    ├── NotFound(DispatchError, LookupError)
    │                                  something the user named does not exist
    ├── IngestError(DispatchError, ValueError)
    │                                  an input file cannot become an article (path, line)
    └── CsvRowError(DispatchError, ValueError)
                                       a CSV row cannot become a subscriber (line)

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

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")
