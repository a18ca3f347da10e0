"""Logging in and out: Argon2id, same answer for unknown card and wrong PIN, new session on login,
logout that really ends the session, throttling, password change and reset."""

from __future__ import annotations

import re

from sqlalchemy import select

from opac.accounts.models import AuthSession, Patron
from opac.extensions import db
from opac.mail import OutboxEmail
from tests.conftest import csrf_token


def test_passwords_are_argon2id(app, make_patron):
    pid, card, pin = make_patron()
    with app.app_context():
        assert db.session.get(Patron, pid).password_hash.startswith("$argon2id$")


def test_unknown_card_and_wrong_pin_get_the_same_answer(client, make_patron):
    _, card, _ = make_patron()
    token = csrf_token(client)
    r1 = client.post("/login", data={"card": card, "pin": "wrong", "csrf_token": token})
    r2 = client.post("/login", data={"card": "NO-SUCH-CARD", "pin": "wrong", "csrf_token": token})
    assert r1.status_code == r2.status_code == 400
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(r1) == strip(r2)
    j1 = client.post("/api/v1/login", json={"card": card, "pin": "x"}, headers={"X-CSRFToken": token}).get_json()
    j2 = client.post("/api/v1/login", json={"card": "nope", "pin": "x"}, headers={"X-CSRFToken": token}).get_json()
    assert j1 == j2


def test_login_starts_a_new_session_and_logout_kills_copied_cookie(app, client, make_patron, login):
    _, card, pin = make_patron()
    client.get("/")
    before = client.get_cookie("session", domain="localhost")
    login(card, pin)
    after = client.get_cookie("session", domain="localhost")
    assert after is not None and (before is None or before.value != after.value)
    assert client.get("/account/loans").status_code == 200
    stolen = after.value
    # log out, then replay the old cookie from another client
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    thief = app.test_client()
    thief.set_cookie("session", stolen, domain="localhost")
    r = thief.get("/account/loans")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(AuthSession)) is None


def test_logout_clears_site_data(client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    r = client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert r.status_code == 303 and "cache" in r.headers["Clear-Site-Data"]


def test_throttle_per_account_and_per_ip(app, client, make_patron):
    app.config.update(LOGIN_MAX_ATTEMPTS=3, LOGIN_MAX_ATTEMPTS_PER_IP=5)
    _, card, pin = make_patron()
    token = csrf_token(client)
    codes = [client.post("/login", data={"card": card, "pin": "bad", "csrf_token": token}).status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    # even the right PIN is refused while the window lasts
    assert client.post("/login", data={"card": card, "pin": pin, "csrf_token": token}).status_code == 429
    # refused at once (window used up) costs no password check and counts nowhere; the IP has 3 answered
    _, card2, pin2 = make_patron()
    codes = [client.post("/login", data={"card": card2, "pin": "bad", "csrf_token": token}).status_code for _ in range(2)]
    assert codes == [400, 400]
    # another card from the same IP: the IP counter (5 answered attempts) is used up too
    assert client.post("/login", data={"card": card2, "pin": pin2, "csrf_token": token}).status_code == 429
    _, card3, pin3 = make_patron()
    assert client.post("/login", data={"card": card3, "pin": pin3, "csrf_token": token}).status_code == 429


def test_successful_login_resets_the_account_counter(app, client, make_patron, login):
    app.config.update(LOGIN_MAX_ATTEMPTS=3)
    _, card, pin = make_patron()
    token = csrf_token(client)
    client.post("/login", data={"card": card, "pin": "bad", "csrf_token": token})
    login(card, pin)
    with app.app_context():
        from opac.accounts.models import LoginThrottle

        keys = {t.key: t.attempts for t in db.session.scalars(select(LoginThrottle))}
    assert f"patron:{card.lower()}" not in keys and keys["ip:127.0.0.1"] == 1  # the failure stays counted


def test_change_password_logs_out_other_devices(app, client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    other = app.test_client()
    tok = csrf_token(other)
    other.post("/login", data={"card": card, "pin": pin, "csrf_token": tok})
    assert other.get("/account/loans").status_code == 200
    r = client.post("/account/password", data={"current": pin, "new": "5827", "confirm": "5827",
                                                "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    assert client.get("/account/loans").status_code == 200  # this device got a fresh session
    assert other.get("/account/loans").status_code == 302  # the other one is logged out


def test_password_reset_by_emailed_token(app, client, make_patron):
    _, card, _ = make_patron(email="reset@example.org")
    r = client.post("/password-reset", data={"card_or_email": card, "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    with app.app_context():
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "password_reset"))
    link = re.search(r"https://opac.test(/password-reset/\S+)", mail.body).group(1)
    assert client.post(link, data={"new": "9173", "confirm": "9173", "csrf_token": csrf_token(client)}).status_code == 303
    assert client.post("/login", data={"card": card, "pin": "9173", "csrf_token": csrf_token(client)}).status_code == 303
    # used tokens and unknown cards
    assert client.post(link, data={"new": "3860", "confirm": "3860", "csrf_token": csrf_token(client)}).status_code == 400
    r = client.post("/password-reset", data={"card_or_email": "nobody", "csrf_token": csrf_token(client)})
    assert r.status_code == 303  # same answer: no account enumeration


def test_staff_login_is_separate(client, make_staff, make_patron):
    user, password = make_staff()
    _, card, pin = make_patron()
    token = csrf_token(client)
    assert client.post("/staff/login", data={"username": card, "password": pin, "csrf_token": token}).status_code == 400
    assert client.post("/staff/login", data={"username": user, "password": password, "csrf_token": token}).status_code == 303
    assert client.get("/staff/desk").status_code == 200
    assert client.get("/account/loans").status_code == 302  # staff are not patrons


def test_patron_cannot_open_staff_pages(client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    r = client.get("/staff/desk")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]


def test_cli_patron_and_staff(runner, app, tmp_path):
    r = runner.invoke(args=["patron", "create", "--card", "C1", "--pin", "2580", "--name", "Ani", "--category", "student"])
    assert r.exit_code == 0 and "C1" in r.output
    r = runner.invoke(args=["patron", "create", "--card", "C1", "--pin", "2580", "--name", "Ani", "--category", "student"])
    assert r.exit_code != 0 and "C1" in r.output
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("card,pin,name,category,email\nC2,2580,Budi,lecturer,b@example.org\nC3,12,Cici,student,\nC4,2580,Dodi,alien,\n")
    r = runner.invoke(args=["patron", "import", str(csv_path)])
    assert "Created 1 patrons; 2 rows skipped." in r.output and "line 3" in r.output and "line 4" in r.output
    r = runner.invoke(args=["staff", "create", "--username", "u", "--password", "long enough passphrase", "--name", "U", "--role", "admin"])
    assert r.exit_code == 0


def test_reading_pages_keeps_a_session_alive_and_idle_ones_expire(app, client, make_patron, login):
    from datetime import timedelta

    from opac.catalog.models import utcnow

    _, card, pin = make_patron()
    login(card, pin)
    with app.app_context():
        row = db.session.scalar(select(AuthSession))
        row.last_seen = utcnow() - timedelta(minutes=20)
        db.session.commit()
    assert client.get("/account/loans").status_code == 200
    with app.app_context():
        assert utcnow() - db.session.scalar(select(AuthSession)).last_seen < timedelta(minutes=1)
        row = db.session.scalar(select(AuthSession))
        row.last_seen = utcnow() - timedelta(days=31)
        db.session.commit()
    assert client.get("/account/loans").status_code == 302  # idle longer than PATRON_SESSION_IDLE_HOURS
