"""Signed-in devices (patron and staff pages, JSON API) and the notice on a new-device login."""

from __future__ import annotations

from sqlalchemy import func, select

from opac.accounts.models import AuthSession, KnownDevice, StaffNotice
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from tests.conftest import csrf_token, staff_login

ANDROID = ("Mozilla/5.0 (Linux; Android 14; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def _browser(app, ua, ip):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": ua, "REMOTE_ADDR": ip})
    return client


def _patron_login(client, card, pin):
    r = client.post("/login", data={"card": card, "pin": pin, "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    return r


def _count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_patron_sees_and_signs_out_their_devices(app, make_patron):
    pid, card, pin = make_patron(email="ani@example.org")
    phone, laptop = _browser(app, ANDROID, "10.20.30.40"), _browser(app, IPHONE, "192.168.7.9")
    _patron_login(phone, card, pin)
    _patron_login(laptop, card, pin)
    page = phone.get("/account/devices?hl=en").get_data(as_text=True)
    assert "Chrome on Android" in page and "Safari on iOS" in page
    assert "10.20.x.x" in page and "192.168.x.x" in page and "10.20.30.40" not in page
    assert page.count("badge-ok\">This device") == 1
    with app.app_context():
        iphone_ref = db.session.scalar(select(AuthSession.ref).where(AuthSession.device == "Safari on iOS"))
    r = phone.post(f"/account/devices/{iphone_ref}/revoke", data={"csrf_token": csrf_token(phone)})
    assert r.status_code == 303
    assert laptop.get("/account/loans").status_code == 302  # that device is signed out
    assert phone.get("/account/loans").status_code == 200  # this one is not


def test_sign_out_all_other_devices(app, make_patron):
    _, card, pin = make_patron()
    a, b, c = (_browser(app, ANDROID, f"10.0.0.{i}") for i in (1, 2, 3))
    for cl in (a, b, c):
        _patron_login(cl, card, pin)
    assert a.post("/account/devices/revoke-others", data={"csrf_token": csrf_token(a)}).status_code == 303
    assert a.get("/account/loans").status_code == 200
    assert b.get("/account/loans").status_code == 302 and c.get("/account/loans").status_code == 302


def test_a_patron_cannot_end_or_see_another_patrons_session(app, make_patron):
    _, card_a, pin_a = make_patron()
    bid, card_b, pin_b = make_patron()
    a, b = _browser(app, ANDROID, "10.0.0.1"), _browser(app, IPHONE, "10.9.0.1")
    _patron_login(a, card_a, pin_a)
    _patron_login(b, card_b, pin_b)
    with app.app_context():
        b_ref = db.session.scalar(select(AuthSession.ref).where(AuthSession.user_id == bid, AuthSession.kind == "patron"))
    assert "Safari on iOS" not in a.get("/account/devices?hl=en").get_data(as_text=True)
    assert a.post(f"/account/devices/{b_ref}/revoke", data={"csrf_token": csrf_token(a)}).status_code == 404
    r = a.post(f"/api/v1/sessions/{b_ref}/revoke", headers={"X-CSRFToken": csrf_token(a)})
    assert r.status_code == 404
    assert b_ref not in a.get("/api/v1/sessions").get_data(as_text=True)
    assert b.get("/account/loans").status_code == 200  # B is still signed in


def test_sessions_api_lists_and_revokes(app, make_patron):
    _, card, pin = make_patron()
    phone, other = _browser(app, ANDROID, "10.20.30.40"), _browser(app, IPHONE, "10.1.2.3")
    for cl in (phone, other):
        r = cl.post("/api/v1/login", json={"card": card, "pin": pin}, headers={"X-CSRFToken": csrf_token(cl)})
        assert r.status_code == 200
    body = phone.get("/api/v1/sessions").get_json()
    assert len(body["sessions"]) == 2
    mine = [s for s in body["sessions"] if s["current"]]
    assert len(mine) == 1 and mine[0]["device"] == "Chrome on Android" and mine[0]["ip_prefix"] == "10.20.x.x"
    theirs = next(s for s in body["sessions"] if not s["current"])
    assert phone.post(f"/api/v1/sessions/{theirs['id']}/revoke").status_code == 400  # no CSRF token
    r = phone.post(f"/api/v1/sessions/{theirs['id']}/revoke", headers={"X-CSRFToken": csrf_token(phone)})
    assert r.status_code == 200 and r.get_json() == {"ok": True}
    assert other.get("/api/v1/me").status_code == 401
    assert len(phone.get("/api/v1/sessions").get_json()["sessions"]) == 1
    assert phone.get("/api/v1/sessions").status_code == 200
    assert app.test_client().get("/api/v1/sessions").status_code == 401


def test_sessions_api_matches_its_openapi_entry(app, client, make_patron):
    import jsonschema

    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/sessions", "/api/v1/sessions/{session_id}/revoke"} <= set(spec["paths"])
    _, card, pin = make_patron()
    _patron_login(client, card, pin)
    schema = spec["paths"]["/api/v1/sessions"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({"components": spec["components"], **schema}).validate(
        client.get("/api/v1/sessions").get_json())


def test_new_device_login_sends_a_notice_once(app, make_patron):
    pid, card, pin = make_patron(email="ani@example.org", language="en")
    phone = _browser(app, ANDROID, "10.20.30.40")
    r = _patron_login(phone, card, pin)
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("opac_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with app.app_context():
        stored = db.session.scalar(select(KnownDevice.device_hash))
        assert stored != token and len(stored) == 64  # only its hash is kept
    assert _count(app, Notification, Notification.patron_id == pid, Notification.kind == "new_sign_in") == 1
    mail = _count(app, OutboxEmail, OutboxEmail.kind == "new_sign_in")
    assert mail == 1
    with app.app_context():
        msg = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "new_sign_in"))
        assert msg.to == "ani@example.org" and "A new sign-in to your library account" in msg.subject
        assert "Chrome on Android" in msg.body and "sign out all devices" in msg.body
        assert "https://opac.test/account/devices" in msg.body
    # the same browser again (logged out, then in): no new notice
    phone.post("/logout", data={"csrf_token": csrf_token(phone)})
    _patron_login(phone, card, pin)
    assert _count(app, Notification, Notification.kind == "new_sign_in") == 1
    assert _count(app, OutboxEmail, OutboxEmail.kind == "new_sign_in") == 1
    # another browser: a second notice
    _patron_login(_browser(app, IPHONE, "10.1.1.1"), card, pin)
    assert _count(app, Notification, Notification.kind == "new_sign_in") == 2
    assert _count(app, OutboxEmail, OutboxEmail.kind == "new_sign_in") == 2


def test_new_device_notice_is_in_indonesian_by_default(app, make_patron):
    _, card, pin = make_patron(email="budi@example.org")
    _patron_login(_browser(app, ANDROID, "10.0.0.1"), card, pin)
    with app.app_context():
        msg = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "new_sign_in"))
        assert "A new sign-in" not in msg.subject and msg.subject


def test_patron_without_email_gets_the_in_app_notice_only(app, make_patron):
    pid, card, pin = make_patron()
    _patron_login(_browser(app, ANDROID, "10.0.0.1"), card, pin)
    assert _count(app, Notification, Notification.patron_id == pid) == 1
    assert _count(app, OutboxEmail) == 0


def test_staff_devices_page_and_new_device_notice(app, make_staff):
    from opac.accounts.services import create_staff_account

    with app.test_request_context():
        create_staff_account("lib", "correct-horse-battery-staple", "Lib", "librarian", "lib@example.org")
        db.session.commit()
    desk, home = _browser(app, ANDROID, "10.5.6.7"), _browser(app, IPHONE, "172.16.1.2")
    staff_login(desk, app, "lib", "correct-horse-battery-staple")
    staff_login(home, app, "lib", "correct-horse-battery-staple")
    assert _count(app, StaffNotice) == 2
    assert _count(app, OutboxEmail, OutboxEmail.to == "lib@example.org") == 2
    assert "2 new security notices" in desk.get("/staff/?hl=en").get_data(as_text=True)
    page = desk.get("/staff/devices?hl=en").get_data(as_text=True)
    assert "Chrome on Android" in page and "Safari on iOS" in page
    assert "Ada login baru ke akun perpustakaan Anda" in page  # written in the staff member's language
    assert desk.post("/staff/devices/revoke-others", data={"csrf_token": csrf_token(desk)}).status_code == 303
    assert home.get("/staff/desk").status_code == 302 and desk.get("/staff/desk").status_code == 200
    assert desk.post("/staff/notices/read", data={"csrf_token": csrf_token(desk)}).status_code == 303
    assert _count(app, StaffNotice, StaffNotice.read_at.is_(None)) == 0
    assert "security notice" not in desk.get("/staff/?hl=en").get_data(as_text=True)
