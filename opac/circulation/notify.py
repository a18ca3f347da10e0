"""Patron notices (hold ready, due soon, overdue, renewal refused because of a hold): an in-app
notification and an e-mail, written in the patron's language; the daily run sends them."""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import Patron
from ..extensions import db
from ..mail import queue_email, whatsapp_link
from ..urls import absolute_url, site_path
from . import rules
from .models import Hold, Loan, Notification

MESSAGES = {
    "hold_ready": (_l("Ready for pickup: %(title)s"),
                   _l("%(title)s is ready for pickup at %(location)s until %(date)s.")),
    "due_soon": (_l("Due soon: %(title)s"),
                 _l("%(title)s is due on %(date)s. You can renew it in the app if no one is waiting for it.")),
    "overdue": (_l("Overdue: %(title)s"),
                _l("%(title)s was due on %(date)s. Please return or renew it as soon as possible.")),
    "renewal_blocked": (_l("Cannot be renewed: %(title)s"),
                        _l("Another patron has placed a hold on %(title)s, so it cannot be renewed. "
                           "Please return it by %(date)s.")),
}

#: Other packages (web push) subscribe here: callables taking (patron, notification).
listeners: list = []


def notify(patron: Patron, kind: str, url: str | None = None, **params) -> Notification:
    lang = patron.language if patron.language in current_app.config["LANGUAGES"] else "id"
    with force_locale(lang):
        shown = {k: (format_date(v, "long") if isinstance(v, date) else v) for k, v in params.items()}
        subject_t, body_t = MESSAGES[kind]
        subject = str(subject_t) % shown
        body = str(body_t) % shown
    note = Notification(patron_id=patron.id, kind=kind, subject=subject, body=body, url=url)
    db.session.add(note)
    if patron.notify_email and patron.email:
        link = absolute_url("circulation.my_loans") if kind != "hold_ready" else absolute_url(
            "circulation.my_holds")
        queue_email(patron.email, subject, f"{body}\n\n{link}\n\n— {current_app.config['LIBRARY_NAME']}",
                    kind=kind, patron_id=patron.id, whatsapp=patron.whatsapp if patron.notify_whatsapp else None)
    db.session.flush()
    for listener in listeners:
        try:
            listener(patron, note)
        except Exception:  # noqa: BLE001 - a push failure must not undo a checkin
            current_app.logger.warning("notification listener failed", exc_info=True)
    return note


def notify_hold_ready(patron: Patron, hold: Hold) -> None:
    notify(patron, "hold_ready", url=site_path("circulation.my_holds"), title=hold.record.title,
           location=hold.pickup_location.name, date=hold.pickup_by)


def notify_renewal_blocked(patron: Patron, loan: Loan) -> None:
    notify(patron, "renewal_blocked", url=site_path("circulation.my_loans"), title=loan.item.record.title,
           date=loan.due_date)


def send_due_and_overdue_notices(today: date | None = None) -> tuple[int, int]:
    """Due-soon notices (patron's chosen days ahead) and overdue notices (day 1, 7 and 14)."""
    today = today or rules.today()
    due_soon = overdue = 0
    open_loans = db.session.scalars(select(Loan).where(Loan.returned_at.is_(None), Loan.patron_id.is_not(None))).all()
    for loan in open_loans:
        patron = db.session.get(Patron, loan.patron_id)
        if patron is None:
            continue
        days_left = (loan.due_date - today).days
        if 0 <= days_left <= patron.notify_days_before and loan.due_notice_for != loan.due_date:
            notify(patron, "due_soon", url=site_path("circulation.my_loans"), title=loan.item.record.title,
                   date=loan.due_date)
            loan.due_notice_for = loan.due_date
            due_soon += 1
        late = -days_left
        thresholds = (1, 7, 14)
        if late >= 1 and loan.overdue_notices < len(thresholds) and late >= thresholds[loan.overdue_notices]:
            notify(patron, "overdue", url=site_path("circulation.my_loans"), title=loan.item.record.title,
                   date=loan.due_date)
            loan.overdue_notices += 1
            overdue += 1
    db.session.flush()
    return due_soon, overdue


def daily_run(today: date | None = None) -> dict:
    """Everything `flask --app opac notify` does once a day."""
    from ..mail import send_pending
    from .services import expire_holds

    today = today or rules.today()
    expired = expire_holds(today)
    due_soon, overdue = send_due_and_overdue_notices(today)
    from ..retention import purge_expired_personal_data

    retention = purge_expired_personal_data(today)
    anonymized, purged = retention.pop("loans_anonymized"), retention.pop("questions_purged")
    db.session.flush()
    sent = send_pending()
    return {"expired_holds": expired, "due_soon": due_soon, "overdue": overdue, "anonymized": anonymized,
            "questions_purged": purged, "emails_sent": sent, **retention}


def whatsapp_for(note: Notification, patron: Patron) -> str | None:
    return whatsapp_link(patron.whatsapp, f"{note.subject}\n{note.body}") if patron.whatsapp else None

