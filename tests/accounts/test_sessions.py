"""Login session lifetimes, enforced on the server: "keep me signed in on this device" or a
browser-session cookie, idle timeouts and an absolute lifetime, on a clock the tests move."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opac.catalog.models import utcnow
from tests.conftest import csrf_token


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """The clock the account services read (session start, last use, expiry, throttles)."""
    c = Clock()
    monkeypatch.setattr("opac.accounts.services.utcnow", c)
    return c


def cookie_line(resp, name):
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def log_in(client, card, pin, remember=False):
    data = {"card": card, "pin": pin, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "1"
    r = client.post("/login", data=data)
    assert r.status_code == 303
    return r


def signed_in(client):
    return client.get("/account/loans").status_code == 200


def test_login_form_offers_keep_me_signed_in(client):
    page = client.get("/login?hl=en").get_data(as_text=True)
    assert 'name="remember"' in page and "Keep me signed in on this device" in page


def test_without_remember_the_cookies_die_with_the_browser(client, make_patron):
    _, card, pin = make_patron()
    r = log_in(client, card, pin)
    for name in ("session", "opac_patron"):
        line = cookie_line(r, name).lower()
        assert "expires=" not in line and "max-age" not in line, line


def test_with_remember_the_cookies_persist(client, make_patron):
    _, card, pin = make_patron()
    r = log_in(client, card, pin, remember=True)
    assert "expires=" in cookie_line(r, "session").lower() and "max-age" in cookie_line(r, "opac_patron").lower()


def test_an_unremembered_patron_session_ends_after_two_idle_hours(client, make_patron, clock):
    _, card, pin = make_patron()
    log_in(client, card, pin)
    clock.advance(minutes=100)
    assert signed_in(client)  # use renews it
    clock.advance(minutes=100)
    assert signed_in(client)
    clock.advance(hours=2, minutes=1)
    assert not signed_in(client)


def test_a_session_that_ran_out_takes_the_patron_flag_with_the_next_answer(client, make_patron, clock):
    """The app erases the device when the flag goes: it must go with the first answer after expiry."""
    _, card, pin = make_patron()
    log_in(client, card, pin)
    page = client.get("/")
    assert not any(h.startswith("opac_patron=") for h in page.headers.getlist("Set-Cookie"))
    clock.advance(hours=3)
    for path in ("/", "/api/v1/session"):
        line = cookie_line(client.get(path), "opac_patron")
        assert line.startswith("opac_patron=;") and "max-age=0" in line.lower(), line
        client.set_cookie("opac_patron", "still-here")
    client.delete_cookie("opac_patron")
    assert not any(h.startswith("opac_patron=") for h in client.get("/").headers.getlist("Set-Cookie"))


def test_a_remembered_patron_session_survives_days_but_not_a_month_idle(client, make_patron, clock):
    _, card, pin = make_patron()
    log_in(client, card, pin, remember=True)
    clock.advance(days=3)
    assert signed_in(client)
    clock.advance(days=30, minutes=1)
    assert not signed_in(client)


def test_a_patron_session_ends_after_90_days_however_much_it_is_used(client, make_patron, clock):
    _, card, pin = make_patron()
    log_in(client, card, pin, remember=True)
    for _ in range(4):
        clock.advance(days=20)
        assert signed_in(client)
    clock.advance(days=10, minutes=1)  # 90 days and a minute after the login
    assert not signed_in(client)


def test_a_staff_session_ends_after_12_hours_and_after_an_idle_hour(app, client, make_staff, clock):
    user, password = make_staff()

    def staff_in(c):
        return c.get("/staff/desk").status_code == 200

    r = client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    line = cookie_line(r, "session").lower()
    assert "expires=" not in line and "max-age" not in line  # staff never get a persistent cookie
    for _ in range(23):
        clock.advance(minutes=30)
        assert staff_in(client)
    clock.advance(minutes=31)  # 12 h and a minute after the login, in constant use
    assert not staff_in(client)
    other = app.test_client()
    other.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(other)})
    clock.advance(minutes=61)
    assert not staff_in(other)


def test_expired_sessions_are_deleted(app, client, make_patron, clock):
    from sqlalchemy import func, select

    from opac.accounts.models import AuthSession
    from opac.extensions import db

    _, card, pin = make_patron()
    log_in(client, card, pin)
    clock.advance(hours=3)
    assert not signed_in(client)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuthSession)) == 0


def test_api_login_takes_remember(app, make_patron, clock):
    _, card, pin = make_patron()
    results = {}
    for remember in (False, True):
        c = app.test_client()
        r = c.post("/api/v1/login", json={"card": card, "pin": pin, "remember": remember},
                   headers={"X-CSRFToken": csrf_token(c)})
        assert r.status_code == 200
        results[remember] = (c, "expires=" in cookie_line(r, "session").lower())
    assert results[True][1] and not results[False][1]
    clock.advance(hours=5)
    assert signed_in(results[True][0]) and not signed_in(results[False][0])


def test_a_pin_change_keeps_the_devices_choice(client, make_patron, clock):
    _, card, pin = make_patron()
    log_in(client, card, pin, remember=True)
    r = client.post("/account/password", data={"current": pin, "new": "3860", "confirm": "3860",
                                                "csrf_token": csrf_token(client)})
    assert r.status_code == 303 and "expires=" in cookie_line(r, "session").lower()
    clock.advance(days=5)
    assert signed_in(client)
