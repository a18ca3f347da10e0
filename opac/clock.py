"""The one clock every time-dependent rule reads (due dates, notices, expiry, retention, retries).

In production it is the system clock. Tests move it: ``app.config["FAKE_TODAY"]`` (or
``OPAC_FAKE_TODAY``) holds a date (noon in the library's time zone) or a datetime in the library's
time zone, and is obeyed only when ``TESTING`` is on, so a stray setting cannot move a real library.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def _zone() -> ZoneInfo:
    name = current_app.config["BABEL_DEFAULT_TIMEZONE"] if has_app_context() else "UTC"
    return ZoneInfo(name)


def _fake_local() -> datetime | None:
    """The library-local time set by FAKE_TODAY (TESTING only), else None."""
    if not has_app_context():
        return None
    cfg = current_app.config
    fake = cfg["FAKE_TODAY"]
    if not fake or not cfg.get("TESTING"):
        return None
    if isinstance(fake, datetime):
        return fake.replace(tzinfo=None)
    if isinstance(fake, date):
        return datetime.combine(fake, time(12, 0))
    text = str(fake)
    return datetime.fromisoformat(text) if "T" in text or " " in text else datetime.combine(
        date.fromisoformat(text), time(12, 0))


def now() -> datetime:
    """Now in UTC, naive (as stored in the database)."""
    fake = _fake_local()
    if fake is not None:
        return fake.replace(tzinfo=_zone()).astimezone(UTC).replace(tzinfo=None)
    return datetime.now(UTC).replace(tzinfo=None)


def start_of_day(day: date) -> datetime:
    """When the library's ``day`` began, in UTC naive (to compare with stored times)."""
    return datetime.combine(day, time(0, 0), tzinfo=_zone()).astimezone(UTC).replace(tzinfo=None)


def today() -> date:
    """Today in the library's time zone (a 23:30 loan in Jakarta is due from that day)."""
    fake = _fake_local()
    if fake is not None:
        return fake.date()
    return datetime.now(_zone()).date()
