"""Purchase suggestions: the patron form, the monthly limit, the staff workflow, the notices, and
the hold placed through circulation when the title arrives."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opac.catalog.models import Location
from opac.circulation.models import Hold
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from opac.patron_services.models import PurchaseSuggestion
from tests.conftest import csrf_token, staff_login


@pytest.fixture
def pickup(app):
    with app.app_context():
        loc = db.session.scalar(select(Location).order_by(Location.id))
        if loc is None:
            loc = Location(code="PUSAT", name="Perpustakaan Pusat")
            db.session.add(loc)
        loc.is_pickup = True
        db.session.commit()
        return loc.id


def _suggest(client, **data):
    return client.post("/suggestions", data={"csrf_token": csrf_token(client), **data})


def test_patron_suggests_with_a_valid_isbn_and_is_told(app, client, make_patron, login, pickup):
    pid, card, pin = make_patron(email="siti@example.org")
    login(card, pin)
    r = _suggest(client, title="Bumi Manusia", author="Pramoedya", isbn="979-97312-3-2", reason="Untuk skripsi",
                 pickup_location_id=str(pickup))
    assert r.status_code == 303
    page = client.get("/suggestions").get_data(as_text=True)
    assert "Bumi Manusia" in page and "Diajukan" in page
    with app.app_context():
        s = db.session.scalar(select(PurchaseSuggestion))
        assert (s.patron_id, s.isbn, s.status, s.pickup_location_id) == (pid, "9789799731234", "submitted", pickup)
        note = db.session.scalar(select(Notification).where(Notification.patron_id == pid,
                                                            Notification.kind == "suggestion"))
        assert note.subject == "Usulan Anda: Bumi Manusia" and "sudah kami terima" in note.body
        assert db.session.scalar(select(OutboxEmail).where(OutboxEmail.patron_id == pid,
                                                           OutboxEmail.kind == "suggestion")) is not None


def test_invalid_isbn_and_missing_title_are_refused_with_a_reason(app, client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    r = _suggest(client, title="Buku", isbn="9789799731233")
    assert r.status_code == 400 and "ISBN ini tidak valid" in r.get_data(as_text=True)
    r = _suggest(client, title="   ")
    assert r.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(PurchaseSuggestion)) is None


def test_monthly_limit(app, client, make_patron, login, api):
    app.config["SUGGESTIONS_PER_MONTH"] = 2
    _, card, pin = make_patron()
    login(card, pin)
    assert api.post("/api/v1/suggestions", json={"title": "Satu"}).status_code == 201
    assert api.post("/api/v1/suggestions", json={"title": "Dua"}).status_code == 201
    r = api.post("/api/v1/suggestions", json={"title": "Tiga"})
    assert r.status_code == 409 and r.get_json()["error"] == "monthly_limit"
    body = client.get("/api/v1/suggestions").get_json()
    assert [s["title"] for s in body["suggestions"]] == ["Dua", "Satu"] or len(body["suggestions"]) == 2
    assert body["left_this_month"] == 0


def test_patron_sees_only_own_suggestions(app, client, make_patron, login, api):
    _, card_a, pin_a = make_patron()
    _, card_b, pin_b = make_patron()
    login(card_b, pin_b)
    assert api.post("/api/v1/suggestions", json={"title": "Rahasia B"}).status_code == 201
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(card_a, pin_a)
    assert client.get("/api/v1/suggestions").get_json()["suggestions"] == []
    assert "Rahasia B" not in client.get("/suggestions").get_data(as_text=True)


def _step(client, sid, target, **data):
    return client.post(f"/staff/suggestions/{sid}/step", data={"csrf_token": csrf_token(client), "target": target,
                                                               **data})


def test_staff_workflow_to_arrival_places_a_hold(app, client, make_patron, make_staff, make_record, pickup):
    from opac.accounts.models import Patron
    from opac.patron_services import services

    pid, card, _ = make_patron(email="a@example.org")
    rid = make_record(title="Bumi Manusia", items=[{"barcode": "SG1", "call_number": "899.221 PRA b"}])
    with app.test_request_context():
        s = services.suggest_purchase(db.session.get(Patron, pid), title="Bumi Manusia", pickup_location_id=pickup)
        db.session.commit()
        sid = s.id
    staff_login(client, app, *make_staff())
    assert "Bumi Manusia" in client.get("/staff/suggestions").get_data(as_text=True)
    r = _step(client, sid, "arrived", record_id=str(rid))  # not yet: it must be accepted and ordered first
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(PurchaseSuggestion, sid).status == "submitted"
    assert _step(client, sid, "accepted").status_code == 303
    assert _step(client, sid, "ordered").status_code == 303
    _step(client, sid, "arrived")  # without a record: refused
    with app.app_context():
        assert db.session.get(PurchaseSuggestion, sid).status == "ordered"
    _step(client, sid, "arrived", record_id=str(rid))
    with app.app_context():
        s = db.session.get(PurchaseSuggestion, sid)
        assert (s.status, s.record_id) == ("arrived", rid)
        hold = db.session.get(Hold, s.hold_id)
        assert (hold.patron_id, hold.record_id, hold.pickup_location_id) == (pid, rid, pickup)
        kinds = db.session.scalars(select(Notification.body).where(Notification.patron_id == pid,
                                                                   Notification.kind == "suggestion")
                                   .order_by(Notification.id)).all()
        assert len(kinds) == 4  # submitted, accepted, ordered, arrived
        assert "sudah dipesan" in kinds[2] and "sudah dipesankan (reservasi) untuk Anda" in kinds[3]


def test_rejection_needs_a_reason_and_tells_the_patron(app, client, make_patron, make_staff):
    from opac.accounts.models import Patron
    from opac.patron_services import services

    pid, _, _ = make_patron(language="en")
    with app.test_request_context():
        sid = services.suggest_purchase(db.session.get(Patron, pid), title="Laskar Pelangi").id
        db.session.commit()
    staff_login(client, app, *make_staff())
    _step(client, sid, "rejected")
    with app.app_context():
        assert db.session.get(PurchaseSuggestion, sid).status == "submitted"
    _step(client, sid, "rejected", reason="Sudah ada di koleksi")
    with app.app_context():
        s = db.session.get(PurchaseSuggestion, sid)
        assert (s.status, s.staff_reason) == ("rejected", "Sudah ada di koleksi")
        last = db.session.scalar(select(Notification).where(Notification.patron_id == pid,
                                                            Notification.kind == "suggestion")
                                 .order_by(Notification.id.desc()))
        assert last.body == "The library will not buy Laskar Pelangi: Sudah ada di koleksi"
    _step(client, sid, "accepted")  # a closed suggestion stays closed
    with app.app_context():
        assert db.session.get(PurchaseSuggestion, sid).status == "rejected"


def test_patrons_cannot_use_the_staff_workflow(app, client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    assert client.get("/staff/suggestions").status_code in (302, 403)
