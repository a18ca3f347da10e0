""""Renew all" says what it will do first, skips loans renewed today unless asked, pages and API alike."""

from __future__ import annotations

import re

from sqlalchemy import select

from opac.catalog.models import Location
from opac.circulation import actions
from opac.circulation.models import Loan
from opac.extensions import db
from tests.conftest import csrf_token


def _setup(app, load_records, make_patron):
    ids = load_records([dict(title="Buku Hari Ini", items=[{"barcode": "R1", "location": "PUSAT"}]),
                        dict(title="Buku Terakhir", items=[{"barcode": "R2", "location": "PUSAT"}]),
                        dict(title="Buku Dipesan", items=[{"barcode": "R3", "location": "PUSAT"}])])
    a, b = make_patron(), make_patron()
    with app.test_request_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        db.session.commit()
        loans = {}
        for barcode in ("R1", "R2", "R3"):
            loans[barcode] = actions.checkout(a[1], barcode)["loan_id"]
        assert actions.renew(a[0], loans["R1"])["ok"]  # renewed earlier today
        db.session.get(Loan, loans["R2"]).renewals = 1  # one renewal left of two
        db.session.commit()
        assert actions.place_hold(b[0], ids[2], loc.id)["ok"]  # someone waits for R3
    return a, loans


def _renewals(app, loans):
    with app.app_context():
        return {k: db.session.get(Loan, v).renewals for k, v in loans.items()}


def test_preview_then_renew_all_skips_renewed_today_unless_ticked(app, client, load_records, make_patron, login):
    (pid, card, pin), loans = _setup(app, load_records, make_patron)
    login(card, pin)
    page = client.get("/account/loans?hl=en").get_data(as_text=True)
    plan = page[page.index('class="renew-plan"'):page.index("</form>", page.index('class="renew-plan"'))]
    assert "This will renew 1 loan:" in page
    lines = {t: line for line in re.findall(r"<li.*?</li>", plan, re.S) for t in ("Hari Ini", "Terakhir", "Dipesan") if t in line}
    assert "skipped" in lines["Hari Ini"] and "Already renewed today" in lines["Hari Ini"]
    assert "renewed, due" in lines["Terakhir"] and "last renewal" in lines["Terakhir"] and "<time datetime=" in lines["Terakhir"]
    assert "skipped" in lines["Dipesan"] and "waiting" in lines["Dipesan"]
    assert 'name="include_renewed_today"' in plan and "Also renew the 1 loan renewed today" in plan

    r = client.post("/account/loans/renew-all?hl=en", data={"csrf_token": csrf_token(client), "idempotency_key": "all-1"})
    assert "That was its last renewal." in r.get_data(as_text=True)
    assert _renewals(app, loans) == {"R1": 1, "R2": 2, "R3": 0}
    # asked explicitly: the loan renewed today is renewed again
    client.post("/account/loans/renew-all", data={"csrf_token": csrf_token(client), "idempotency_key": "all-2",
                                                  "include_renewed_today": "1"})
    assert _renewals(app, loans) == {"R1": 2, "R2": 2, "R3": 0}


def test_api_preview_and_renew_all_follow_the_same_rule(app, client, load_records, make_patron, api):
    (pid, card, pin), loans = _setup(app, load_records, make_patron)
    assert api.post("/api/v1/login", json={"card": card, "pin": pin}).status_code == 200
    plan = {e["title"]: e for e in client.get("/api/v1/loans/renew-all").get_json()["plan"]}
    assert plan["Buku Hari Ini"]["action"] == "skip" and plan["Buku Hari Ini"]["reason"] == "renewed_today"
    assert plan["Buku Terakhir"]["action"] == "renew" and plan["Buku Terakhir"]["last_renewal"] is True
    assert plan["Buku Dipesan"]["reason"] == "on_hold"
    included = client.get("/api/v1/loans/renew-all?include_renewed_today=1").get_json()["plan"]
    assert [e["action"] for e in included if e["title"] == "Buku Hari Ini"] == ["renew"]
    assert _renewals(app, loans) == {"R1": 1, "R2": 1, "R3": 0}  # previews change nothing
    r = api.post("/api/v1/loans/renew-all", headers={"Idempotency-Key": "x1"}).get_json()
    assert r["renewed"] == 1 and _renewals(app, loans) == {"R1": 1, "R2": 2, "R3": 0}
    r = api.post("/api/v1/loans/renew-all", json={"include_renewed_today": True}, headers={"Idempotency-Key": "x2"}).get_json()
    assert r["renewed"] == 1 and _renewals(app, loans) == {"R1": 2, "R2": 2, "R3": 0}
