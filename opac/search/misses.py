"""Searches that found nothing, counted per day and normalised query for the staff statistics.

Aggregate only: a row is (day, query, count), with no patron, session or address. A search view
hands its response to :func:`count_miss_after` (the count runs once the response is sent), only for
a first page with query text, no filters and no hits: one small upsert (``INSERT ... ON CONFLICT DO UPDATE``, race-free on
SQLite and PostgreSQL thanks to the unique (day, query)), in its own short transaction that waits
at most ``MISS_WAIT_SECONDS`` for a lock and never fails the search. The daily run purges rows
older than ``SEARCH_STATS_DAYS``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from contextlib import contextmanager
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text

from .. import clock
from ..extensions import db, write_engine
from .models import SearchMiss

log = logging.getLogger(__name__)
#: longest wait for the database's write lock (SQLite) or the row's lock (PostgreSQL); then it is not counted
MISS_WAIT_SECONDS = 0.25
MAX_QUERY = 200
_SPACES = re.compile(r"\s+")


def normalize_query(q: str) -> str | None:
    """The form a zero-result query is counted under: NFKC, case-folded, spaces collapsed, cut to 200
    characters. None for nothing to count (empty, or an e-mail address, which is nobody's business).

    >>> normalize_query("  Laskar   PELANGI ")
    'laskar pelangi'
    >>> normalize_query("ｓｉｔｉ　ｎｕｒｂａｙａ"), normalize_query("  "), normalize_query("me@example.org")
    ('siti nurbaya', None, None)
    """
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", q or "").casefold()).strip()[:MAX_QUERY].strip()
    if not text or "@" in text:
        return None
    return text


def should_count(params, total: int) -> bool:
    """Whether a search is a miss worth counting: query text, no filters, first page, no hits."""
    return (total == 0 and params.page == 1 and bool(params.q.strip()) and not params.filters
            and not params.year and not params.available)


#: the same statement on SQLite (3.24+) and PostgreSQL; plain text, as building the dialect's
#: insert construct per call cost more than the write itself
_UPSERT = text("INSERT INTO search_miss (day, query, count) VALUES (:day, :query, 1) "
               "ON CONFLICT (day, query) DO UPDATE SET count = search_miss.count + 1")


@contextmanager
def _bounded_write():
    """A short write transaction of its own that gives up after ``MISS_WAIT_SECONDS`` of waiting."""
    engine = write_engine(db.engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            raw = conn.connection.dbapi_connection  # no transaction yet: set the wait before BEGIN IMMEDIATE
            before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute(f"PRAGMA busy_timeout={int(MISS_WAIT_SECONDS * 1000)}")
            try:
                with conn.begin():
                    yield conn
            finally:
                raw.execute(f"PRAGMA busy_timeout={int(before)}")
        else:
            with conn.begin():
                # one round trip; a count lost in a crash is acceptable, so the commit does not wait
                # for the WAL flush (as SQLite's synchronous=NORMAL does not)
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(MISS_WAIT_SECONDS * 1000)}ms'; "
                                     "SET LOCAL synchronous_commit = off")
                yield conn


def count_miss(q: str) -> bool:
    """Count one zero-result search of ``q`` today; False when it was not counted (never raises)."""
    query = normalize_query(q)
    if query is None:
        return False
    try:
        with _bounded_write() as conn:
            conn.execute(_UPSERT, {"day": clock.today(), "query": query})
    except Exception:  # noqa: BLE001 - statistics must never fail a search
        log.warning("a search without results was not counted", exc_info=True)
        return False
    return True


def count_miss_after(response, q: str):
    """Count ``q`` once ``response`` has been sent (the WSGI server closes it): the searcher never waits."""
    app = current_app._get_current_object()

    def count():
        with app.app_context():
            count_miss(q)

    response.call_on_close(count)
    return response


def top_misses(days: list[date], limit: int = 50) -> list[tuple[str, int]]:
    """The queries that found nothing most often between the first and last of ``days``."""
    total = func.sum(SearchMiss.count).label("total")
    rows = db.session.execute(select(SearchMiss.query, total).where(SearchMiss.day.between(days[0], days[-1]))
                              .group_by(SearchMiss.query).order_by(total.desc(), SearchMiss.query).limit(limit))
    return [(q, int(n)) for q, n in rows]


def misses_per_day(days: list[date]) -> list[int]:
    """Searches without results on each of ``days``."""
    rows = dict(db.session.execute(select(SearchMiss.day, func.sum(SearchMiss.count))
                                   .where(SearchMiss.day.between(days[0], days[-1])).group_by(SearchMiss.day)).all())
    return [int(rows.get(d) or 0) for d in days]


def purge_misses(today: date) -> int:
    """Delete the counts of days older than ``SEARCH_STATS_DAYS`` (flushes; the daily run commits)."""
    keep = max(int(current_app.config["SEARCH_STATS_DAYS"]), 1)
    return db.session.execute(delete(SearchMiss).where(SearchMiss.day < today - timedelta(days=keep))
                              .execution_options(synchronize_session=False)).rowcount or 0
