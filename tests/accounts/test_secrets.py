"""Secrets stay secret: no open redirect after login, reset and thread links never shown to staff,
never written to the access log, and never sent onwards in a Referer."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from opac.accounts.views import safe_next
from opac.extensions import db
from opac.mail import OutboxEmail
from tests.conftest import ROOT, csrf_token, free_port

SITE = "https://opac.test/login"


def browser_target(location: str) -> str:
    """Where a browser goes for ``Location: location`` on SITE (WHATWG: tab/CR/LF dropped, ``\\`` is ``/``)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                                      "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                                      "\x1d\x1e\x1f ")
    return urljoin(SITE, cleaned.replace("\\", "/"))


# ----------------------------------------------------------------------------- open redirect


@pytest.mark.parametrize("evil", [
    "/%09/evil.example/x", "/\t/evil.example/x", "\t//evil.example", "//evil.example", "/\\evil.example",
    "\\\\evil.example", "https://evil.example/", "/\r\n/evil.example", " //evil.example", "/\n\n/evil.example",
    "javascript:alert(1)", "/\\/evil.example",
])
def test_next_never_leaves_the_site(client, make_patron, evil):
    from urllib.parse import unquote

    _, card, pin = make_patron()
    target = unquote(evil) if evil.startswith("/%") else evil
    r = client.post("/login", data={"card": card, "pin": pin, "next": target, "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    assert urlsplit(browser_target(r.headers["Location"])).netloc == "opac.test", r.headers["Location"]
    # and as the query string an attacker would send
    r = client.get(f"/login?next={evil}")
    assert "evil.example" not in r.get_data(as_text=True)


def test_newline_in_next_is_no_server_error_on_staff_login(client, make_staff):
    user, password = make_staff()
    r = client.post("/staff/login", data={"username": user, "password": password, "next": "/staff/\r\nX-Evil: 1",
                                          "csrf_token": csrf_token(client)})
    assert r.status_code == 303 and "X-Evil" not in r.headers and r.headers["Location"].startswith("/staff")
    assert client.get("/staff/login?next=/%0d%0aSet-Cookie:%20x=1").status_code == 200


def test_a_same_site_next_is_kept(client, make_patron):
    _, card, pin = make_patron()
    r = client.post("/login", data={"card": card, "pin": pin, "next": "/record/12?tab=copies#x",
                                    "csrf_token": csrf_token(client)})
    assert r.headers["Location"] == "/record/12?tab=copies#x"


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.text(),
    st.lists(st.sampled_from(list("/\\\t\r\n\x00\x0b :.%@?#e") + ["evil.example", "http", "//", "%09", "\u3002"]),
             max_size=12).map("".join),
))
def test_safe_next_is_always_a_same_site_path(target):
    from werkzeug.utils import redirect

    result = safe_next(target, "/default")
    assert result.startswith("/") and not result.startswith("//")
    location = redirect(result).headers["Location"]  # what the response carries (no exception either)
    went = urlsplit(browser_target(location))
    assert went.scheme == "https" and went.netloc == "opac.test", (target, location)


# ----------------------------------------------------------------------------- staff never see secrets


def test_staff_outbox_shows_reset_and_thread_links_redacted(app, client, make_patron, make_staff):
    from tests.reference.test_ask import ask

    app.config["ASK_MIN_SECONDS"] = 0
    _, card, _ = make_patron(email="reset@example.org")
    client.post("/password-reset", data={"card_or_email": card, "csrf_token": csrf_token(client)})
    assert ask(client).status_code == 200
    with app.app_context():
        bodies = [m.body for m in db.session.scalars(select(OutboxEmail))]
    tokens = [re.search(r"/(?:password-reset|ask/t)/([\w-]+)", b).group(1) for b in bodies]
    assert len(tokens) == 2  # the real mail still carries the links
    staff = app.test_client()
    user, password = make_staff()
    staff.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(staff)})
    page = staff.get("/staff/outbox").get_data(as_text=True)
    assert "Reset" in page or "PIN" in page
    for token in tokens:
        assert token not in page
    assert page.count("[redacted]") == 2


def test_staff_question_page_and_whatsapp_reply_carry_no_thread_link(app, client, make_staff):
    from opac.reference.models import Question
    from tests.reference.test_ask import ask

    app.config["ASK_MIN_SECONDS"] = 0
    assert ask(client, channel="whatsapp", whatsapp="081234567890").status_code == 200
    with app.app_context():
        q = db.session.scalar(select(Question))
        qid, token = q.id, q.token
    staff = app.test_client()
    user, password = make_staff()
    staff.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(staff)})
    assert token not in staff.get(f"/staff/questions/{qid}").get_data(as_text=True)
    r = staff.post(f"/staff/questions/{qid}", data={"action": "reply", "body": "Ada di rak 3.",
                                                    "csrf_token": csrf_token(staff)})
    page = r.get_data(as_text=True)
    assert "wa.me" in page and token not in page


# ----------------------------------------------------------------------------- no Referer from secret pages


def test_reset_and_thread_pages_send_no_referrer(app, client):
    from tests.reference.test_ask import ask

    app.config["ASK_MIN_SECONDS"] = 0
    link = re.search(r'href="https://opac.test(/ask/t/[^"]+)"', ask(client).get_data(as_text=True)).group(1)
    assert client.get(link).headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/password-reset/some-token-value-1234567").headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


# ----------------------------------------------------------------------------- access log


@pytest.mark.slow
def test_gunicorn_access_log_redacts_secret_paths_and_referers(app, tmp_path):
    import requests

    log = tmp_path / "access.log"
    port = free_port()
    env = dict(os.environ)
    env.update({"OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
                "OPAC_SECRET_KEY": app.config["SECRET_KEY"], "OPAC_BIND": f"127.0.0.1:{port}", "OPAC_WORKERS": "1"})
    with app.app_context():
        db.engine.dispose()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "--access-logfile", str(log), "wsgi:app"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    secret = "S3cretTok3n-abcdefghijklmnopqrstuvwxyz"
    try:
        deadline = time.time() + 60
        while True:
            try:
                requests.get(base + "/api/v1/session", timeout=2)
                break
            except requests.RequestException:
                assert time.time() < deadline and proc.poll() is None, "gunicorn did not start"
                time.sleep(0.3)
        requests.get(f"{base}/password-reset/{secret}", timeout=30)
        requests.get(f"{base}/ask/t/{secret}x", timeout=30)
        requests.get(f"{base}/api/v1/ask/t/{secret}y?x=1", timeout=30)
        requests.get(f"{base}/static/pwa/app.css", headers={"Referer": f"http://opac.test/ask/t/{secret}z"}, timeout=30)
        requests.get(f"{base}/login?next=%2Fask%2Ft%2F{secret}w", timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    text = log.read_text()
    assert text.count("\n") >= 5 and "/password-reset/[redacted]" in text and "/ask/t/[redacted]" in text
    assert secret not in text and "%2Fask%2Ft%2F[redacted]" in text
