"""The article, list and subscriber store (SQLAlchemy 2 + Alembic)."""

from dispatch.store.database import Database, make_engine
from dispatch.store.models import (
    Article,
    ArticleSlug,
    ArticleStatus,
    Base,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

__all__ = [
    "Article",
    "ArticleSlug",
    "ArticleStatus",
    "Base",
    "Database",
    "MailingList",
    "Subscriber",
    "Subscription",
    "SubscriptionStatus",
    "Suppression",
    "make_engine",
]
