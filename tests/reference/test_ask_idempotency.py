"""Ask a librarian: an idempotency key belongs to whoever sent it (the patron, or the browser
session), and is stored with the question in one transaction under a unique constraint, so a
resend never makes a second question and another client never receives this client's link."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from opac.extensions import db
from opac.mail import OutboxEmail
from opac.reference.models import Question
from tests.conftest import HttpUser, csrf_token, run_at_once


@pytest.fixture
def app_config():
    return {"ASK_MIN_SECONDS": 0, "LIVE_SERVER_ENV": {"ASK_MIN_SECONDS": 0}}


def _stamp(client) -> str:
    return re.search(r'name="ts" value="([^"]+)"', client.get("/ask").get_data(as_text=True)).group(1)


def _body(client, text="Apakah perpustakaan menyediakan ruang diskusi kelompok?", **kw):
    return {"question": text, "category": "facilities", "ts": _stamp(client), "channel": "email",
            "email": "tanya@example.org", "website": "", **kw}


def _api_ask(client, key, **kw):
    return client.post("/api/v1/ask", json=_body(client, **kw),
                       headers={"X-CSRFToken": csrf_token(client), "Idempotency-Key": key})


def _counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Question)),
                db.session.scalar(select(func.count()).select_from(OutboxEmail)))


def test_another_anonymous_client_with_the_same_key_gets_its_own_question(app):
    alice, mallory = app.test_client(), app.test_client()
    first = _api_ask(alice, "shared-key-1")
    assert first.status_code == 200
    again = _api_ask(alice, "shared-key-1")
    assert again.get_json()["replayed"] and again.get_json()["thread_url"] == first.get_json()["thread_url"]

    other = _api_ask(mallory, "shared-key-1", text="Jam berapa perpustakaan buka pada hari Sabtu?")
    assert other.status_code == 200
    body = other.get_data(as_text=True)
    assert first.get_json()["thread_url"] not in body and not other.get_json().get("replayed")
    assert _counts(app) == (2, 2)
    # each link opens its own question
    for r, text in ((first, "ruang diskusi"), (other, "hari Sabtu")):
        path = r.get_json()["thread_url"].removeprefix(app.config["BASE_URL"])
        assert text in mallory.get(path).get_data(as_text=True)


def test_patrons_keys_are_their_own(app, make_patron, login):
    _a, a_card, a_pin = make_patron(email="a@example.org")
    _b, b_card, b_pin = make_patron(email="b@example.org")
    urls = []
    for card, pin in ((a_card, a_pin), (b_card, b_pin)):
        c = app.test_client()
        assert c.post("/login", data={"card": card, "pin": pin, "csrf_token": csrf_token(c)}).status_code == 303
        r = _api_ask(c, "offline-7", channel="app", email=None)
        assert r.status_code == 200 and not r.get_json().get("replayed")
        urls.append(r.get_json()["thread_url"])
        assert _api_ask(c, "offline-7", channel="app", email=None).get_json()["thread_url"] == urls[-1]
    assert urls[0] != urls[1]
    assert _counts(app)[0] == 2


def test_the_html_form_honours_its_idempotency_key(app, client):
    page = client.get("/ask").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    assert len(key) >= 16
    data = {**_body(client), "csrf_token": csrf_token(client), "idempotency_key": key}
    r1 = client.post("/ask", data=data)
    r2 = client.post("/ask", data=data)  # the back button, a double tap, a flaky connection
    assert r1.status_code == r2.status_code == 200
    link = re.search(r'href="(https://opac\.test/ask/t/[^"]+)"', r1.get_data(as_text=True)).group(1)
    assert link in r2.get_data(as_text=True)
    assert _counts(app) == (1, 1)
    # a fresh form has a fresh key
    assert key not in client.get("/ask").get_data(as_text=True)


@pytest.mark.slow
def test_concurrent_resends_make_exactly_one_question(app, live_server):
    """8 resends at once through several gunicorn workers: one question and one e-mail, through the
    API and through the form; everyone gets the same link; another client's same key is its own."""
    asker = HttpUser(live_server)
    ts = re.search(r'name="ts" value="([^"]+)"', asker.get("/ask").text).group(1)
    body = {"question": "Apakah ada koleksi skripsi jurusan biologi?", "category": "finding", "ts": ts,
            "channel": "email", "email": "konkuren@example.org"}
    results = run_at_once([lambda: asker.post("/api/v1/ask", json=body, headers={"Idempotency-Key": "burst-1"})
                           for _ in range(8)])
    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    links = {r.json()["thread_url"] for r in results}
    assert len(links) == 1
    assert _counts(app) == (1, 1)

    form_user = HttpUser(live_server)
    page = form_user.get("/ask").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"question": "Bagaimana cara mengusulkan pembelian buku baru?", "category": "other",
            "ts": re.search(r'name="ts" value="([^"]+)"', page).group(1), "channel": "email",
            "email": "formulir@example.org", "idempotency_key": key}
    results = run_at_once([lambda: form_user.post("/ask", data=form) for _ in range(8)])
    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    form_links = {re.search(r'href="([^"]*/ask/t/[^"]+)"', r.text).group(1) for r in results}
    assert len(form_links) == 1 and form_links != links
    assert _counts(app) == (2, 2)

    stranger = HttpUser(live_server)
    r = stranger.post("/api/v1/ask", json={**body, "email": "lain@example.org"}, headers={"Idempotency-Key": "burst-1"})
    assert r.status_code == 200 and r.json()["thread_url"] not in links
    assert _counts(app) == (3, 3)
