"""Visitor check-in: a QR code at the entrance, changing daily, that patrons scan with their phone.

A visit is counted twice, apart: in ``VisitCount`` per local day and hour with no patron (what
accreditation reports need), and in the patron's own ``PatronVisit`` (one a day: the unique row is
what makes a second scan the same day count nothing). Staff never see who visited; the patron sees
and deletes their own visits, and retention deletes them after VISIT_RETENTION_DAYS.
Services flush, never commit.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..accounts.models import Patron
from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from .models import PatronVisit, VisitCount


class VisitRefused(DomainError):
    status_code = 403
    messages = {
        "bad_code": _l("This check-in code is not today's. Scan the QR code at the entrance again."),
    }


def daily_code(day: date | None = None) -> str:
    """The entrance code of a local day: an HMAC of the date with SECRET_KEY (cannot be guessed
    for tomorrow, changes at midnight)."""
    day = day or clock.today()
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"visit-checkin:{day.isoformat()}".encode(), hashlib.sha256).hexdigest()[:20]


def valid_code(code: str) -> bool:
    return bool(code) and hmac.compare_digest(str(code)[:64].encode(), daily_code().encode())


def check_in(patron: Patron, code: str) -> bool:
    """Count the patron's visit today if the code is today's; False when already counted today."""
    if not valid_code(code):
        raise VisitRefused("bad_code")
    now = utcnow()
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    local = now.replace(tzinfo=UTC).astimezone(tz)
    try:
        with db.session.begin_nested():
            db.session.add(PatronVisit(patron_id=patron.id, day=local.date(), visited_at=now))
            db.session.flush()
    except IntegrityError:
        return False
    bumped = db.session.execute(update(VisitCount).where(VisitCount.day == local.date(), VisitCount.hour == local.hour)
                                .values(visits=VisitCount.visits + 1)).rowcount
    if not bumped:
        try:
            with db.session.begin_nested():
                db.session.add(VisitCount(day=local.date(), hour=local.hour, visits=1))
                db.session.flush()
        except IntegrityError:  # another check-in made the hour's row first
            db.session.execute(update(VisitCount).where(VisitCount.day == local.date(), VisitCount.hour == local.hour)
                               .values(visits=VisitCount.visits + 1))
    db.session.flush()
    return True


def patron_visits(patron: Patron):
    """The patron's own visits (never load one by bare id)."""
    return select(PatronVisit).where(PatronVisit.patron_id == patron.id)


def forget_visits(patron: Patron) -> int:
    """Delete the patron's visits, except today's (kept until tomorrow so that today counts once)."""
    n = db.session.execute(delete(PatronVisit).where(PatronVisit.patron_id == patron.id,
                                                     PatronVisit.day < clock.today())
                           .execution_options(synchronize_session=False)).rowcount or 0
    db.session.flush()
    return n
