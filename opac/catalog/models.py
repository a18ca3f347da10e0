"""Catalogue models: bibliographic records, their items (copies) and locations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, and_, false
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db
from .material_types import DEFAULT, MATERIAL_TYPES

ITEM_STATUSES = (
    "available", "on_loan", "on_hold_shelf", "in_transit", "missing", "lost", "not_for_loan", "withdrawn",
)
#: Statuses staff may set by hand on the record page (the others belong to circulation).
EDITABLE_ITEM_STATUSES = ("available", "missing", "lost", "not_for_loan", "withdrawn")
#: Statuses a patron can place a hold on / borrow from eventually.
HOLDABLE_STATUSES = ("available", "on_loan", "on_hold_shelf", "in_transit")


def utcnow() -> datetime:
    """Now in UTC (naive), from the one clock tests can move (opac.clock)."""
    return clock.now()


class Location(db.Model):
    """A branch or shelving location where items live and holds can be picked up."""

    __tablename__ = "location"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    is_pickup: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<Location {self.code}>"


class Description:
    """The descriptive columns of a bibliographic record, shared by our records and partners' records
    (``opac.partners.models.PartnerRecord``): one mapping, one index document builder for both."""

    title: Mapped[str] = mapped_column(Text)
    subtitle: Mapped[str | None] = mapped_column(Text)
    responsibility: Mapped[str | None] = mapped_column(Text)
    edition: Mapped[str | None] = mapped_column(String(200))
    publisher: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(index=True)
    material_type: Mapped[str] = mapped_column(String(20), default=DEFAULT)
    call_number: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[str | None] = mapped_column(Text)
    physical: Mapped[str | None] = mapped_column(String(300))
    #: [{"name": "Toer, Pramoedya Ananta", "role": "author", "kind": "person"}]
    authors: Mapped[list] = mapped_column(JSON, default=list)
    subjects: Mapped[list] = mapped_column(JSON, default=list)
    #: MARC language codes, e.g. ["ind", "eng"]
    languages: Mapped[list] = mapped_column(JSON, default=list)
    #: Normalised ISBN-13s; invalid ISBNs as typed (digits only) after them.
    isbns: Mapped[list] = mapped_column(JSON, default=list)
    issns: Mapped[list] = mapped_column(JSON, default=list)
    series: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    #: [{"url": ..., "label": ...}] from 856
    links: Mapped[list] = mapped_column(JSON, default=list)
    cover_url: Mapped[str | None] = mapped_column(Text)

    @property
    def author_names(self) -> list[str]:
        return [a["name"] for a in self.authors or []]

    @property
    def main_author(self) -> str | None:
        return self.authors[0]["name"] if self.authors else None

    @property
    def full_title(self) -> str:
        return f"{self.title}: {self.subtitle}" if self.subtitle else self.title


class Record(Description, db.Model):
    """A bibliographic record (one title/edition) held by this library, kept with its source MARC."""

    __tablename__ = "record"
    id: Mapped[int] = mapped_column(primary_key=True)
    control_number: Mapped[str] = mapped_column(String(64), unique=True)
    #: ISO 2709 MARC21 (UTF-8) as imported or generated from CSV/JSON input.
    marc: Mapped[bytes | None] = mapped_column(LargeBinary)
    source: Mapped[str | None] = mapped_column(String(64))
    #: Hidden from the public catalogue (SLiMS ``opac_hide``): not searched, no public page, not served
    #: to harvesters; its copies still circulate and staff still see it.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Set when staff withdraw the record: out of the search index, a deleted header for OAI-PMH harvesters.
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    #: Changes with every edit of the record or its copies' shelving; the OAI-PMH datestamp.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    items: Mapped[list[Item]] = relationship(
        back_populates="record", cascade="all, delete-orphan", order_by="Item.id"
    )

    __table_args__ = (
        CheckConstraint(f"material_type IN {MATERIAL_TYPES!r}", name="material_type"),
    )

    @hybrid_property
    def is_public(self) -> bool:
        """Whether patrons may reach the record (search, its page, covers, exports, holds, lists, the
        shelf...): not hidden and not withdrawn. Staff who edit the catalogue still see every record.
        The one rule, in Python and (``Record.is_public``) in SQL.

        >>> Record(hidden=False).is_public, Record(hidden=True).is_public
        (True, False)
        """
        return not self.hidden and self.withdrawn_at is None

    @is_public.inplace.expression
    @classmethod
    def _is_public_expression(cls):
        return and_(cls.hidden.is_(False), cls.withdrawn_at.is_(None))

    def __repr__(self) -> str:
        return f"<Record {self.control_number} {self.title[:30]!r}>"


class Item(db.Model):
    """A copy of a record with its barcode, shelf place and circulation status."""

    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), index=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    call_number: Mapped[str | None] = mapped_column(String(128))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    collection: Mapped[str | None] = mapped_column(String(64))
    copy_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="available")
    public_note: Mapped[str | None] = mapped_column(Text)
    #: shelf order of the item's (or its record's) call number, kept by patron_services.shelf
    shelf_key: Mapped[str | None] = mapped_column(String(160).with_variant(String(160, collation="C"), "postgresql"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    record: Mapped[Record] = relationship(back_populates="items")
    location: Mapped[Location | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(f"status IN {ITEM_STATUSES!r}", name="status"),
        Index("ix_item_record_status", "record_id", "status"),
        Index("ix_item_shelf_key", "shelf_key", "id"),
    )

    def __repr__(self) -> str:
        return f"<Item {self.barcode} {self.status}>"


class RecordTombstone(db.Model):
    """A deleted record remembered for harvesters (OAI-PMH ``deletedRecord persistent``).

    Written in the same transaction as the deletion; removed when the control number comes back.
    """

    __tablename__ = "record_tombstone"
    id: Mapped[int] = mapped_column(primary_key=True)
    control_number: Mapped[str] = mapped_column(String(64), unique=True)
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: The OAI set specs the record belonged to, space-separated with a space at both ends.
    sets: Mapped[str] = mapped_column(Text, default=" ")

    def __repr__(self) -> str:
        return f"<RecordTombstone {self.control_number}>"


class RecordEdit(db.Model):
    """One staff change to a record or its copies: who, when, and which fields (the record page's edit log).

    No foreign key to the record: the log of a deleted record stays, with its control number.
    """

    __tablename__ = "record_edit"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(index=True)
    control_number: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: edit, add_copy, edit_copy, withdraw, reinstate, delete
    action: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"<RecordEdit {self.control_number} {self.action}>"


_MOVES = ("location", "location_id", "collection", "record", "record_id")


def _touch_records_of_moved_items(session, _context, _instances) -> None:
    """A copy added, removed, or moved to another location or collection changes its record's OAI sets:
    move the record's datestamp so that incremental harvests see the change (circulation does not)."""
    from sqlalchemy import inspect

    now = utcnow()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, Item):
            continue
        state = inspect(obj)
        if obj in session.dirty and not any(state.attrs[a].history.has_changes() for a in _MOVES):
            continue
        record = obj.record if obj.record is not None else (
            session.get(Record, obj.record_id) if obj.record_id is not None else None)
        if record is not None and record not in session.deleted:
            record.updated_at = now


_installed = False


def install() -> None:
    """Register the datestamp hook once per process (it applies to every Flask-SQLAlchemy session)."""
    global _installed
    if _installed:
        return
    from flask_sqlalchemy.session import Session as FSASession
    from sqlalchemy import event

    event.listen(FSASession, "before_flush", _touch_records_of_moved_items)
    _installed = True
