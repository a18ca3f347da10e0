"""Statistics per day for the staff (read-only): loans, renewals, holds, questions and time to first answer.

Counts come from the circulation and reference tables themselves, bucketed by the library's local day;
nothing here is tied to a patron. Charts are drawn on the server as SVG (no JavaScript, no CDN)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..circulation import rules
from ..circulation.models import Hold, Loan, Renewal
from ..extensions import db
from .dashboard import local_day_start

MAX_DAYS = 366
SERIES = ("loans", "renewals", "holds", "questions")


@dataclass
class Series:
    key: str
    days: list[date]
    values: list[float]
    extra: dict | None = None  # series-specific columns for the CSV (e.g. hours to first answer)

    @property
    def total(self) -> float:
        return sum(self.values)


def _column(key: str):
    from ..reference.models import Question

    return {"loans": Loan.checked_out_at, "renewals": Renewal.renewed_at, "holds": Hold.placed_at,
            "questions": Question.created_at}[key]


def day_range(days: int, end: date | None = None) -> list[date]:
    """The last ``days`` local days up to and including ``end`` (today by default)."""
    end = end or rules.today()
    days = max(1, min(days, MAX_DAYS))
    return [end - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _local_day(ts: datetime, tz: ZoneInfo) -> date:
    return ts.replace(tzinfo=UTC).astimezone(tz).date()


def daily_counts(key: str, days: list[date]) -> Series:
    """How many loans/renewals/holds/questions began on each local day."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    col = _column(key)
    start, end = local_day_start(days[0]), local_day_start(days[-1] + timedelta(days=1))
    counts = dict.fromkeys(days, 0)
    for ts in db.session.scalars(select(col).where(col >= start, col < end)):
        d = _local_day(ts, tz)
        if d in counts:
            counts[d] += 1
    return Series(key, days, [counts[d] for d in days])


def first_answer_hours(days: list[date]) -> Series:
    """Mean hours from a question to its first answer, by the day the question was asked (answered ones only)."""
    from ..reference.models import Question

    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    start, end = local_day_start(days[0]), local_day_start(days[-1] + timedelta(days=1))
    waits: dict[date, list[float]] = {d: [] for d in days}
    rows = db.session.execute(select(Question.created_at, Question.first_reply_at).where(
        Question.created_at >= start, Question.created_at < end, Question.first_reply_at.isnot(None)))
    for created, first in rows:
        d = _local_day(created, tz)
        if d in waits:
            waits[d].append((first - created).total_seconds() / 3600)
    values = [round(sum(w) / len(w), 1) if w else 0 for w in (waits[d] for d in days)]
    return Series("first_answer", days, values, extra={"answered": [len(waits[d]) for d in days]})


def all_series(days: list[date]) -> dict[str, Series]:
    out = {key: daily_counts(key, days) for key in SERIES}
    out["first_answer"] = first_answer_hours(days)
    return out


def bar_chart(series: Series, *, width: int = 720, height: int = 200) -> dict:
    """Geometry of a bar chart (one bar a day) for the template's SVG; y from 0 to a round maximum."""
    top = max(series.values or [0])
    scale_max = _nice_ceiling(top)
    left, bottom, plot_h = 40, 24, height - 34
    n = len(series.values)
    slot = (width - left - 8) / max(n, 1)
    bars = []
    for i, (d, v) in enumerate(zip(series.days, series.values, strict=True)):
        h = 0 if not scale_max else plot_h * v / scale_max
        bars.append({"x": round(left + i * slot + slot * 0.1, 1), "y": round(height - bottom - h, 1),
                     "w": round(max(slot * 0.8, 1), 1), "h": round(h, 1), "day": d, "value": v})
    every = max(1, n // 6)
    ticks = [{"x": b["x"] + b["w"] / 2, "day": b["day"]} for i, b in enumerate(bars) if i % every == 0]
    return {"width": width, "height": height, "left": left, "base": height - bottom, "top": height - bottom - plot_h,
            "max": scale_max, "bars": bars, "ticks": ticks}


def _nice_ceiling(v: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above ``v`` (so the axis reads well).

    >>> [_nice_ceiling(x) for x in (0, 1, 3, 7, 12, 99)]
    [0, 1, 5, 10, 20, 100]
    """
    if v <= 0:
        return 0
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= v:
                return m * step
        step *= 10


def csv_safe(value) -> str:
    """A cell that spreadsheets will not run as a formula: text starting with = + - @ (or tab/CR) gets a '."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def series_csv(series: Series) -> str:
    """One series as CSV: a header row and one row a day."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if series.key == "first_answer":
        w.writerow(["day", "answered_questions", "mean_hours_to_first_answer"])
        rows = zip(series.days, series.extra["answered"], series.values, strict=True)
    else:
        w.writerow(["day", series.key])
        rows = zip(series.days, series.values, strict=True)
    for row in rows:
        w.writerow([csv_safe(c.isoformat() if isinstance(c, date) else c) for c in row])
    return buf.getvalue()


# ----------------------------------------------------------------------------- visits (entrance check-in)


def visit_counts(days: list[date]) -> Series:
    """Visits counted at the entrance on each local day (stored per day and hour, with no patron)."""
    from ..patron_services.models import VisitCount

    rows = db.session.execute(select(VisitCount.day, func.sum(VisitCount.visits))
                              .where(VisitCount.day >= days[0], VisitCount.day <= days[-1]).group_by(VisitCount.day))
    counts = {d: int(n) for d, n in rows}
    return Series("visits", days, [counts.get(d, 0) for d in days])


def visits_by_hour(days: list[date]) -> Series:
    """Visits over ``days`` by the hour of the day they began (0–23): when the library is busiest."""
    from ..patron_services.models import VisitCount

    rows = db.session.execute(select(VisitCount.hour, func.sum(VisitCount.visits))
                              .where(VisitCount.day >= days[0], VisitCount.day <= days[-1]).group_by(VisitCount.hour))
    counts = {int(h): int(n) for h, n in rows}
    return Series("visits_by_hour", list(range(24)), [counts.get(h, 0) for h in range(24)])


def visits_csv(days: list[date]) -> str:
    """Visits per day and hour as CSV (a row per day with visits, 24 hour columns and the total)."""
    from ..patron_services.models import VisitCount

    table: dict[date, list[int]] = {d: [0] * 24 for d in days}
    for d, hour, n in db.session.execute(select(VisitCount.day, VisitCount.hour, VisitCount.visits)
                                         .where(VisitCount.day >= days[0], VisitCount.day <= days[-1])):
        if d in table:
            table[d][hour] += n
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["day", *(f"{h:02d}:00" for h in range(24)), "total"])
    for d in days:
        w.writerow([d.isoformat(), *table[d], sum(table[d])])
    return buf.getvalue()
