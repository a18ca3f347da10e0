"""What a librarian's day needs at a glance: read-only counts for the staff home, each with its list."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..catalog.models import Item
from ..circulation import rules
from ..circulation.models import Hold, Loan
from ..extensions import db
from ..mail import OutboxEmail


def local_day_start(day: date) -> datetime:
    """Midnight of ``day`` in the library's time zone, as the naive UTC the database stores."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _count(query) -> int:
    return db.session.scalar(query) or 0


def holds_to_pull(today: date) -> list[tuple[Hold, list[Item]]]:
    """Waiting holds (oldest first, one per title) whose title has a copy on the shelf to fetch."""
    waiting = db.session.scalars(select(Hold).where(Hold.status == "waiting").order_by(Hold.placed_at)).all()
    to_pull, seen = [], set()
    for h in waiting:
        if h.record_id in seen or h.is_suspended(today):
            continue
        copies = db.session.scalars(select(Item).where(Item.record_id == h.record_id,
                                                       Item.status == "available")).all()
        if copies:
            seen.add(h.record_id)
            to_pull.append((h, copies))
    return to_pull


def overdue_loans(today: date, limit: int = 500) -> list[Loan]:
    """Open loans past their due date, the longest overdue first."""
    return db.session.scalars(select(Loan).where(Loan.returned_at.is_(None), Loan.due_date < today)
                              .order_by(Loan.due_date, Loan.id).limit(limit)).all()


def mail_failures_since(start: datetime) -> int:
    """Outbox messages created since ``start`` that failed and are not sent (whatever failure field exists)."""
    failed = OutboxEmail.error.isnot(None)
    status = getattr(OutboxEmail, "status", None)  # the delivery queue's dead-letter state, when it exists
    if status is not None:
        failed = failed | status.in_(("failed", "dead"))
    return _count(select(func.count()).select_from(OutboxEmail).where(
        failed, OutboxEmail.sent_at.is_(None), OutboxEmail.created_at >= start))


def self_checkouts_since(start: datetime) -> int | None:
    """Loans made by patrons themselves since ``start``; None while loans have no ``channel``."""
    channel = getattr(Loan, "channel", None)
    if channel is None:
        return None
    return _count(select(func.count()).select_from(Loan).where(
        channel == "self", Loan.checked_out_at >= start))


def desk_counts(staff) -> dict:
    """The staff home's counts (all read-only)."""
    from ..accounts.models import StaffNotice
    from ..reference.models import Question

    today = rules.today()
    start = local_day_start(today)
    waiting_q = (Question.status == "received", Question.purged_at.is_(None))
    oldest = db.session.scalar(select(func.min(Question.created_at)).where(*waiting_q))
    return {
        "questions": _count(select(func.count()).select_from(Question).where(*waiting_q)),
        "oldest_question": oldest,
        "to_pull": len(holds_to_pull(today)),
        "in_transit": _count(select(func.count()).select_from(Hold).where(Hold.status == "in_transit")),
        "ready": _count(select(func.count()).select_from(Hold).where(Hold.status == "ready")),
        "expiring": _count(select(func.count()).select_from(Hold).where(
            Hold.status == "ready", Hold.pickup_by <= today)),
        "overdue": _count(select(func.count()).select_from(Loan).where(
            Loan.returned_at.is_(None), Loan.due_date < today)),
        "self_checkouts": self_checkouts_since(start),
        "mail_failures": mail_failures_since(start),
        "notices": _count(select(func.count()).select_from(StaffNotice).where(
            StaffNotice.staff_id == staff.id, StaffNotice.read_at.is_(None))),
    }
