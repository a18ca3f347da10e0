"""The index outbox: record ids whose index documents must be rewritten."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.models import utcnow
from ..extensions import db


class IndexOutbox(db.Model):
    """Written in the same transaction as the change; deleted once the index has it.

    No foreign key: a deleted record's row must survive the record to remove its document.
    """

    __tablename__ = "index_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
