"""Which stored article an imported source is, so that moving a file never duplicates it.

Tried in order, within the articles of the same kind of source ("file", "upstream"…):

1. the front matter `id` (the source id): the same id is the same article, wherever
   the file lives;
2. the `canonical_url`: one URL, one article;
3. the path (for files without an id, the path is the source id): an article edited in
   place;
4. the fingerprint of title and date, only when the article's last file is gone: the
   file was moved or renamed. Two live files with the same title and date stay two
   articles.

Found by 2 or 4 (or by 1 from another path), the article is reported "moved" and its
source id and path follow the file. An article already matched by another file of the
same import is never matched twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.store.models import Article

PathExists = Callable[[str], bool]


@dataclass(frozen=True)
class Match:
    article: Article | None
    by: str | None = None  # "id", "canonical_url", "path", "fingerprint"

    def moved(self, source_path: str | None) -> bool:
        """Found, but last imported from somewhere else."""
        if self.article is None or source_path is None:
            return False
        if self.article.source_path is None:  # stored before paths were kept
            return self.by == "fingerprint" or (
                self.by == "canonical_url" and self.article.source_id != source_path
            )
        return self.article.source_path != source_path


def fingerprint(title: str, date: datetime | None) -> str:
    """Title (case and spacing ignored) and date (to the second, UTC), hashed."""
    words = " ".join(title.casefold().split())
    when = date.astimezone(UTC).replace(microsecond=0).isoformat() if date else ""
    return hashlib.sha256(f"{words}\n{when}".encode()).hexdigest()


def find(
    session: Session,
    kind: str,
    source_id: str,
    *,
    canonical_url: str | None = None,
    source_path: str | None = None,
    fingerprint: str | None = None,
    path_exists: PathExists | None = None,
    claimed: Collection[int] = (),
) -> Match:
    """The stored article the source is, and how it was recognised."""
    same_kind = select(Article).where(Article.source == kind)
    if claimed:
        same_kind = same_kind.where(Article.id.not_in(list(claimed)))
    article = session.scalar(same_kind.where(Article.source_id == source_id))
    if article is not None:
        return Match(article, "id")
    if canonical_url:
        query = same_kind.where(Article.canonical_url == canonical_url).order_by(Article.id)
        article = session.scalars(query).first()
        if article is not None:
            return Match(article, "canonical_url")
    if source_path and source_path != source_id:  # a file given an id where it lies
        article = session.scalar(same_kind.where(Article.source_id == source_path))
        if article is not None:
            return Match(article, "path")
    if fingerprint and path_exists is not None:
        query = same_kind.where(Article.fingerprint == fingerprint).order_by(Article.id)
        for article in session.scalars(query):
            if not path_exists(article.source_path or article.source_id):
                return Match(article, "fingerprint")
    return Match(None)
