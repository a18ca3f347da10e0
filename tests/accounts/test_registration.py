"""Joining the library online: sign up, confirm the e-mail, card number, approval, limits, purge."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from opac.accounts.models import Patron, Registration
from opac.catalog.models import utcnow
from opac.extensions import db
from opac.mail import OutboxEmail
from tests.conftest import csrf_token, staff_login

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config():
    return {"SELF_REGISTRATION": True}


def _form(client, **kw):
    data = {"name": "Siti Rahma", "email": "siti@example.id", "whatsapp": "0812 3456 7890", "pin": "5827",
            "confirm": "5827", "consent": "1", "csrf_token": csrf_token(client)}
    data.update(kw)
    return client.post("/register", data={k: v for k, v in data.items() if v is not None})


def _link(app, to="siti@example.id") -> str:
    with app.app_context():
        mail = db.session.scalars(select(OutboxEmail).where(OutboxEmail.to == to,
                                                            OutboxEmail.kind == "registration_verify")
                                  .order_by(OutboxEmail.id.desc())).first()
        return re.search(r"https://opac\.test(/register/verify/\S+)", mail.body).group(1)


def test_off_by_default_is_404(app, client):
    app.config["SELF_REGISTRATION"] = False
    assert client.get("/register").status_code == 404
    assert client.post("/register", data={"csrf_token": csrf_token(client)}).status_code == 404
    assert client.get("/register/verify/abc").status_code == 404


def test_sign_up_verify_get_card_and_log_in(app, client, login):
    page = client.get("/register")
    assert page.status_code == 200 and 'name="consent"' in page.get_data(as_text=True)
    r = _form(client)
    assert r.status_code == 200 and "siti@example.id" in r.get_data(as_text=True)
    link = _link(app)
    with app.app_context():
        row = db.session.scalar(select(Registration))
        assert row.status == "unverified" and row.token_hash and link.rsplit("/", 1)[1] not in row.token_hash
        assert db.session.scalar(select(func.count()).select_from(Patron)) == 0
    # opening the link changes nothing; the button does
    assert client.get(link).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Registration.status)) == "unverified"
    done = client.post(link, data={"csrf_token": csrf_token(client)})
    assert done.status_code == 303 and done.headers["Location"].endswith("/card")
    with app.app_context():
        patron = db.session.scalar(select(Patron))
        assert patron.card_number == "W000001" and patron.category.code == "public"
        assert patron.whatsapp == "081234567890"
        card = patron.card_number
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)
                                 .where(OutboxEmail.kind == "registration_card")) == 1
    assert card in client.get("/card").get_data(as_text=True)
    # single use
    assert client.post(link, data={"csrf_token": csrf_token(client)}).status_code == 400
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(card, "5827")
    assert client.get("/api/v1/me").get_json()["patron"]["card_number"] == card


def test_form_errors_say_why(app, client):
    client.set_cookie("lang", "en", domain="localhost")
    r = _form(client, consent=None)
    assert r.status_code == 400 and "privacy" in r.get_data(as_text=True)
    r = _form(client, pin="1234", confirm="1234")
    assert r.status_code == 400 and "too easy" in r.get_data(as_text=True)
    r = _form(client, confirm="5828")
    assert r.status_code == 400 and "not the same" in r.get_data(as_text=True)
    r = _form(client, email="not-an-address")
    assert r.status_code == 400
    r = _form(client, whatsapp="abc")
    assert r.status_code == 400 and "digits only" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


def test_existing_member_gets_a_you_have_a_card_mail_and_the_same_answer(app, client, make_patron):
    make_patron(email="Siti@Example.id")
    r = _form(client)
    assert r.status_code == 200 and "siti@example.id" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0
        kinds = db.session.scalars(select(OutboxEmail.kind).where(OutboxEmail.to == "siti@example.id")).all()
        assert kinds == ["registration_exists"]


def test_expired_link_is_refused(app, client):
    _form(client)
    link = _link(app)
    with app.app_context():
        row = db.session.scalar(select(Registration))
        row.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert client.get(link).status_code == 400
    assert client.post(link, data={"csrf_token": csrf_token(client)}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patron)) == 0


def test_limits_per_address_and_per_ip(app, client):
    app.config.update(SELF_REGISTRATION_MAX_PER_ADDRESS=2, SELF_REGISTRATION_MAX_PER_IP=4)
    for _ in range(3):
        assert _form(client).status_code == 200
    with app.app_context():  # the third sent nothing; only the newest link lives
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 2
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    assert _form(client, email="other@example.id").status_code == 200
    r = _form(client, email="third@example.id")
    assert r.status_code == 429


def test_approval_required(app, client, make_staff):
    app.config["SELF_REGISTRATION_APPROVAL"] = True
    _form(client)
    _form(client, email="budi@example.id", name="Budi")
    for to in ("siti@example.id", "budi@example.id"):
        r = client.post(_link(app, to), data={"csrf_token": csrf_token(client)})
        assert r.status_code == 200 and "e-mail" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patron)) == 0
        siti, budi = db.session.scalars(select(Registration.id).order_by(Registration.id)).all()
    user, pw = make_staff()
    staff_login(client, app, user, pw)
    page = client.get("/staff/registrations").get_data(as_text=True)
    assert "Siti Rahma" in page and "Budi" in page
    assert client.post(f"/staff/registrations/{siti}/approve").status_code == 400  # no CSRF token
    r = client.post(f"/staff/registrations/{siti}/approve", data={"csrf_token": csrf_token(client)})
    assert r.status_code == 303
    client.post(f"/staff/registrations/{budi}/reject", data={"csrf_token": csrf_token(client)})
    with app.app_context():
        assert db.session.scalars(select(Patron.email)).all() == ["siti@example.id"]
        assert db.session.scalar(select(Registration.status).where(Registration.id == budi)) == "rejected"
        kinds = set(db.session.scalars(select(OutboxEmail.kind)))
        assert {"registration_card", "registration_rejected"} <= kinds
    # twice: refused with a reason, not a second card
    client.post(f"/staff/registrations/{siti}/approve", data={"csrf_token": csrf_token(client)})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Patron)) == 1


def test_outbox_and_logs_redact_the_link(app):
    from opac.accounts.secrets import redact_secrets

    assert redact_secrets("https://opac.test/register/verify/AbC_1") == "https://opac.test/register/verify/[redacted]"


def test_json_api(app, client, api):
    r = api.post("/api/v1/register", json={"name": "Ani", "email": "ani@example.id", "pin": "5827", "consent": True})
    assert r.status_code == 200 and r.get_json()["ok"]
    token = _link(app, "ani@example.id").rsplit("/", 1)[1]
    r = api.post("/api/v1/register/verify", json={"token": token})
    assert r.status_code == 200 and r.get_json()["card_number"].startswith("W")
    r = api.post("/api/v1/register/verify", json={"token": token})
    assert r.status_code == 400 and r.get_json()["error"] == "bad_token"
    r = api.post("/api/v1/register", json={"name": "Ani", "email": "x@example.id", "pin": "5827"})
    assert r.status_code == 400 and r.get_json()["error"] == "consent"


def test_unverified_sign_ups_are_purged_by_the_daily_run(app, client, tmp_path):
    _form(client)
    _form(client, email="fresh@example.id")
    with app.app_context():
        old = db.session.scalar(select(Registration).where(Registration.email == "siti@example.id"))
        old.created_at = utcnow() - timedelta(days=4)
        db.session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update({"OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
                "OPAC_SECRET_KEY": "cli-test-secret", "FLASK_APP": "opac"})
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "opac", "notify"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "unverified signups purged: 1" in out.stdout
    with app.app_context():
        assert db.session.scalars(select(Registration.email)).all() == ["fresh@example.id"]
