"""Several gunicorn workers, several people at once (runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from opac.catalog.models import Item, Location
from opac.circulation import rules
from opac.circulation.models import Hold, Loan
from opac.extensions import db
from tests.conftest import HttpUser, run_at_once

pytestmark = pytest.mark.slow


@pytest.fixture
def scene(app, load_records, make_patron, make_staff):
    ids = load_records([dict(title="Satu Eksemplar", items=[{"barcode": "ONE", "location": "PUSAT"}]),
                        dict(title="Dua", items=[{"barcode": "TWO", "location": "PUSAT"}])])
    patrons = [make_patron() for _ in range(16)]
    staff = make_staff()
    with app.app_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        for pol in db.session.scalars(select(rules.CirculationPolicy)):
            pol.max_holds, pol.max_renewals = 20, 5
        db.session.commit()
        pickup = loc.id
    return {"records": ids, "patrons": patrons, "staff": staff, "pickup": pickup}


def test_16_simultaneous_checkouts_of_one_copy(app, live_server, scene):
    desks = [HttpUser(live_server).login_staff(*scene["staff"]) for _ in range(16)]
    calls = [lambda d=d, p=p: d.post("/staff/desk", data={"action": "checkout", "card": p[1], "barcode": "ONE"})
             for d, p in zip(desks, scene["patrons"])]
    results = run_at_once(calls)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 15, codes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Loan).where(Loan.returned_at.is_(None))) == 1
        assert db.session.scalar(select(Item.status).where(Item.barcode == "ONE")) == "on_loan"


def test_16_simultaneous_holds_get_positions_1_to_16_and_cancel_closes_gaps(app, live_server, scene):
    users = [HttpUser(live_server).login_patron(p[1], p[2]) for p in scene["patrons"]]
    rid = scene["records"][0]
    results = run_at_once([lambda u=u: u.post("/api/v1/holds", json={"record_id": rid, "pickup_location_id": scene["pickup"]})
                           for u in users])
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    positions = sorted(u.get("/api/v1/holds").json()["holds"][0]["position"] for u in users)
    assert positions == list(range(1, 17))
    lengths = {u.get("/api/v1/holds").json()["holds"][0]["queue_length"] for u in users}
    assert lengths == {16}
    # three cancel at once: the others close up to 1..13
    cancelling = users[2:5]
    ids = [u.get("/api/v1/holds").json()["holds"][0]["id"] for u in cancelling]
    out = run_at_once([lambda u=u, i=i: u.post(f"/api/v1/holds/{i}/cancel") for u, i in zip(cancelling, ids)])
    assert all(r.status_code == 200 for r in out)
    rest = [u for u in users if u not in cancelling]
    assert sorted(u.get("/api/v1/holds").json()["holds"][0]["position"] for u in rest) == list(range(1, 14))


def test_k_simultaneous_renewals_end_at_the_limit(app, live_server, scene):
    from opac.circulation import actions

    card, pin = scene["patrons"][0][1], scene["patrons"][0][2]
    with app.test_request_context():
        assert actions.checkout(card, "ONE")["ok"]
        loan_id = db.session.scalar(select(Loan.id))
    users = [HttpUser(live_server).login_patron(card, pin) for _ in range(8)]
    results = run_at_once([lambda u=u, k=k: u.post(f"/api/v1/loans/{loan_id}/renew", headers={"Idempotency-Key": f"r{k}"})
                           for k, u in enumerate(users)])
    renewed = sum(1 for r in results if r.status_code == 200 and r.json()["ok"])
    refused = [r.json()["error"] for r in results if r.status_code == 409]
    with app.app_context():
        loan = db.session.get(Loan, loan_id)
        assert loan.renewals == min(8, 5) == renewed
        assert refused == ["too_many_renewals"] * 3


def test_the_same_renewal_sent_many_times_renews_once(app, live_server, scene):
    from opac.circulation import actions

    card, pin = scene["patrons"][0][1], scene["patrons"][0][2]
    with app.test_request_context():
        assert actions.checkout(card, "ONE")["ok"]
        loan_id = db.session.scalar(select(Loan.id))
    users = [HttpUser(live_server).login_patron(card, pin) for _ in range(6)]
    results = run_at_once([lambda u=u: u.post(f"/api/v1/loans/{loan_id}/renew", headers={"Idempotency-Key": "same"})
                           for u in users])
    assert all(r.status_code == 200 for r in results)
    assert len({r.json()["due_date"] for r in results}) == 1
    with app.app_context():
        assert db.session.get(Loan, loan_id).renewals == 1


def test_renewal_racing_a_new_hold_has_one_serial_outcome(app, live_server, scene):
    from opac.circulation import actions

    borrower, waiter = scene["patrons"][0], scene["patrons"][1]
    outcomes = set()
    for round_ in range(4):
        with app.test_request_context():
            for h in db.session.scalars(select(Hold)).all():
                db.session.delete(h)
            db.session.commit()
            if round_:
                assert actions.checkin("ONE")["ok"]
            assert actions.checkout(borrower[1], "ONE")["ok"]
            loan_id = db.session.scalar(select(Loan.id).where(Loan.returned_at.is_(None)))
        a = HttpUser(live_server).login_patron(borrower[1], borrower[2])
        b = HttpUser(live_server).login_patron(waiter[1], waiter[2])
        renew, hold = run_at_once([
            lambda: a.post(f"/api/v1/loans/{loan_id}/renew", headers={"Idempotency-Key": f"race{round_}"}),
            lambda: b.post("/api/v1/holds", json={"record_id": scene["records"][0], "pickup_location_id": scene["pickup"]}),
        ])
        assert hold.status_code == 200
        with app.app_context():
            renewals = db.session.get(Loan, loan_id).renewals
        if renew.status_code == 200:
            assert renewals == 1
            outcomes.add("renew-first")
        else:
            assert renew.json()["error"] == "on_hold" and renewals == 0
            outcomes.add("hold-first")
    assert outcomes <= {"renew-first", "hold-first"}


def test_login_throttling_holds_across_4_workers(app, live_server, scene):
    card = scene["patrons"][0][1]
    limit = app.config["LOGIN_MAX_ATTEMPTS"]
    users = [HttpUser(live_server) for _ in range(20)]
    results = run_at_once([lambda u=u: u.post("/api/v1/login", json={"card": card, "pin": "wrong"}) for u in users])
    codes = [r.status_code for r in results]
    assert codes.count(401) <= limit and codes.count(401) >= 1
    assert codes.count(429) == 20 - codes.count(401)
    # the right PIN is refused too until the window passes
    assert HttpUser(live_server).post("/api/v1/login", json={"card": card, "pin": scene["patrons"][0][2]}).status_code == 429
