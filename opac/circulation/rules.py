"""Circulation rules: which policy applies, the library calendar, due dates and pickup deadlines."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from .. import clock
from ..extensions import db
from .models import CirculationPolicy, Holiday

DEFAULT_POLICY = {"loan_days": 14, "max_loans": 5, "max_renewals": 2, "max_holds": 5, "renew_from": "due_date",
                  "renew_window_days": None, "renew_overdue": False, "pickup_days": 3, "fine_per_day": 0}


def today() -> date:
    """Today in the library's time zone, from the one clock tests can move (opac.clock)."""
    return clock.today()


def policy_for(category_id: int | None, material_type: str | None) -> CirculationPolicy:
    """The most specific policy: category+type, then category, then type, then the default."""
    rows = db.session.scalars(select(CirculationPolicy).where(
        (CirculationPolicy.category_id == category_id) | CirculationPolicy.category_id.is_(None),
        (CirculationPolicy.material_type == material_type) | CirculationPolicy.material_type.is_(None),
    )).all()
    if not rows:
        return CirculationPolicy(**DEFAULT_POLICY)
    return max(rows, key=lambda p: (p.category_id is not None) * 2 + (p.material_type is not None))


class Calendar:
    """Closed weekdays (settings) and holidays (table) over the next years."""

    def __init__(self, start: date | None = None):
        start = start or today()
        self.closed_weekdays = set(current_app.config["CLOSED_WEEKDAYS"])
        self.holidays = set(db.session.scalars(select(Holiday.day).where(
            Holiday.day >= start - timedelta(days=400), Holiday.day <= start + timedelta(days=800))).all())

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.holidays

    def next_open(self, day: date) -> date:
        """``day`` itself if the library is open then, else the next open day."""
        for _ in range(370):
            if self.is_open(day):
                return day
            day += timedelta(days=1)
        return day

    def previous_open(self, day: date) -> date:
        for _ in range(370):
            if self.is_open(day):
                return day
            day -= timedelta(days=1)
        return day


def due_date(start: date, days: int, expires_on: date | None, calendar: Calendar | None = None) -> date:
    """``days`` after ``start``, moved to the next open day, never after the card's expiry."""
    cal = calendar or Calendar(start)
    due = cal.next_open(start + timedelta(days=days))
    if expires_on is not None and due > expires_on:
        due = cal.previous_open(expires_on)
    return due


def pickup_deadline(start: date, days: int, calendar: Calendar | None = None) -> date:
    cal = calendar or Calendar(start)
    return cal.next_open(start + timedelta(days=days))
