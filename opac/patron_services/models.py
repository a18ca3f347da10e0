"""Purchase suggestions and lists (patrons' own lists and course reading lists)."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import Record, utcnow
from ..extensions import db

SUGGESTION_STATUSES = ("submitted", "accepted", "ordered", "arrived", "rejected")
#: The steps staff may take from each status.
SUGGESTION_STEPS = {
    "submitted": ("accepted", "rejected"),
    "accepted": ("ordered", "rejected"),
    "ordered": ("arrived", "rejected"),
    "arrived": (),
    "rejected": (),
}
LIST_KINDS = ("personal", "course")


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


class PurchaseSuggestion(db.Model):
    """A patron's suggestion that the library buy a title ("usulan koleksi")."""

    __tablename__ = "purchase_suggestion"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    author: Mapped[str | None] = mapped_column(String(200))
    isbn: Mapped[str | None] = mapped_column(String(13))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="submitted", index=True)
    #: why it was rejected (shown to the patron)
    staff_reason: Mapped[str | None] = mapped_column(Text)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("record.id", ondelete="SET NULL"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("hold.id", ondelete="SET NULL"))
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    record: Mapped[Record | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"status IN {SUGGESTION_STATUSES!r}", name="suggestion_status"),
        Index("ix_suggestion_patron_created", "patron_id", "created_at"),
    )


class ReadingList(db.Model):
    """A patron's own list (private, or shared read-only by an unguessable link) or a course
    reading list ("daftar bacaan mata kuliah"), public, made by staff or a lecturer."""

    __tablename__ = "reading_list"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="personal")
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    course_code: Mapped[str | None] = mapped_column(String(32))
    course_name: Mapped[str | None] = mapped_column(String(200))
    #: set while a personal list is shared; None = private
    share_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    entries: Mapped[list[ReadingListEntry]] = relationship(
        back_populates="reading_list", cascade="all, delete-orphan", order_by="ReadingListEntry.id")

    __table_args__ = (
        CheckConstraint(f"kind IN {LIST_KINDS!r}", name="reading_list_kind"),
        Index("ix_reading_list_kind_course", "kind", "course_code"),
    )


class ReadingListEntry(db.Model):
    __tablename__ = "reading_list_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("reading_list.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reading_list: Mapped[ReadingList] = relationship(back_populates="entries")
    record: Mapped[Record] = relationship()

    __table_args__ = (Index("uq_reading_list_entry", "list_id", "record_id", unique=True),)


class ClearanceLetter(db.Model):
    """A clearance letter ("surat bebas pustaka"): the patron owed the library nothing on the day it
    was issued. Anyone can check it at its unguessable public link (printed as a QR code)."""

    __tablename__ = "clearance_letter"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_share_token)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="SET NULL"), index=True)
    #: as on the day of issue (the letter stays checkable if the account is later removed)
    patron_name: Mapped[str] = mapped_column(String(200))
    card_number: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))

    __table_args__ = (
        # one letter in force per patron: a double tap or two tabs cannot issue a second
        Index("uq_clearance_letter_patron_active", "patron_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )


class SavedSearch(db.Model):
    """A search a patron saved (its words and filters, as a canonical query string) and, when
    ``alerts`` is on, checks weekly for records added since: each new match is announced once."""

    __tablename__ = "saved_search"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: the search's URL parameters without sort and page, e.g. ``q=sejarah&type=book``
    query: Mapped[str] = mapped_column(String(1000))
    alerts: Mapped[bool] = mapped_column(default=True)
    #: also by e-mail / Web Push (the in-app list always shows them)
    alert_email: Mapped[bool] = mapped_column(default=False)
    alert_push: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the alert last looked (records added after this, less a margin for index lag, are new)
    checked_at: Mapped[datetime | None] = mapped_column()
    next_check_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: when the patron last opened the saved searches page: later matches are marked "new"
    seen_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("uq_saved_search_patron_query", "patron_id", "query", unique=True),)


class SavedSearchMatch(db.Model):
    """A record a saved search's alert announced: at most once per record and saved search."""

    __tablename__ = "saved_search_match"
    id: Mapped[int] = mapped_column(primary_key=True)
    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_search.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), index=True)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)

    record: Mapped[Record] = relationship()

    __table_args__ = (Index("uq_saved_search_match", "saved_search_id", "record_id", unique=True),)


class VisitCount(db.Model):
    """Visits to the library counted by the entrance QR code, per local day and hour, with no
    patron attached (for accreditation reports)."""

    __tablename__ = "visit_count"
    day: Mapped[date] = mapped_column(primary_key=True)
    hour: Mapped[int] = mapped_column(primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)

    __table_args__ = (CheckConstraint("hour >= 0 AND hour <= 23", name="hour"),)


class PatronVisit(db.Model):
    """A patron's own record of a visit: one per local day (so a visit is counted once), shown only
    to the patron, deleted when they ask or after VISIT_RETENTION_DAYS."""

    __tablename__ = "patron_visit"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(index=True)
    visited_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_patron_visit_day", "patron_id", "day", unique=True),)
