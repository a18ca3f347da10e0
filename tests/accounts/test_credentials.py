"""Credential rules (PINs and staff passwords, web and CLI alike), the PIN-change throttle and
password reset tokens (one live link, limits, no account enumeration)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from opac.accounts.credentials import common_passwords
from opac.accounts.services import AccountError, create_patron, create_staff
from opac.extensions import db
from opac.mail import OutboxEmail
from tests.conftest import ROOT, csrf_token

# ----------------------------------------------------------------------------- PINs and passwords


@pytest.mark.parametrize("pin, reason", [
    ("0000", "pin_trivial"), ("1234", "pin_trivial"), ("4321", "pin_trivial"), ("7890", "pin_trivial"),
    ("1212", "pin_trivial"), ("2026", "pin_trivial"), ("9012026", "pin_trivial"), ("123", "pin_format"),
    ("123456789", "pin_format"), ("12a4", "pin_format"), ("", "pin_format"), ("٣٨٦٠", "pin_format"),
])
def test_trivial_or_malformed_pins_are_refused(ctx, pin, reason):
    with pytest.raises(AccountError) as err:
        create_patron("9012026", pin, "Ani", "student")
    assert err.value.reason == reason and err.value.message


def test_pin_length_is_configurable(ctx):
    ctx.config.update(PIN_MIN_LENGTH=6, PIN_MAX_LENGTH=6)
    with pytest.raises(AccountError) as err:
        create_patron("C77", "3860", "Ani", "student")
    assert "6" in err.value.message
    assert create_patron("C77", "386051", "Ani", "student").id


@pytest.mark.parametrize("password, reason", [
    ("abcd", "password_short"), ("secret123", "password_short"), ("password1234!", "password_common"),
    ("qwertyuiop123", "password_common"), ("1234567890123", "password_common"),
    ("perpustakaan2026", "password_common"), ("iloveyouiloveyou", "password_common"),
    ("librarian-kartini-77", "password_username"),
])
def test_weak_staff_passwords_are_refused(ctx, password, reason):
    with pytest.raises(AccountError) as err:
        create_staff("kartini", password, "Kartini", "admin")
    assert err.value.reason == reason


def test_a_good_staff_password_is_accepted_and_the_list_is_shipped(ctx):
    assert len(common_passwords()) == 10_000 and "password" in common_passwords()
    assert create_staff("kartini", "correct horse battery staple", "Kartini", "admin").id


def test_pin_change_and_reset_follow_the_rules(app, client, make_patron, login):
    _, card, pin = make_patron()
    login(card, pin)
    r = client.post("/account/password", data={"current": pin, "new": "1111", "confirm": "1111",
                                                "csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "1234" in r.get_data(as_text=True)  # the refusal says why (runs such as 1234)
    assert client.post("/login", data={"card": card, "pin": "1111", "csrf_token": csrf_token(client)}).status_code == 400


def test_staff_patron_form_refuses_a_trivial_pin(client, make_staff):
    user, password = make_staff(role="librarian")
    client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    r = client.post("/staff/patrons", data={"card": "A1", "pin": "0000", "name": "Ani", "category": "student",
                                            "csrf_token": csrf_token(client)})
    assert r.status_code == 400


def _cli(app, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update({"OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
                "OPAC_SECRET_KEY": "cli-test", "OPAC_INDEX_AUTO_REBUILD": "false"})
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.run([flask, "--app", "opac", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_enforces_the_same_rules(app, tmp_path):
    with app.app_context():
        db.engine.dispose()
    r = _cli(app, "patron", "create", "--card", "C1", "--pin", "0000", "--name", "Ani", "--category", "student")
    assert r.returncode != 0 and "PIN" in r.stderr, r.stderr
    r = _cli(app, "patron", "create", "--card", "C1", "--pin", "3860", "--name", "Ani", "--category", "student")
    assert r.returncode == 0, r.stderr
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("card,pin,name,category\nC2,1234,Budi,student\nC3,4826,Cici,student\n")
    r = _cli(app, "patron", "import", str(csv_path))
    assert "Created 1 patrons; 1 rows skipped." in r.stdout and "line 2" in r.stdout and "PIN" in r.stdout
    r = _cli(app, "staff", "create", "--username", "admin2", "--password", "abcd", "--name", "A", "--role", "admin")
    assert r.returncode != 0 and "12" in r.stderr
    r = _cli(app, "staff", "create", "--username", "admin2", "--password", "Password2026!", "--name", "A")
    assert r.returncode != 0 and r.stderr.strip()
    r = _cli(app, "staff", "create", "--username", "admin2", "--password", "violet staple orbit 9", "--name", "A")
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- PIN change throttle


def test_current_pin_on_the_change_form_is_throttled_like_a_login(app, client, make_patron, login):
    app.config.update(LOGIN_MAX_ATTEMPTS=3)
    _, card, pin = make_patron()
    login(card, pin)
    for guess in ("1357", "9173", "8642"):
        r = client.post("/account/password", data={"current": guess, "new": "3860", "confirm": "3860",
                                                    "csrf_token": csrf_token(client)}, follow_redirects=True)
        assert r.status_code == 200
    # the window is used up: even the right current PIN is refused, and so is a login
    r = client.post("/account/password", data={"current": pin, "new": "3860", "confirm": "3860",
                                                "csrf_token": csrf_token(client)}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "15" in page and ("Terlalu banyak" in page or "Too many" in page)
    other = app.test_client()
    assert other.post("/login", data={"card": card, "pin": "3860", "csrf_token": csrf_token(other)}).status_code == 429
    assert other.post("/login", data={"card": card, "pin": pin, "csrf_token": csrf_token(other)}).status_code == 429


def test_a_right_pin_change_gives_the_attempt_back(app, client, make_patron, login):
    app.config.update(LOGIN_MAX_ATTEMPTS=2)
    _, card, pin = make_patron()
    login(card, pin)
    for new in ("3860", "5827", "4826"):
        r = client.post("/account/password", data={"current": pin, "new": new, "confirm": new,
                                                    "csrf_token": csrf_token(client)})
        assert r.status_code == 303
        pin = new
    assert client.post("/logout", data={"csrf_token": csrf_token(client)}).status_code == 303
    assert client.post("/login", data={"card": card, "pin": pin, "csrf_token": csrf_token(client)}).status_code == 303


# ----------------------------------------------------------------------------- reset tokens


def _request_reset(client, value, ip="127.0.0.1"):
    return client.post("/password-reset", data={"card_or_email": value, "csrf_token": csrf_token(client)},
                       environ_base={"REMOTE_ADDR": ip})


def _links(app):
    with app.app_context():
        bodies = db.session.scalars(select(OutboxEmail.body).where(OutboxEmail.kind == "password_reset")
                                    .order_by(OutboxEmail.id)).all()
    return [re.search(r"https://opac.test(/password-reset/\S+)", b).group(1) for b in bodies]


def test_a_newer_reset_request_invalidates_the_older_link(app, client, make_patron):
    _, card, _ = make_patron(email="r@example.org")
    _request_reset(client, card)
    _request_reset(client, "r@example.org")
    old, new = _links(app)
    form = {"new": "3860", "confirm": "3860", "csrf_token": csrf_token(client)}
    assert client.post(old, data=form).status_code == 400
    assert client.post(new, data=form).status_code == 303
    assert client.post(new, data={**form, "new": "5827", "confirm": "5827"}).status_code == 400  # spent


def test_a_successful_reset_invalidates_every_other_link(app, client, make_patron):
    from opac.accounts.models import PasswordReset
    from opac.accounts.services import request_password_reset

    pid, card, _ = make_patron(email="r@example.org")
    with app.test_request_context():
        first = request_password_reset(card, ip="10.0.0.1")
        db.session.commit()
        # an older link that escaped the request-time clean-up (e.g. issued by another worker)
        db.session.add(PasswordReset(token_hash="0" * 64, patron_id=pid,
                                     expires_at=db.session.scalar(select(PasswordReset.expires_at))))
        db.session.commit()
    form = {"new": "3860", "confirm": "3860", "csrf_token": csrf_token(client)}
    assert client.post(f"/password-reset/{first}", data=form).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PasswordReset)
                                 .where(PasswordReset.used_at.is_(None))) == 0


def test_reset_mails_are_limited_per_account_and_requests_per_ip(app, client, make_patron):
    app.config.update(RESET_MAX_PER_ACCOUNT=3, RESET_MAX_PER_IP=6)
    _, card, _ = make_patron(email="r@example.org")
    answers = [_request_reset(client, card if i % 2 else "r@example.org", ip=f"10.0.0.{i}") for i in range(5)]
    assert {r.status_code for r in answers} == {303}
    assert len(_links(app)) == 3  # card and address together: at most 3 mails in the window
    # the answer for an account over its limit is the one for no account at all
    over, nobody = _request_reset(client, card, ip="10.9.9.9"), _request_reset(client, "nobody", ip="10.9.9.8")
    assert over.status_code == nobody.status_code == 303 and over.headers["Location"] == nobody.headers["Location"]
    assert len(_links(app)) == 3
    # one address asking about many cards is stopped
    codes = [_request_reset(client, f"card-{i}", ip="10.1.1.1").status_code for i in range(8)]
    assert codes == [303] * 6 + [429] * 2
