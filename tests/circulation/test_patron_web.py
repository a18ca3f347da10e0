"""Patron self-service through the pages and the JSON API, and the staff desk."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from opac.catalog.models import Location
from opac.circulation.models import Hold, Loan
from opac.extensions import db
from tests.conftest import csrf_token


@pytest.fixture
def world(app, load_records, make_patron, make_staff):
    ids = load_records([
        dict(title="Laskar Pelangi", items=[{"barcode": "W1", "location": "PUSAT"}]),
        dict(title="Sang Pemimpi", items=[{"barcode": "W2", "location": "PUSAT"}, {"barcode": "W3", "location": "PUSAT"}]),
    ])
    a = make_patron(email="a@example.org")
    b = make_patron()
    staff = make_staff()
    with app.app_context():
        pusat = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        pusat.is_pickup = True
        db.session.commit()
        pickup = pusat.id
    return {"records": ids, "a": a, "b": b, "staff": staff, "pickup": pickup}


def staff_checkout(app, card, barcode):
    from opac.circulation import actions

    with app.test_request_context():
        r = actions.checkout(card, barcode)
    assert r["ok"], r
    return r


def test_my_loans_shows_due_and_reason_and_renews(app, client, world, login):
    _, card, pin = world["a"]
    staff_checkout(app, card, "W1")
    staff_checkout(app, card, "W2")
    # another patron waits for Laskar Pelangi (only copy)
    with app.test_request_context():
        from opac.circulation import actions

        assert actions.place_hold(world["b"][0], world["records"][0], world["pickup"])["ok"]
    login(card, pin)
    page = client.get("/account/loans").get_data(as_text=True)
    assert "Laskar Pelangi" in page and "Sang Pemimpi" in page
    assert "Tidak dapat diperpanjang sekarang" in page or "Cannot be renewed now" in page
    assert page.count('class="card loan"') == 2
    with app.app_context():
        loan = db.session.scalar(select(Loan).join(Loan.item).where(Loan.returned_at.is_(None)).order_by(Loan.id.desc()))
        loan_id = loan.id
    form = {"csrf_token": csrf_token(client), "idempotency_key": "form-1"}
    assert client.post(f"/account/loans/{loan_id}/renew", data=form).status_code == 303
    assert client.post(f"/account/loans/{loan_id}/renew", data=form).status_code == 303  # double submit
    with app.app_context():
        assert db.session.get(Loan, loan_id).renewals == 1
    page = client.post("/account/loans/renew-all", data={"csrf_token": csrf_token(client)}).get_data(as_text=True)
    assert "Laskar Pelangi" in page and "Sang Pemimpi" in page


def test_api_loans_holds_and_refusals(app, client, world, api):
    _, card, pin = world["a"]
    staff_checkout(app, card, "W1")
    r = api.post("/api/v1/login", json={"card": card, "pin": pin})
    assert r.status_code == 200 and r.get_json()["patron"]["card_number"] == card
    loans = client.get("/api/v1/loans").get_json()["loans"]
    assert loans[0]["title"] == "Laskar Pelangi" and loans[0]["can_renew"] is True and loans[0]["renewals_left"] == 2
    r = api.post(f"/api/v1/loans/{loans[0]['id']}/renew", headers={"Idempotency-Key": "abc"})
    assert r.status_code == 200 and r.get_json()["renewals"] == 1
    r2 = api.post(f"/api/v1/loans/{loans[0]['id']}/renew", headers={"Idempotency-Key": "abc"})
    assert r2.get_json()["replayed"] is True and r2.get_json()["due_date"] == r.get_json()["due_date"]
    # holds
    r = api.post("/api/v1/holds", json={"record_id": world["records"][1], "pickup_location_id": world["pickup"]})
    assert r.status_code == 200 and r.get_json()["hold"]["position"] == 1
    r = api.post("/api/v1/holds", json={"record_id": world["records"][1], "pickup_location_id": world["pickup"]})
    assert r.status_code == 409 and r.get_json()["error"] == "already_holding" and r.get_json()["message"]
    hold_id = client.get("/api/v1/holds").get_json()["holds"][0]["id"]
    assert api.post(f"/api/v1/holds/{hold_id}/suspend", json={"until": "2099-01-01"}).get_json()["hold"]["suspended"]
    assert api.post(f"/api/v1/holds/{hold_id}/resume").get_json()["hold"]["suspended"] is False
    assert api.post(f"/api/v1/holds/{hold_id}/cancel").get_json()["hold"]["status"] == "cancelled"
    assert client.get("/api/v1/holds").get_json()["holds"] == []
    card_json = client.get("/api/v1/card").get_json()
    assert card_json["card_number"] == card and "<svg" in card_json["barcode_svg"]


def test_place_hold_page(app, client, world, login):
    _, card, pin = world["a"]
    login(card, pin)
    rid = world["records"][1]
    page = client.get(f"/record/{rid}/hold").get_data(as_text=True)
    assert 'name="pickup_location_id"' in page
    r = client.post(f"/record/{rid}/hold", data={"pickup_location_id": world["pickup"], "csrf_token": csrf_token(client),
                                                 "idempotency_key": "h1"})
    assert r.status_code == 303
    holds = client.get("/account/holds").get_data(as_text=True)
    assert "Sang Pemimpi" in holds and ("1 dari 1" in holds or "1 of 1" in holds)


def test_library_card_page(client, world, login):
    _, card, pin = world["a"]
    login(card, pin)
    page = client.get("/card").get_data(as_text=True)
    assert f'data-card="{card}"' in page and page.count("<svg") >= 2 and "Code 128" in page
    assert "style=" not in page.split('class="library-card"')[1].split("</div>\n<p>")[0]


def test_staff_desk_checkout_checkin_and_holds_shelf(app, client, world):
    user, password = world["staff"]
    _, card_a, _ = world["a"]
    client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    r = client.post("/staff/desk", data={"action": "checkout", "card": card_a, "barcode": "W1",
                                         "csrf_token": csrf_token(client)})
    assert r.status_code == 200 and "W1" in r.get_data(as_text=True)
    r = client.post("/staff/desk", data={"action": "checkout", "card": card_a, "barcode": "W1",
                                         "csrf_token": csrf_token(client)})
    assert r.status_code == 409
    with app.test_request_context():
        from opac.circulation import actions

        assert actions.place_hold(world["b"][0], world["records"][0], world["pickup"])["ok"]
    page = client.post("/staff/desk", data={"action": "checkin", "barcode": "W1",
                                            "csrf_token": csrf_token(client)}).get_data(as_text=True)
    assert world["b"][1] in page  # set aside for patron b: the slip names the card
    shelf = client.get("/staff/holds").get_data(as_text=True)
    assert "Laskar Pelangi" in shelf and world["b"][1] in shelf
    with app.app_context():
        assert db.session.scalar(select(Hold)).status == "ready"


def test_no_log_line_ties_a_card_to_what_was_searched_or_borrowed(app, client, world, login, caplog):
    _, card, pin = world["a"]
    caplog.set_level(logging.DEBUG)
    login(card, pin)
    client.get("/search?q=laskar")
    client.get("/api/v1/search?q=pemimpi")
    staff_checkout(app, card, "W1")
    client.get("/account/loans")
    for rec in caplog.records:
        assert card not in rec.getMessage()
