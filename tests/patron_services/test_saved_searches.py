"""Saved searches and their weekly alerts: saved from the results page, checked by the daily run
with the clock moved week by week, each new record announced once per saved search."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from opac.accounts.models import Patron
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from opac.patron_services.alerts import run_saved_search_alerts, save_search
from opac.patron_services.models import SavedSearch, SavedSearchMatch
from tests.conftest import csrf_token, run_at_once


@pytest.fixture
def app_config():
    return {"FAKE_TODAY": "2026-03-02T10:00:00", "SAVED_SEARCHES_MAX": 3}


def _at(app, when: str) -> None:
    app.config["FAKE_TODAY"] = when


def _daily_alerts(app) -> dict:
    """What `flask --app opac notify` does for saved searches (its CLI test runs the whole command)."""
    with app.test_request_context():
        counts = run_saved_search_alerts()
        db.session.commit()
        return counts


def _save(app, pid: int, q: str) -> None:
    """Patron ``pid`` saves the search ``q=<q>`` (committed)."""
    with app.test_request_context():
        save_search(db.session.get(Patron, pid), MultiDict([("q", q)]))
        db.session.commit()


def _count(app, model, **where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def test_weekly_alerts_announce_each_new_record_once(app, client, make_patron, make_record, login):
    make_record(title="Sejarah Nusantara Lama", material_type="book")  # there before the search was saved
    pid, card, pin = make_patron(email="siti@example.org")
    login(card, pin)

    results = client.get("/search?q=sejarah&type=book&sort=newest").get_data(as_text=True)
    link = unescape(re.search(r'href="(/saved-searches/new\?[^"]+)"', results).group(1))
    form = client.get(link).get_data(as_text=True)
    query = unescape(re.search(r'name="query" value="([^"]+)"', form).group(1))
    assert query == "q=sejarah&type=book"  # sort and page are not part of the search
    r = client.post("/saved-searches", data={"csrf_token": csrf_token(client), "query": query, "name": "Sejarah",
                                             "alerts": "1", "alert_email": "1"})
    assert r.status_code == 303
    assert client.get("/saved-searches").status_code == 200

    # week 1: one matching book, one other subject, one matching thesis (filtered out)
    _at(app, "2026-03-04T10:00:00")
    new_book = make_record(title="Sejarah Maritim Indonesia", material_type="book")
    make_record(title="Resep Masakan Padang", material_type="book")
    make_record(title="Sejarah Kota Bandung", material_type="thesis")
    _at(app, "2026-03-06T10:00:00")
    assert _daily_alerts(app)["saved_searches_checked"] == 0  # not a week yet
    _at(app, "2026-03-09T11:00:00")
    assert _daily_alerts(app) == {"saved_searches_checked": 1, "saved_search_matches": 1}
    with app.app_context():
        note = db.session.scalar(select(Notification).where(Notification.patron_id == pid,
                                                            Notification.kind == "saved_search"))
        assert "Sejarah Maritim Indonesia" in note.body and note.url == "/saved-searches"
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "saved_search"))
        assert mail.to == "siti@example.org" and "Sejarah Maritim Indonesia" in mail.body
        assert "https://opac.test/saved-searches" in mail.body
    login(card, pin)  # a week later the session has ended
    page = client.get("/saved-searches").get_data(as_text=True)
    assert "Sejarah Maritim Indonesia" in page and "badge-ok" in page
    assert "Sejarah Nusantara Lama" not in page and "Sejarah Kota Bandung" not in page

    # the same day again, a forced re-check, and an empty week: nothing is announced twice
    assert _daily_alerts(app)["saved_searches_checked"] == 0
    with app.app_context():
        db.session.execute(SavedSearch.__table__.update().values(next_check_at=SavedSearch.created_at))
        db.session.commit()
    assert _daily_alerts(app) == {"saved_searches_checked": 1, "saved_search_matches": 0}
    _at(app, "2026-03-16T11:00:00")
    assert _daily_alerts(app)["saved_search_matches"] == 0
    assert _count(app, Notification, patron_id=pid, kind="saved_search") == 1

    # week 3: a record added just before the last check but indexed late is still found, once
    _at(app, "2026-03-16T10:30:00")
    late = make_record(title="Sejarah Pers Indonesia", material_type="book")
    _at(app, "2026-03-23T11:00:00")
    assert _daily_alerts(app)["saved_search_matches"] == 1
    _at(app, "2026-03-30T11:00:00")
    assert _daily_alerts(app)["saved_search_matches"] == 0
    with app.app_context():
        assert sorted(db.session.scalars(select(SavedSearchMatch.record_id))) == sorted([new_book, late])
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)
                                 .where(OutboxEmail.kind == "saved_search")) == 2
        # exactly once is the database's rule, not only the code's
        saved_id = db.session.scalar(select(SavedSearch.id))
        db.session.add(SavedSearchMatch(saved_search_id=saved_id, record_id=late))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()

    # "new" markers go once the patron has seen them
    login(card, pin)
    assert client.post("/saved-searches/seen", data={"csrf_token": csrf_token(client)}).status_code == 303
    assert "badge-ok" not in client.get("/saved-searches").get_data(as_text=True)


def test_alerts_only_by_the_chosen_channels(app, make_patron, make_record):
    pid, _card, _pin = make_patron(email="budi@example.org")  # notify_email is on for other notices
    _save(app, pid, "geologi")
    _at(app, "2026-03-03T10:00:00")
    make_record(title="Geologi Pulau Jawa")
    _at(app, "2026-03-09T11:00:00")
    assert _daily_alerts(app)["saved_search_matches"] == 1
    assert _count(app, Notification, patron_id=pid, kind="saved_search") == 1
    assert _count(app, OutboxEmail, kind="saved_search") == 0  # in the app only, as chosen


def test_a_record_hidden_before_its_alert_is_not_announced(app, make_patron, make_record):
    """Hidden (or withdrawn) after it reached the index and before the index follows: the alert's own
    query leaves it out (``Record.is_public``), so the notice never names a record patrons cannot open."""
    from opac.catalog.models import Record

    pid, _card, _pin = make_patron()
    _save(app, pid, "geologi")
    _at(app, "2026-03-03T10:00:00")
    make_record(title="Geologi Pulau Jawa")
    hidden = make_record(title="Geologi Rahasia")
    with app.app_context():
        db.session.get(Record, hidden).hidden = True  # the index has not followed yet
        db.session.commit()
    _at(app, "2026-03-09T11:00:00")
    assert _daily_alerts(app)["saved_search_matches"] == 1
    assert _count(app, SavedSearchMatch, record_id=hidden) == 0


def test_api_edit_delete_and_ownership(app, client, api, make_patron, login):
    _a, card_a, pin_a = make_patron()
    login(card_a, pin_a)
    r = api.post("/api/v1/saved-searches", json={"query": "q=puisi&language=ind&page=3", "alert_push": True})
    assert r.status_code == 201, r.get_data(as_text=True)
    saved = r.get_json()
    assert saved["query"] == "q=puisi&language=ind" and saved["alerts"] and saved["alert_push"]
    again = api.post("/api/v1/saved-searches", json={"query": "language=ind&q=puisi"}).get_json()
    assert again["id"] == saved["id"]  # the same search is not saved twice
    for q in ("q=a1", "q=a2"):
        assert api.post("/api/v1/saved-searches", json={"query": q}).status_code == 201
    r = api.post("/api/v1/saved-searches", json={"query": "q=a3"})
    assert r.status_code == 409 and r.get_json()["error"] == "too_many"
    assert api.post("/api/v1/saved-searches", json={"query": "sort=newest"}).get_json()["error"] == "empty_search"

    r = api.post(f"/api/v1/saved-searches/{saved['id']}", json={"name": "Puisi", "alerts": False})
    assert r.get_json()["name"] == "Puisi" and not r.get_json()["alerts"] and not r.get_json()["alert_push"]

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    _b, card_b, pin_b = make_patron()
    login(card_b, pin_b)
    assert client.get("/api/v1/saved-searches").get_json()["saved_searches"] == []
    assert "Puisi" not in client.get("/saved-searches").get_data(as_text=True)
    assert api.post(f"/api/v1/saved-searches/{saved['id']}", json={"name": "mine"}).status_code == 404
    assert api.post(f"/api/v1/saved-searches/{saved['id']}/delete").status_code == 404
    r = client.post(f"/saved-searches/{saved['id']}/delete", data={"csrf_token": csrf_token(client)})
    assert r.status_code == 404
    assert _count(app, SavedSearch) == 3

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(card_a, pin_a)
    assert api.post(f"/api/v1/saved-searches/{saved['id']}/delete").status_code == 200
    assert _count(app, SavedSearch) == 2


def test_saved_searches_go_with_the_account(app, make_patron, make_record):
    pid, _card, _pin = make_patron()
    _save(app, pid, "kimia")
    _at(app, "2026-03-03T10:00:00")
    make_record(title="Kimia Dasar")
    _at(app, "2026-03-09T11:00:00")
    _daily_alerts(app)
    assert _count(app, SavedSearchMatch) == 1
    with app.app_context():
        db.session.execute(Notification.__table__.delete())
        db.session.execute(OutboxEmail.__table__.delete())
        db.session.delete(db.session.get(Patron, pid))
        db.session.commit()
    assert _count(app, SavedSearch) == 0 and _count(app, SavedSearchMatch) == 0


def test_daily_run_command_sends_due_alerts(app, tmp_path, make_patron, make_record):
    """`flask --app opac notify` in a production-like process checks the saved searches whose week is up."""
    from datetime import timedelta

    from tests.cli_helpers import BASE_URL, prod_env, run_cli

    app.config["FAKE_TODAY"] = None  # the subprocess runs on the real clock
    pid, _card, _pin = make_patron(email="ani@example.org")
    with app.test_request_context():
        saved = save_search(db.session.get(Patron, pid), MultiDict([("q", "astronomi")]), alert_email=True)
        saved.created_at -= timedelta(days=8)
        saved.next_check_at -= timedelta(days=8)
        db.session.commit()
    make_record(title="Astronomi untuk Pemula")
    with app.app_context():
        db.engine.dispose()
    env = prod_env(tmp_path / "cli", database_url=app.config["SQLALCHEMY_DATABASE_URI"],
                   index_dir=app.config["INDEX_DIR"])
    out = run_cli(env, "notify").stdout
    assert "saved searches checked: 1" in out and "saved search matches: 1" in out, out
    with app.app_context():
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "saved_search"))
        assert "Astronomi untuk Pemula" in mail.body and f"{BASE_URL}/saved-searches" in mail.body
    assert "saved searches checked: 0" in run_cli(env, "notify").stdout


def test_two_saves_at_once_keep_the_per_patron_limit(app, make_patron, monkeypatch):
    """Two different searches saved at the same moment by one patron with one place left: the
    patron's row is locked while counting (SQLite: the write request's BEGIN IMMEDIATE), so one is
    saved and the other refused, never both (the limit exceeded by one)."""
    import time

    from opac.db import begin_write
    from opac.patron_services import alerts
    from opac.patron_services.alerts import SavedSearchRefused

    pid, _card, _pin = make_patron()
    with app.test_request_context():
        patron = db.session.get(Patron, pid)
        for q in ("satu", "dua"):
            save_search(patron, MultiDict([("q", q)]))
        db.session.commit()
    real_interval = alerts.alert_interval

    def slow_interval():  # after the count, before the insert: without the lock both counts see 2
        time.sleep(0.4)
        return real_interval()

    monkeypatch.setattr(alerts, "alert_interval", slow_interval)

    def save(q):
        with app.test_request_context(method="POST"):
            begin_write()  # what every POST request does (opac.db.init_app)
            try:
                save_search(db.session.get(Patron, pid), MultiDict([("q", q)]))
                db.session.commit()
                return "saved"
            except SavedSearchRefused as exc:
                db.session.rollback()
                return exc.reason

    assert sorted(run_at_once([lambda: save("tiga"), lambda: save("empat")], timeout=60)) == ["saved", "too_many"]
    assert _count(app, SavedSearch, patron_id=pid) == 3
