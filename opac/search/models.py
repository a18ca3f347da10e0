"""The index change feed: an ordered log of record changes that every node's follower reads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.models import utcnow
from ..extensions import db

#: kinds of change (informative: the follower always reads the record's current state)
CHANGE_KINDS = ("upsert", "delete")


class IndexChange(db.Model):
    """One row per record changed by a transaction, written in that transaction.

    Never deleted when applied (each node keeps its own position); pruned after
    ``INDEX_FEED_RETENTION_DAYS``. No foreign key: a deleted record's row must outlive the record.
    On SQLite ``AUTOINCREMENT`` keeps ids growing even after pruning empties the table.
    """

    __tablename__ = "index_change"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    record_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(8), default="upsert")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SearchMiss(db.Model):
    """How often a query found nothing on one day (the library's local day): aggregate only, with no
    patron, session or address. One row per (day, normalised query), counted up by an upsert."""

    __tablename__ = "search_miss"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    query: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(default=1)

    __table_args__ = (UniqueConstraint("day", "query", name="uq_search_miss_day_query"),)
