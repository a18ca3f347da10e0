"""Loans, renewals, holds, rules, the library calendar, and the notices sent for each loan.

Invariants that concurrent requests could break live in the database: one open loan per item,
one active hold per patron and title, one ready hold per copy, one use of an idempotency key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import Item, Location, Record, utcnow
from ..extensions import db

HOLD_STATUSES = ("waiting", "in_transit", "ready", "fulfilled", "cancelled", "expired")
ACTIVE_HOLD = ("waiting", "in_transit", "ready")


class CirculationPolicy(db.Model):
    """Loan rules for a patron category × material type (either may be None: any)."""

    __tablename__ = "circulation_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("patron_category.id"))
    material_type: Mapped[str | None] = mapped_column(String(20))
    loan_days: Mapped[int] = mapped_column(default=14)
    max_loans: Mapped[int] = mapped_column(default=5)
    max_renewals: Mapped[int] = mapped_column(default=2)
    max_holds: Mapped[int] = mapped_column(default=5)
    #: "due_date": a renewal extends from the old due date; "today": from the day of renewal
    renew_from: Mapped[str] = mapped_column(String(10), default="due_date")
    #: renewals allowed only this many days before the due date (None: any time)
    renew_window_days: Mapped[int | None] = mapped_column()
    renew_overdue: Mapped[bool] = mapped_column(default=False)
    pickup_days: Mapped[int] = mapped_column(default=3)
    fine_per_day: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("category_id", "material_type", name="uq_policy_category_type"),
        CheckConstraint("renew_from IN ('due_date', 'today')", name="renew_from"),
        CheckConstraint("loan_days > 0 AND max_loans >= 0 AND max_renewals >= 0 AND max_holds >= 0", name="limits"),
    )


class Holiday(db.Model):
    """A day the library is closed (besides the closed weekdays in settings)."""

    __tablename__ = "holiday"
    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Loan(db.Model):
    __tablename__ = "loan"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("record.id", ondelete="SET NULL"))
    #: NULL once the loan is anonymised
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="SET NULL"), index=True)
    checked_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_date: Mapped[date] = mapped_column()
    returned_at: Mapped[datetime | None] = mapped_column()
    renewals: Mapped[int] = mapped_column(default=0)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    due_notice_for: Mapped[date | None] = mapped_column()
    overdue_notices: Mapped[int] = mapped_column(default=0)
    #: how the loan was made: "desk" (by staff) or "self" (self-checkout with the patron's phone)
    channel: Mapped[str] = mapped_column(String(8), default="desk", server_default="desk")

    item: Mapped[Item] = relationship(lazy="joined")
    record: Mapped[Record | None] = relationship()

    __table_args__ = (
        # one open loan per item, whatever the application does
        Index("uq_loan_item_open", "item_id", unique=True, sqlite_where=text("returned_at IS NULL"),
              postgresql_where=text("returned_at IS NULL")),
        Index("ix_loan_open_due", "returned_at", "due_date"),
        CheckConstraint("renewals >= 0", name="renewals"),
        Index("ix_loan_channel", "channel", "checked_out_at"),
    )

    @property
    def is_open(self) -> bool:
        return self.returned_at is None

    def is_overdue(self, today: date) -> bool:
        return self.returned_at is None and self.due_date < today


class Renewal(db.Model):
    """Renewal history of a loan."""

    __tablename__ = "renewal"
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id", ondelete="CASCADE"), index=True)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    old_due: Mapped[date] = mapped_column()
    new_due: Mapped[date] = mapped_column()
    by: Mapped[str] = mapped_column(String(10), default="patron")


class Hold(db.Model):
    """A title-level hold. Queue position is derived (placed order of active holds), so it never
    has gaps or duplicates, and cancelling closes the gap by itself."""

    __tablename__ = "hold"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"), index=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    pickup_location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    suspended_until: Mapped[date | None] = mapped_column()
    not_needed_after: Mapped[date | None] = mapped_column()
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"))
    ready_at: Mapped[datetime | None] = mapped_column()
    pickup_by: Mapped[date | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    record: Mapped[Record] = relationship()
    pickup_location: Mapped[Location] = relationship(lazy="joined")
    item: Mapped[Item | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"status IN {HOLD_STATUSES!r}", name="status"),
        Index("uq_hold_patron_record_active", "patron_id", "record_id", unique=True,
              sqlite_where=text("status IN ('waiting', 'in_transit', 'ready')"),
              postgresql_where=text("status IN ('waiting', 'in_transit', 'ready')")),
        Index("uq_hold_item_set_aside", "item_id", unique=True,
              sqlite_where=text("status IN ('in_transit', 'ready')"),
              postgresql_where=text("status IN ('in_transit', 'ready')")),
        Index("ix_hold_record_queue", "record_id", "status", "placed_at"),
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_HOLD

    def is_suspended(self, today: date) -> bool:
        return self.status == "waiting" and self.suspended_until is not None and self.suspended_until >= today


class IdempotencyKey(db.Model):
    """A request key already answered: a resubmitted or concurrent duplicate gets the same answer."""

    __tablename__ = "idempotency_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(100))
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("owner", "key", name="uq_idempotency_owner_key"),)


class Fine(db.Model):
    __tablename__ = "fine"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loan.id", ondelete="SET NULL"))
    amount: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column()


class LoanNotice(db.Model):
    """A due-soon or overdue notice sent for a loan: the unique key makes each one go out once,
    however often (or concurrently) the daily run runs. ``kind``: due_soon, overdue_1, overdue_7…"""

    __tablename__ = "loan_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    due_date: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("loan_id", "kind", "due_date", name="uq_loan_notice_loan_kind_due"),)
