"""The nightly run's notices: due soon and overdue, each sent once per loan, kind and due date.

Notices are ``opac.notifications`` events; nothing is sent here (the worker sends the queues).
A ``LoanNotice`` row is written before the notice, under a unique key (loan, kind, due date), so a
second run the same day, a re-run after a crash, or two runs at once never send one twice.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Patron
from ..extensions import db
from ..notifications.events import Notice, emit
from . import rules
from .models import Loan, LoanNotice
from .services import expire_holds

#: Days late at which an overdue notice goes out.
OVERDUE_STEPS = (1, 7, 14)


def record_notice(loan: Loan, kind: str) -> bool:
    """Claim the (loan, kind, due date) notice; False if it was already sent (or is being sent)."""
    try:
        with db.session.begin_nested():
            db.session.add(LoanNotice(loan_id=loan.id, kind=kind, due_date=loan.due_date))
            db.session.flush()
    except IntegrityError:
        return False
    return True


def overdue_step(days_late: int) -> int | None:
    """The overdue notice due at ``days_late`` days late: the highest step reached.

    >>> [overdue_step(d) for d in (0, 1, 6, 7, 20)]
    [None, 1, 1, 7, 14]
    """
    reached = [s for s in OVERDUE_STEPS if days_late >= s]
    return reached[-1] if reached else None


def send_due_and_overdue_notices(today: date | None = None) -> tuple[int, int]:
    """Due-soon notices (patron's chosen days ahead) and overdue notices (day 1, 7 and 14)."""
    today = today or rules.today()
    due_soon = overdue = 0
    open_loans = db.session.scalars(select(Loan).where(Loan.returned_at.is_(None), Loan.patron_id.is_not(None))
                                    .order_by(Loan.id)).all()
    patrons = {p.id: p for p in db.session.scalars(select(Patron).where(
        Patron.id.in_({loan.patron_id for loan in open_loans} or {0})))}
    for loan in open_loans:
        patron = patrons.get(loan.patron_id)
        if patron is None:
            continue
        days_left = (loan.due_date - today).days
        params = {"title": loan.item.record.title, "date": loan.due_date}
        if 0 <= days_left <= patron.notify_days_before and record_notice(loan, "due_soon"):
            emit(Notice("due_soon", patron.id, params))
            loan.due_notice_for = loan.due_date
            due_soon += 1
        step = overdue_step(-days_left)
        if step is not None and record_notice(loan, f"overdue_{step}"):
            emit(Notice("overdue", patron.id, params))
            loan.overdue_notices = OVERDUE_STEPS.index(step) + 1
            overdue += 1
    db.session.flush()
    return due_soon, overdue


def daily_run(today: date | None = None) -> dict:
    """Everything `flask --app opac notify` does once a day; it only queues messages."""
    from ..retention import purge_expired_personal_data

    today = today or rules.today()
    expired = expire_holds(today)
    due_soon, overdue = send_due_and_overdue_notices(today)
    retention = purge_expired_personal_data(today)
    anonymized, purged = retention.pop("loans_anonymized"), retention.pop("questions_purged")
    db.session.flush()
    return {"expired_holds": expired, "due_soon": due_soon, "overdue": overdue, "anonymized": anonymized,
            "questions_purged": purged, **retention}
