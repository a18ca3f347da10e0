"""Self-checkout with the phone: only inside the library (network or desk code), the desk's rules,
a receipt, staff see it, and exactly one loan under double taps and retries."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from opac.catalog.models import Item, Location
from opac.circulation import actions, selfcheck
from opac.circulation.models import Hold, Loan
from opac.extensions import db
from tests.conftest import HttpUser, csrf_token, run_at_once, staff_login


@pytest.fixture
def app_config():
    return {"SELFCHECK_NETWORKS": ["10.20.0.0/16", "127.0.0.0/8"],
            "LIVE_SERVER_ENV": {"SELFCHECK_NETWORKS": '["127.0.0.0/8"]'}}


@pytest.fixture
def scene(app, load_records, make_patron):
    ids = load_records([dict(title="Laskar Pelangi", items=[{"barcode": "SC1", "location": "PUSAT"},
                                                           {"barcode": "SC2", "location": "PUSAT"}]),
                        dict(title="Bumi Manusia", items=[{"barcode": "SC3", "location": "PUSAT"}])])
    return {"records": ids, "patron": make_patron(), "other": make_patron()}


def _borrow(api, barcode, key=None, **kw):
    headers = {"Idempotency-Key": key} if key else {}
    if kw:
        client = kw.pop("client")
        return client.post("/api/v1/selfcheck", json={"barcode": barcode},
                           headers={**headers, "X-CSRFToken": csrf_token(client)}, **kw)
    return api.post("/api/v1/selfcheck", json={"barcode": barcode}, headers=headers)


def test_patron_borrows_with_the_phone_and_gets_the_due_date(app, client, api, login, scene):
    login(*scene["patron"][1:])
    assert client.get("/api/v1/selfcheck").get_json()["allowed"] is True
    r = _borrow(api, "SC1", "k1")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["ok"] and body["barcode"] == "SC1" and body["title"] == "Laskar Pelangi"
    assert body["loan"]["due_date"] == body["due_date"]
    with app.app_context():
        loan = db.session.scalar(select(Loan))
        assert loan.channel == "self" and loan.patron_id == scene["patron"][0]
        assert db.session.scalar(select(Item.status).where(Item.barcode == "SC1")) == "on_loan"
    # the same copy again: refused in plain words
    r = _borrow(api, "SC1", "k2")
    assert r.status_code == 409 and r.get_json()["error"] == "already_on_loan"
    assert "already on loan" in r.get_json()["message"] or "sedang dipinjam" in r.get_json()["message"]
    r = _borrow(api, "NOPE", "k3")
    assert r.status_code == 409 and r.get_json()["error"] == "item_not_found"


def test_desk_loans_stay_marked_desk(app, scene):
    with app.test_request_context():
        assert actions.checkout(scene["patron"][1], "SC3")["ok"]
        assert db.session.scalar(select(Loan.channel)) == "desk"


def test_outside_the_library_network_is_refused(app, client, api, login, scene):
    login(*scene["patron"][1:])
    r = _borrow(api, "SC1", "k1", client=client, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403 and r.get_json()["error"] == "outside"
    r = client.post("/selfcheck", data={"barcode": "SC1", "csrf_token": csrf_token(client)},
                    environ_base={"REMOTE_ADDR": "10.21.0.5"})
    assert r.status_code == 403 and "Wi-Fi" in r.get_data(as_text=True)
    inside = client.post("/selfcheck", data={"barcode": "SC1", "csrf_token": csrf_token(client)},
                         environ_base={"REMOTE_ADDR": "10.20.3.4"})
    assert inside.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Loan)) == 1


def test_no_networks_means_off(app, client, api, login, scene):
    app.config["SELFCHECK_NETWORKS"] = []
    login(*scene["patron"][1:])
    r = _borrow(api, "SC1")
    assert r.status_code == 403 and r.get_json()["error"] == "off"


def test_client_ip_behind_a_proxy_is_the_one_checked(app, scene):
    from opac import create_app

    cfg = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "INDEX_DIR", "SECRET_KEY", "BASE_URL")}
    proxied = create_app({**cfg, "TESTING": True, "PROXY_COUNT": 1, "SELFCHECK_NETWORKS": ["10.20.0.0/16"]})
    c = proxied.test_client()
    tok = c.post("/api/v1/login", json={"card": scene["patron"][1], "pin": scene["patron"][2]},
                 headers={"X-CSRFToken": c.get("/api/v1/session").get_json()["csrf_token"]}).get_json()["csrf_token"]
    # the proxy saw 198.51.100.7: a client-written 10.20.x.x to the left of it is ignored
    r = c.post("/api/v1/selfcheck", json={"barcode": "SC1"}, headers={
        "X-CSRFToken": tok, "X-Forwarded-For": "10.20.0.1, 198.51.100.7"})
    assert r.status_code == 403, r.get_json()
    r = c.post("/api/v1/selfcheck", json={"barcode": "SC1"}, headers={"X-CSRFToken": tok, "X-Forwarded-For": "10.20.0.9"})
    assert r.status_code == 200, r.get_json()


def test_desk_rules_apply(app, client, api, login, scene, make_patron):
    from opac.accounts.models import Patron

    login(*scene["patron"][1:])
    with app.app_context():
        p = db.session.get(Patron, scene["patron"][0])
        p.blocked, p.block_note = True, "lost book"
        db.session.commit()
    r = _borrow(api, "SC1", "b1")
    assert r.status_code == 409 and r.get_json()["error"] == "blocked" and "lost book" in r.get_json()["message"]
    with app.app_context():
        p = db.session.get(Patron, scene["patron"][0])
        p.blocked = False
        from datetime import date

        p.expires_on = date(2000, 1, 1)
        db.session.commit()
    assert _borrow(api, "SC1", "b2").get_json()["error"] == "card_expired"
    with app.app_context():
        db.session.get(Patron, scene["patron"][0]).expires_on = None
        from opac.circulation.models import CirculationPolicy

        for pol in db.session.scalars(select(CirculationPolicy)):
            pol.max_loans = 1
        db.session.commit()
    assert _borrow(api, "SC1", "b3").status_code == 200
    r = _borrow(api, "SC3", "b4")
    assert r.status_code == 409 and r.get_json()["error"] == "too_many_loans"


def test_copy_set_aside_for_another_patrons_hold_is_refused(app, client, api, login, scene):
    with app.test_request_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        db.session.commit()
        assert actions.checkout(scene["patron"][1], "SC3")["ok"]
        assert actions.place_hold(scene["other"][0], scene["records"][1], loc.id)["ok"]
        assert actions.checkin("SC3", loc.id)["ok"]
        assert db.session.scalar(select(Hold.status)) == "ready"
    login(*scene["patron"][1:])
    r = _borrow(api, "SC3", "h1")
    assert r.status_code == 409 and r.get_json()["error"] == "held_for_other"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(*scene["other"][1:])
    assert _borrow(api, "SC3", "h2").status_code == 200  # the holder may take it


def test_html_form_without_js_gives_a_receipt_and_double_submit_borrows_once(app, client, login, scene):
    login(*scene["patron"][1:])
    page = client.get("/selfcheck")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="barcode"' in html and 'name="idempotency_key"' in html
    import re

    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    data = {"barcode": "SC2", "idempotency_key": key, "csrf_token": csrf_token(client)}
    first, again = client.post("/selfcheck", data=data), client.post("/selfcheck", data=data)
    assert first.status_code == again.status_code == 200
    assert "Laskar Pelangi" in first.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Loan)) == 1
    r = client.post("/selfcheck", data={**data, "idempotency_key": "other"})
    assert r.status_code == 409


def test_anonymous_gets_the_login_page(client):
    assert client.get("/selfcheck").status_code == 302
    assert client.post("/api/v1/selfcheck", json={"barcode": "x"}).status_code in (400, 401)


def test_desk_code_mode(app, client, api, login, scene, make_staff):
    app.config.update(SELFCHECK_MODE="desk_code", SELFCHECK_NETWORKS=[])
    login(*scene["patron"][1:])
    r = _borrow(api, "SC1", "d1")
    assert r.status_code == 403 and r.get_json()["error"] == "desk_code_needed"
    bad = api.post("/api/v1/selfcheck/desk-code", json={"code": "0123456789ABCDEF"})
    assert bad.status_code == 403 and bad.get_json()["error"] == "bad_desk_code"
    with app.test_request_context():
        code = selfcheck.desk_code()
        old = selfcheck.desk_code(selfcheck._window() - 2)
    assert api.post("/api/v1/selfcheck/desk-code", json={"code": old}).status_code == 403
    ok = api.post("/api/v1/selfcheck/desk-code", json={"code": f"https://opac.test/selfcheck?code={code}"})
    assert ok.status_code == 200 and ok.get_json()["allowed"] is True
    assert _borrow(api, "SC1", "d2").status_code == 200
    # the grant ends after SELFCHECK_GRANT_MINUTES
    with client.session_transaction() as s:
        s[selfcheck.SESSION_KEY] = time.time() - 1
    assert _borrow(api, "SC2", "d3").status_code == 403


def test_desk_code_changes_with_the_window(app):
    with app.test_request_context():
        now = time.time()
        period = app.config["SELFCHECK_DESK_CODE_MINUTES"] * 60
        assert selfcheck.valid_desk_code(selfcheck.desk_code(), now)
        assert selfcheck.valid_desk_code(selfcheck.desk_code(selfcheck._window(now)), now + period)  # previous still ok
        assert not selfcheck.valid_desk_code(selfcheck.desk_code(selfcheck._window(now)), now + 2 * period)
        assert selfcheck.desk_code(1) != selfcheck.desk_code(2)
        assert not selfcheck.valid_desk_code("é" * 16, now)  # not ASCII: refused, not a server error


def test_staff_see_self_checkouts_and_the_desk_code(app, client, api, login, scene, make_staff):
    login(*scene["patron"][1:])
    assert _borrow(api, "SC1", "s1").status_code == 200
    with app.test_request_context():
        assert actions.checkout(scene["other"][1], "SC3")["ok"]  # a desk loan: not in the list
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    user, pw = make_staff()
    staff_login(client, app, user, pw)
    page = client.get("/staff/selfcheck").get_data(as_text=True)
    assert "Laskar Pelangi" in page and scene["patron"][1] in page and "Bumi Manusia" not in page
    qr = client.get("/staff/selfcheck/desk-code")
    assert qr.status_code == 200 and "<svg" in qr.get_data(as_text=True)
    with app.test_request_context():
        assert selfcheck.desk_code() in qr.get_data(as_text=True)


@pytest.mark.slow
def test_eight_identical_requests_make_one_loan_and_other_keys_get_409(app, live_server, scene):
    card, pin = scene["patron"][1:]
    users = [HttpUser(live_server).login_patron(card, pin) for _ in range(8)]
    same = run_at_once([lambda u=u: u.post("/api/v1/selfcheck", json={"barcode": "SC1"},
                                           headers={"Idempotency-Key": "tap-1"}) for u in users])
    assert [r.status_code for r in same] == [200] * 8, [r.text for r in same]
    assert len({r.json()["loan_id"] for r in same}) == 1
    other = run_at_once([lambda u=u, i=i: u.post("/api/v1/selfcheck", json={"barcode": "SC2"},
                                                 headers={"Idempotency-Key": f"k{i}"}) for i, u in enumerate(users)])
    codes = sorted(r.status_code for r in other)
    assert codes == [200] + [409] * 7, codes
    assert {r.json()["error"] for r in other if r.status_code == 409} == {"already_on_loan"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Loan)) == 2
        assert set(db.session.scalars(select(Loan.channel))) == {"self"}


def test_answers_match_the_openapi_document(app, client, api, login, scene):
    import jsonschema

    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/selfcheck"]

    def check(response, method, status):
        schema = op[method]["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({"components": spec["components"], **schema}).validate(response.get_json())

    login(*scene["patron"][1:])
    check(client.get("/api/v1/selfcheck"), "get", 200)
    ok = _borrow(api, "SC1", "o1")
    check(ok, "post", 200)
    refused = _borrow(api, "SC1", "o2")
    assert refused.status_code == 409
    check(refused, "post", 409)
    outside = _borrow(api, "SC2", "o3", client=client, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    check(outside, "post", 403)
    assert "Borrow it yourself" in client.get("/account/loans?hl=en").get_data(as_text=True)
