"""Staff two-step verification: TOTP codes computed here with pyotp, replay refused, recovery
codes, enrolment forced for admins, throttling, disable/regenerate, and the reset command."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from opac.accounts.models import AuthSession, StaffRecoveryCode, StaffTwoFactor, StaffUser
from opac.extensions import db
from tests.conftest import csrf_token, staff_login, totp_code

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "correct-horse-battery-staple"


def _sessions(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuthSession))


def _post(client, url, **data):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)})


def _enrol_through_pages(client, app, username):
    """From the enrolment page to the recovery codes, as a person would; returns (secret, codes)."""
    r = _post(client, "/staff/2fa/start")
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/2fa/enrol")
    page = client.get("/staff/2fa/enrol").get_data(as_text=True)
    assert "<svg" in page and "otpauth" not in page  # the QR code is drawn inline, its URI not printed
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page).group(1).replace(" ", "")
    assert len(secret) >= 16
    r = _post(client, "/staff/2fa/enrol", code=pyotp.TOTP(secret).now())
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    codes = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>", r.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def test_admin_login_needs_a_code_and_a_code_is_not_accepted_twice(app, client, make_admin):
    user, password, secret = make_admin()
    r = _post(client, "/staff/login", username=user, password=password)
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/login/code")
    assert _sessions(app) == 0  # the password alone created no session
    assert client.get("/staff/").status_code == 302
    assert _post(client, "/staff/login/code", code="000000").status_code == 400
    assert _sessions(app) == 0
    code = pyotp.TOTP(secret).now()  # a real code, computed as the phone would
    r = _post(client, "/staff/login/code", code=code)
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/")
    assert client.get("/staff/").status_code == 200 and _sessions(app) == 1
    # the same code again, from another browser, within its window: refused
    other = app.test_client()
    assert _post(other, "/staff/login", username=user, password=password).status_code == 303
    r = _post(other, "/staff/login/code", code=code)
    assert r.status_code == 400 and "sudah dipakai" in r.get_data(as_text=True)  # "already used"
    assert other.get("/staff/").status_code == 302 and _sessions(app) == 1


def test_the_code_step_needs_the_password_step_first(client):
    r = _post(client, "/staff/login/code", code="123456")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/login")


def test_admin_without_two_factor_must_enrol_before_anything_else(app, client, make_staff, caplog):
    caplog.set_level(logging.DEBUG)
    make_staff("boss", PASSWORD, "admin")
    r = _post(client, "/staff/login", username="boss", password=PASSWORD)
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/2fa")
    assert _sessions(app) == 0
    for url in ("/staff/", "/staff/desk", "/staff/accounts", "/staff/devices"):
        assert client.get(url).status_code == 302, url  # nothing else until enrolled
    assert "Set up two-step verification" in client.get("/staff/2fa?hl=en").get_data(as_text=True)
    secret, codes = _enrol_through_pages(client, app, "boss")
    assert client.get("/staff/").status_code == 200 and _sessions(app) == 1
    with app.app_context():
        row = db.session.scalar(select(StaffTwoFactor))
        assert row.confirmed_at is not None and secret not in row.secret_encrypted
        hashes = db.session.scalars(select(StaffRecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and all(h.startswith("$argon2") for h in hashes)
        assert not any(c.replace("-", "") in h for c in codes for h in hashes)
    # the secret is never shown again and never logged
    assert client.get("/staff/2fa/enrol").status_code == 303
    assert secret not in client.get("/staff/2fa").get_data(as_text=True)
    assert secret not in caplog.text and codes[0] not in caplog.text


def test_an_old_admin_session_without_two_factor_is_sent_to_enrolment(app, client, make_staff):
    make_staff("late", PASSWORD, "librarian")
    staff_login(client, app, "late", PASSWORD)
    assert client.get("/staff/desk").status_code == 200
    with app.app_context():
        db.session.scalar(select(StaffUser).where(StaffUser.username == "late")).role = "admin"
        db.session.commit()
    r = client.get("/staff/desk")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/2fa")


def test_recovery_codes_work_once(app, client, make_staff):
    make_staff("boss", PASSWORD, "admin")
    _post(client, "/staff/login", username="boss", password=PASSWORD)
    _secret, codes = _enrol_through_pages(client, app, "boss")
    first = app.test_client()
    _post(first, "/staff/login", username="boss", password=PASSWORD)
    assert _post(first, "/staff/login/code", code=codes[3].upper()).status_code == 303
    assert first.get("/staff/").status_code == 200
    second = app.test_client()
    _post(second, "/staff/login", username="boss", password=PASSWORD)
    assert _post(second, "/staff/login/code", code=codes[3]).status_code == 400
    assert second.get("/staff/").status_code == 302


def test_the_code_step_is_throttled_like_the_login(app, client, make_admin):
    user, password, secret = make_admin()
    _post(client, "/staff/login", username=user, password=password)
    for _ in range(app.config["LOGIN_MAX_ATTEMPTS"]):
        assert _post(client, "/staff/login/code", code="111111").status_code == 400
    r = _post(client, "/staff/login/code", code=totp_code(secret))
    assert r.status_code == 429  # even the right code waits for the window
    assert client.get("/staff/").status_code == 302


def test_librarians_need_no_code_by_default(app, client, make_staff):
    make_staff("lib", PASSWORD)
    r = _post(client, "/staff/login", username="lib", password=PASSWORD)
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/")


@pytest.mark.parametrize("app_config", [{"STAFF_2FA_REQUIRED": True}])
def test_librarians_must_enrol_when_the_library_requires_it(app, client, make_staff):
    make_staff("lib", PASSWORD)
    r = _post(client, "/staff/login", username="lib", password=PASSWORD)
    assert r.headers["Location"].endswith("/staff/2fa") and _sessions(app) == 0


def test_a_librarian_who_enrolled_is_asked_for_the_code(app, client, make_staff):
    make_staff("lib", PASSWORD)
    staff_login(client, app, "lib", PASSWORD)
    _secret, _codes = _enrol_through_pages(client, app, "lib")
    fresh = app.test_client()
    r = _post(fresh, "/staff/login", username="lib", password=PASSWORD)
    assert r.headers["Location"].endswith("/staff/login/code")


def test_regenerate_and_disable_need_the_password_and_a_code(app, client, make_staff):
    make_staff("boss", PASSWORD, "admin")
    _post(client, "/staff/login", username="boss", password=PASSWORD)
    secret, old_codes = _enrol_through_pages(client, app, "boss")
    r = _post(client, "/staff/2fa/recovery-codes", password="wrong-password-here", code=totp_code(secret, 30))
    assert r.status_code == 303
    r = _post(client, "/staff/2fa/recovery-codes", password=PASSWORD, code=old_codes[0])
    assert r.status_code == 200
    new_codes = re.findall(r"<code>([a-z2-7-]{19})</code>", r.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffRecoveryCode)) == 10
        assert db.session.scalar(select(func.count()).select_from(StaffRecoveryCode).where(
            StaffRecoveryCode.used_at.is_not(None))) == 0  # the old ones (the used one too) are gone
    # turning off: wrong code refused, then password + a fresh recovery code
    assert _post(client, "/staff/2fa/disable", password=PASSWORD, code="123456").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(StaffTwoFactor)) is not None
    assert _post(client, "/staff/2fa/disable", password=PASSWORD, code=new_codes[0]).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(StaffTwoFactor)) is None
    r = client.get("/staff/desk")  # an admin must set it up again before anything else
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/2fa")


def test_reset_2fa_command_in_a_production_like_process(app, make_admin):
    user, password, _secret = make_admin()
    client = app.test_client()
    staff_login(client, app, user, password, _secret)
    assert _sessions(app) == 1
    with app.app_context():
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPAC_", "FLASK_"))}
    env.update({"OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
                "OPAC_SECRET_KEY": app.config["SECRET_KEY"], "OPAC_BASE_URL": "https://opac.test"})
    flask = [sys.executable, "-m", "flask", "--app", "opac", "staff", "reset-2fa"]
    r = subprocess.run([*flask, user], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Two-step verification removed for admin" in r.stdout
    with app.app_context():
        assert db.session.scalar(select(StaffTwoFactor)) is None
        assert db.session.scalar(select(func.count()).select_from(StaffRecoveryCode)) == 0
    assert _sessions(app) == 0  # signed out everywhere
    assert client.get("/staff/").status_code == 302
    r = subprocess.run([*flask, "nobody"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "no staff account named nobody" in r.stderr
