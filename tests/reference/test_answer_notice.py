"""The patron hears that the librarian answered: in-app notification and badge (cleared when the
thread is opened), a push when they chose the app, one e-mail through the queue when they chose e-mail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from opac.notifications.worker import run
from opac.push import PushMessage, PushSubscription
from opac.reference.models import Question
from tests.conftest import csrf_token
from tests.notifications.fakes import browser_keys, vapid_config
from tests.reference.test_ask import ask, staff_login


@pytest.fixture
def app_config(smtp):
    return {"ASK_MIN_SECONDS": 0, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False,
            **vapid_config()}


def _badge(page: str) -> str | None:
    m = re.search(r'<span class="nav-badge" data-badge="answers"[^>]*?( hidden)?><span aria-hidden="true">(\d+)</span>', page)
    return None if m is None or m.group(1) else m.group(2)


def _reply(app, make_staff, qid, text):
    staff = app.test_client()
    staff_login(staff, make_staff)
    r = staff.post(f"/staff/questions/{qid}", data={"action": "reply", "body": text, "csrf_token": csrf_token(staff)})
    assert r.status_code == 303


def test_answer_badge_until_the_thread_is_opened_and_a_push_for_the_app_channel(
        app, client, login, make_patron, make_staff, push_service):
    pid, card, pin = make_patron(email="siti@example.org")
    with app.app_context():
        p256dh, auth = browser_keys()
        db.session.add(PushSubscription(patron_id=pid, endpoint=push_service.base + "/sub/siti", p256dh=p256dh, auth=auth))
        db.session.commit()
    login(card, pin)
    ask(client, email="", name="", channel="app", text="Apakah ada buku tentang sejarah Majapahit?")
    with app.app_context():
        qid = db.session.scalar(select(Question.id))
    assert client.get("/api/v1/ask/unread").get_json() == {"unread_answers": 0}
    assert _badge(client.get("/account/loans").get_data(as_text=True)) is None

    _reply(app, make_staff, qid, "Ada, lihat /record/1 di rak 959.8.")
    assert client.get("/api/v1/ask/unread").get_json() == {"unread_answers": 1}
    assert _badge(client.get("/account/loans").get_data(as_text=True)) == "1"  # the Ask tab
    assert "Jawaban baru" in client.get("/account/questions").get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)  # public, cached: no count in it, the script fills it in
    assert _badge(home) is None and re.search(r"answers\.\w+\.js", home)
    with app.app_context():
        note = db.session.scalar(select(Notification).where(Notification.kind == "ask_reply"))
        assert note.patron_id == pid and note.url.endswith(f"/account/questions/{qid}") and "959.8" in note.body
        assert db.session.scalar(select(func.count()).select_from(PushMessage).where(PushMessage.kind == "ask_reply")) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "ask_reply")) == 0

    # opening the thread (a GET) changes nothing by itself; the page marks it read with a POST
    thread = client.get(f"/account/questions/{qid}").get_data(as_text=True)
    assert "data-mark-read" in thread and client.get("/api/v1/ask/unread").get_json()["unread_answers"] == 1
    action = re.search(r'action="([^"]+/read)"', thread).group(1)

    # another patron can neither clear nor see it
    other = app.test_client()
    _, card2, pin2 = make_patron()
    other.post("/login", data={"card": card2, "pin": pin2, "csrf_token": csrf_token(other)})
    assert other.post(action, data={"csrf_token": csrf_token(other)}).status_code == 404
    assert other.get("/api/v1/ask/unread").get_json() == {"unread_answers": 0}
    assert client.get("/api/v1/ask/unread").get_json()["unread_answers"] == 1

    r = client.post(action, data={"csrf_token": csrf_token(client)}, headers={"Accept": "application/json"})
    assert r.get_json() == {"ok": True, "unread_answers": 0}
    assert _badge(client.get("/account/loans").get_data(as_text=True)) is None
    assert "data-mark-read" not in client.get(f"/account/questions/{qid}").get_data(as_text=True)
    with app.app_context():
        totals = run(once=True)
    assert totals.get("push_sent") == 1 and push_service.requests == ["/sub/siti"]


def test_email_channel_gets_one_email_through_the_queue(app, client, login, make_patron, make_staff, smtp):
    pid, card, pin = make_patron(email="budi@example.org")
    login(card, pin)
    ask(client, email="", name="", channel="email", text="Bagaimana cara memperpanjang kartu anggota?")
    with app.app_context():
        qid = db.session.scalar(select(Question.id))
    _reply(app, make_staff, qid, "Datang ke meja layanan dengan KTM.")
    with app.app_context():
        mails = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "ask_reply")).all()
        assert [m.to for m in mails] == ["budi@example.org"] and mails[0].status == "pending"
        run(once=True)
        assert run(once=True) == {}
    answers = [m for m in smtp.messages if "KTM" in m.get_payload(decode=True).decode()]
    assert len(answers) == 1 and str(answers[0]["To"]) == "budi@example.org"
    assert client.get("/api/v1/ask/unread").get_json() == {"unread_answers": 1}  # in the app as well
