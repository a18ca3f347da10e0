"""The index change feed: an ordered log of record changes that every node's follower reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
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
