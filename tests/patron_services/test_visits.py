"""Visitor check-in: the entrance QR code changes daily, a visit counts once a patron a day,
the counts carry no patron, the patron sees (and deletes) only their own visits."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from opac.extensions import db
from opac.patron_services import visits
from opac.patron_services.models import PatronVisit, VisitCount
from tests.conftest import csrf_token, staff_login


@pytest.fixture
def app_config():
    return {"FAKE_TODAY": "2026-03-02T09:30:00"}


def _counts(app) -> list[tuple]:
    with app.app_context():
        return [tuple(r) for r in db.session.execute(select(VisitCount.day, VisitCount.hour, VisitCount.visits)
                                                     .order_by(VisitCount.day, VisitCount.hour))]


def _patron(client, login, make_patron):
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    pid, card, pin = make_patron()
    login(card, pin)
    return pid, card


def test_checkin_counts_once_a_day_without_names(app, client, make_patron, make_staff, login):
    user, password = make_staff()
    staff_login(client, app, user, password)
    page = client.get("/staff/visits/entrance").get_data(as_text=True)
    url = unescape(re.search(r"https://opac\.test(/visit\?code=[0-9a-f]+)", page).group(1))
    assert "<svg" in page
    client.post("/staff/logout", data={"csrf_token": csrf_token(client)})

    pid_a, card_a = _patron(client, login, make_patron)
    form = client.get(url).get_data(as_text=True)
    assert 'name="code"' in form and _counts(app) == []  # opening the link changes nothing
    code = url.split("code=")[1]
    r = client.post("/visit", data={"csrf_token": csrf_token(client), "code": code})
    assert r.status_code == 303
    assert client.post("/visit", data={"csrf_token": csrf_token(client), "code": code}).status_code == 303
    assert _counts(app) == [(date(2026, 3, 2), 9, 1)]  # once a day, in the library's 09:00 hour
    assert "2 Maret 2026" in client.get("/account/visits").get_data(as_text=True)

    app.config["FAKE_TODAY"] = "2026-03-02T14:05:00"
    _pid_b, card_b = _patron(client, login, make_patron)
    r = client.post("/api/v1/visits", json={"code": code}, headers={"X-CSRFToken": csrf_token(client)})
    assert r.get_json() == {"counted": True, "day": "2026-03-02"}
    r = client.post("/api/v1/visits", json={"code": code}, headers={"X-CSRFToken": csrf_token(client)})
    assert r.get_json()["counted"] is False
    assert _counts(app) == [(date(2026, 3, 2), 9, 1), (date(2026, 3, 2), 14, 1)]
    assert [v["day"] for v in client.get("/api/v1/visits").get_json()["visits"]] == ["2026-03-02"]

    # the next day yesterday's code is refused; the patron's own list shows only their visits
    app.config["FAKE_TODAY"] = "2026-03-03T10:00:00"
    _patron(client, login, make_patron)
    r = client.post("/api/v1/visits", json={"code": code}, headers={"X-CSRFToken": csrf_token(client)})
    assert r.status_code == 403 and r.get_json()["error"] == "bad_code"
    assert client.post("/visit", data={"csrf_token": csrf_token(client), "code": "0" * 20}).status_code == 403
    assert client.get("/api/v1/visits").get_json()["visits"] == []
    with app.app_context():
        assert visits.daily_code() != code and len(visits.daily_code()) == 20

    # staff statistics: a chart and a CSV per day and hour, no card number anywhere
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    staff_login(client, app, user, password)
    stats = client.get("/staff/statistics?days=7").get_data(as_text=True)
    assert 'id="h-visits"' in stats and "14:00" in stats
    csv = client.get("/staff/statistics/visits.csv?days=7").get_data(as_text=True).splitlines()
    assert csv[0].startswith("day,00:00,") and csv[0].endswith(",23:00,total")
    row = next(line for line in csv if line.startswith("2026-03-02")).split(",")
    assert row[1 + 9] == "1" and row[1 + 14] == "1" and row[-1] == "2"
    assert card_a not in stats + "".join(csv) and card_b not in stats + "".join(csv)


def test_patron_deletes_own_visits_and_retention_removes_them(app, client, make_patron, login):
    from opac.retention import purge_expired_personal_data

    pid, card, pin = make_patron()
    other, _c, _p = make_patron()
    with app.test_request_context():
        for when in ("2026-03-02T09:30:00", "2026-03-20T09:30:00", "2026-04-10T09:30:00"):
            app.config["FAKE_TODAY"] = when
            from opac.accounts.models import Patron

            for p in (pid, other):
                assert visits.check_in(db.session.get(Patron, p), visits.daily_code())
        db.session.commit()
        # retention (30 days by default): the visit of 2 March goes, the anonymous counts stay
        purge_expired_personal_data()
        db.session.commit()
        assert sorted(db.session.scalars(select(PatronVisit.day).where(PatronVisit.patron_id == pid))) == [
            date(2026, 3, 20), date(2026, 4, 10)]
    assert sum(n for _d, _h, n in _counts(app)) == 6

    login(card, pin)
    r = client.post("/account/visits/delete", data={"csrf_token": csrf_token(client)})
    assert r.status_code == 303
    with app.app_context():
        # today's stays (so that a second scan today counts nothing); the other patron's are untouched
        assert list(db.session.scalars(select(PatronVisit.day).where(PatronVisit.patron_id == pid))) == [
            date(2026, 4, 10)]
        assert len(db.session.scalars(select(PatronVisit).where(PatronVisit.patron_id == other)).all()) == 2
