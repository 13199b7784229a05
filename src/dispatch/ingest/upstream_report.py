"""What polling upstream feeds did: one `PollResult` per feed, a `PollReport` for a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    FETCHED = "fetched"  # 200: entries read and imported
    NOT_MODIFIED = "not-modified"  # 304
    RETIRED = "retired"  # 410
    FAILED = "failed"  # backed off


@dataclass(frozen=True)
class PollResult:
    key: str
    url: str  # the URL fetched
    outcome: Outcome
    http_status: int | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # entries that could not become articles
    kept: int = 0  # entries of a malformed feed not applied: they would shorten an article
    degraded: str | None = None  # the parser's message when the feed was malformed
    moved_to: str | None = None  # the feed's new permanent URL (301/308)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.FAILED

    def line(self) -> str:
        """One grep-able line: `source=… url=… status=… http=… new=… updated=…`."""
        parts = [
            f"source={self.key}",
            f"url={self.url}",
            f"status={self.outcome.value}",
            f"http={self.http_status or '-'}",
            f"new={self.new}",
            f"updated={self.updated}",
            f"unchanged={self.unchanged}",
        ]
        if self.skipped:
            parts.append(f"skipped={self.skipped}")
        if self.kept:
            parts.append(f"kept={self.kept}")
        if self.degraded:
            parts.append(f'degraded="{self.degraded}"')
        if self.moved_to:
            parts.append(f"moved_to={self.moved_to}")
        if self.error:
            parts.append(f'error="{self.error}"')
        return " ".join(parts)


@dataclass
class PollReport:
    results: list[PollResult] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(result.new for result in self.results)

    @property
    def updated(self) -> int:
        return sum(result.updated for result in self.results)

    @property
    def failed(self) -> list[PollResult]:
        return [result for result in self.results if not result.ok]

    @property
    def changed(self) -> bool:
        """True when articles were created or updated (the feeds need a rebuild)."""
        return self.new + self.updated > 0

    def summary(self) -> str:
        return (
            f"{len(self.results)} polled, {self.new} new, {self.updated} updated, "
            f"{len(self.failed)} failed"
        )
