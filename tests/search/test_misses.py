"""Searches without results: counted per day and normalised query only, race-free, shown and exported
in the staff statistics, purged by the daily run."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from opac import clock
from opac.extensions import db
from opac.search.misses import count_miss
from opac.search.models import SearchMiss
from tests.conftest import csrf_token, run_at_once


def misses(app) -> dict[str, int]:
    out: dict[str, int] = {}
    with app.app_context():
        for m in db.session.scalars(select(SearchMiss)):
            out[m.query] = out.get(m.query, 0) + m.count
    return out


def search(client, path="/api/v1/search", **params):
    """A search as a WSGI server serves it: the response is sent, then closed (the count runs then)."""
    with client.get(path, query_string=params) as r:
        assert r.status_code == 200
        return r


def test_only_first_pages_of_unfiltered_searches_without_hits_count(app, client, make_record):
    make_record(title="Laskar Pelangi")
    with client.get("/api/v1/search", query_string={"q": "Zzyzx  Qwerty"}) as r:
        assert r.get_json()["total"] == 0
        assert misses(app) == {}  # the whole response exists before anything is counted
    assert misses(app) == {"zzyzx qwerty": 1}  # counted once it was sent and closed
    search(client, "/search", q="zzyzx qwerty")
    search(client, q="zzyzx qwerty", page=2)  # a later page
    search(client, q="zzyzx qwerty", type="map")  # filtered: the filter, not the catalogue, found nothing
    search(client, q="laskar")  # found
    search(client, q="someone@example.org")  # an address is nobody's statistic
    search(client, "/search")  # no query
    assert misses(app) == {"zzyzx qwerty": 2}
    with app.app_context():
        row = db.session.scalar(select(SearchMiss))
        assert row.day == clock.today()
        # nothing in the row could tie it to a person: only these columns exist
        assert set(SearchMiss.__table__.columns.keys()) == {"id", "day", "query", "count"}


def test_counting_at_once_loses_nothing_and_never_fails(app):
    """Many workers counting the same new query at the same moment: one row, every counted search in it
    (the unique (day, query) and INSERT ... ON CONFLICT; on SQLite and PostgreSQL alike)."""

    def count():
        with app.app_context():
            return count_miss("Kitab Negarakertagama")

    results = run_at_once([count] * 8, timeout=60)
    assert all(r in (True, False) for r in results), results  # never an exception
    assert sum(results) >= 1, results
    assert misses(app) == {"kitab negarakertagama": sum(results)}


def test_a_busy_database_skips_the_count_instead_of_slowing_the_search(app, client):
    """SQLite: another writer holds the lock; the search answers at once and the miss is not counted."""
    import time

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("the whole-database write lock is SQLite's")
        from opac.extensions import write_engine

        with write_engine(db.engine).connect() as other:
            other.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: holds the write lock
            start = time.monotonic()
            with client.get("/api/v1/search", query_string={"q": "tidak ada"}) as r:
                assert r.status_code == 200 and r.get_json()["total"] == 0
            waited = time.monotonic() - start  # sent and closed: the count gave up
            other.rollback()
    assert waited < 2.0  # the count waits MISS_WAIT_SECONDS (0.25 s), not the 30 s busy timeout
    assert misses(app) == {}


def test_a_failing_count_does_not_fail_the_search(app, client, monkeypatch):
    from sqlalchemy import text

    from opac.search import misses as module

    monkeypatch.setattr(module, "_UPSERT", text("INSERT INTO no_such_table (day) VALUES (:day)"))
    with client.get("/api/v1/search", query_string={"q": "tidak ada"}) as r:
        assert r.status_code == 200 and r.get_json()["total"] == 0
    assert misses(app) == {}


def test_statistics_show_and_export_misses_and_the_daily_run_purges_them(app, client, make_staff):
    with app.app_context():
        today = clock.today()
        db.session.add_all([
            SearchMiss(day=today, query="harry potter", count=5),
            SearchMiss(day=today - timedelta(days=1), query="harry potter", count=2),
            SearchMiss(day=today - timedelta(days=1), query="=cmd|' /c calc'!a0", count=1),
            SearchMiss(day=today - timedelta(days=400), query="kuno", count=9),
        ])
        db.session.commit()
    assert client.get("/staff/statistics/search_misses.csv").status_code == 302  # staff only
    user, password = make_staff()
    client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    page = client.get("/staff/statistics", query_string={"days": 7}).get_data(as_text=True)
    assert 'id="h-search_misses"' in page and "harry potter" in page and "kuno" not in page
    assert page.index("harry potter") < page.index("cmd|")  # the most frequent first
    assert "/staff/statistics/search_misses.csv?days=7" in page
    r = client.get("/staff/statistics/search_misses.csv", query_string={"days": 7})
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["day", "query", "searches_without_results"]
    yesterday = (today - timedelta(days=1)).isoformat()
    assert rows[1:] == [[yesterday, "harry potter", "2"], [yesterday, "'=cmd|' /c calc'!a0", "1"],
                        [today.isoformat(), "harry potter", "5"]]  # a formula is defused

    from opac.retention import purge_expired_personal_data

    with app.test_request_context():
        assert purge_expired_personal_data()["search_misses_deleted"] == 1
        db.session.commit()
    assert "kuno" not in misses(app) and misses(app)["harry potter"] == 7
