"""Notices become queued messages (nothing is sent in a request or a circulation service); the worker
sends them with retries, exponential backoff and dead letters that staff can queue again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from opac import clock
from opac.accounts.models import Patron, PushSubscription
from opac.catalog.models import Item, Location
from opac.circulation import services
from opac.extensions import db
from opac.mail import OutboxEmail, queue_email
from opac.notifications.models import Notification
from opac.notifications.worker import run
from opac.push import PushMessage
from tests.conftest import csrf_token
from tests.notifications.fakes import browser_keys, vapid_config

START = datetime(2026, 3, 2, 9, 0)  # library time


@pytest.fixture
def app_config(smtp):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False, "MAIL_MAX_ATTEMPTS": 3,
            "PUSH_MAX_ATTEMPTS": 3, "OUTBOUND_RETRY_SECONDS": 60, "FAKE_TODAY": START.isoformat(), **vapid_config()}


def subscribe(patron_id: int, endpoint: str) -> int:
    p256dh, auth = browser_keys()
    sub = PushSubscription(patron_id=patron_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    db.session.add(sub)
    db.session.commit()
    return sub.id


def status_of(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_hold_ready_is_queued_in_the_transaction_and_sent_once_by_the_worker(
        app, load_records, make_patron, smtp, push_service):
    ids = load_records([dict(title="Bumi Manusia", items=[{"barcode": "B1", "location": "PUSAT"}])])
    a = make_patron(email="a@example.org")[0]
    b = make_patron(email="b@example.org")[0]
    with app.app_context():
        subscribe(b, push_service.base + "/sub/b")
        loc = db.session.scalar(select(Location))
        loc.is_pickup = True
        item = db.session.scalar(select(Item).where(Item.barcode == "B1"))
        services.checkout(item, db.session.get(Patron, a))
        services.place_hold(ids[0], db.session.get(Patron, b), pickup_location_id=loc.id)
        db.session.commit()
        services.checkin(item, location=loc)
        db.session.commit()
        note = db.session.scalar(select(Notification).where(Notification.patron_id == b))
        assert note.kind == "hold_ready" and note.url == "/account/holds" or note.url.endswith("/holds")
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.to == "b@example.org"))
        pushed = db.session.scalar(select(PushMessage).where(PushMessage.patron_id == b))
        assert mail.status == pushed.status == "pending"
        assert "https://opac.test/" in mail.body  # absolute link from BASE_URL
        assert smtp.messages == [] and push_service.requests == []  # nothing left the process yet

        totals = run(once=True)
        assert totals.get("mail_sent") == 2 and totals.get("push_sent") == 1  # renewal notice to A, hold to B
        assert status_of(OutboxEmail, mail.id).status == "sent" and status_of(PushMessage, pushed.id).status == "sent"
        assert sorted(str(m["To"]) for m in smtp.messages) == ["a@example.org", "b@example.org"]
        assert smtp.messages[-1]["Message-ID"] == f"<outbox-{mail.id}@opac.test>"
        assert push_service.requests == ["/sub/b"]
        assert run(once=True) == {}  # nothing twice
        assert len(smtp.messages) == 2 and len(push_service.requests) == 1


def test_retries_back_off_exponentially_then_become_a_dead_letter_staff_can_retry(app, client, make_staff, smtp):
    with app.app_context():
        msg = queue_email("busy@example.org", "Pengingat", "token-rahasia-42")
        db.session.commit()
        msg_id = msg.id
        assert run(once=True) == {"mail_pending": 1}
        row = status_of(OutboxEmail, msg.id)
        assert row.attempts == 1 and row.next_attempt_at == clock.now() + timedelta(seconds=60)
        assert "451" in row.error
        assert run(once=True) == {}  # not due yet: the clock has not moved
        app.config["FAKE_TODAY"] = (START + timedelta(seconds=61)).isoformat()
        assert run(once=True) == {"mail_pending": 1}
        row = status_of(OutboxEmail, msg.id)
        assert row.attempts == 2 and row.next_attempt_at == clock.now() + timedelta(seconds=120)  # doubled
        app.config["FAKE_TODAY"] = (START + timedelta(seconds=61 + 119)).isoformat()
        assert run(once=True) == {}
        app.config["FAKE_TODAY"] = (START + timedelta(seconds=61 + 121)).isoformat()
        assert run(once=True) == {"mail_dead": 1}
        assert status_of(OutboxEmail, msg.id).status == "dead" and smtp.messages == []
        app.config["FAKE_TODAY"] = (START + timedelta(days=30)).isoformat()
        assert run(once=True) == {}  # a dead letter is never tried again by itself

    user, password = make_staff()
    token = csrf_token(client)
    assert client.post("/staff/login", data={"username": user, "password": password, "csrf_token": token}).status_code == 303
    page = client.get("/staff/dead-letters")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Surat gagal kirim" in html and "Kirim ulang" in html  # Indonesian
    assert "busy@example.org" in html and "3 percobaan" in html and "451" in html
    assert "token-rahasia-42" not in html  # bodies (reset links) are not shown here
    assert "Dead letters" in client.get("/staff/dead-letters?hl=en").get_data(as_text=True)
    refused = client.post("/staff/dead-letters/retry", data={"channel": "mail", "id": msg_id})
    assert refused.status_code == 400  # no CSRF token
    with app.app_context():
        assert status_of(OutboxEmail, msg_id).status == "dead"
    token = csrf_token(client)
    r = client.post("/staff/dead-letters/retry", data={"channel": "mail", "id": msg_id, "csrf_token": token})
    assert r.status_code == 303
    with app.app_context():
        row = status_of(OutboxEmail, msg_id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    again = client.post("/staff/dead-letters/retry", data={"channel": "mail", "id": msg_id, "csrf_token": token},
                        follow_redirects=True)
    assert "not a dead letter (any more)" in again.get_data(as_text=True)  # says why (in English, chosen above)
    assert client.post("/staff/dead-letters/retry", data={"channel": "fax", "id": "x", "csrf_token": token}).status_code == 303


def test_patron_cannot_open_dead_letters(app, client, make_patron, login):
    _pid, card, pin = make_patron()
    login(card, pin)
    assert client.get("/staff/dead-letters").status_code in (302, 403)


def test_permanent_refusal_is_a_dead_letter_at_once(app, smtp):
    with app.app_context():
        bad = queue_email("dead@example.org", "x", "y")
        good = queue_email("ok@example.org", "z", "y")
        db.session.commit()
        assert run(once=True) == {"mail_dead": 1, "mail_sent": 1}
        assert status_of(OutboxEmail, bad.id).attempts == 1 and "550" in status_of(OutboxEmail, bad.id).error
        assert status_of(OutboxEmail, good.id).status == "sent"


def test_smtp_down_costs_one_attempt_and_keeps_the_rest_queued(app, smtp):
    app.config["MAIL_PORT"] = smtp.port
    smtp.close()  # nobody listens any more
    with app.app_context():
        rows = [queue_email(f"p{i}@example.org", "s", "b") for i in range(3)]
        db.session.commit()
        assert run(once=True) == {"mail_stop": 1}
        assert [status_of(OutboxEmail, r.id).attempts for r in rows] == [1, 0, 0]
        assert {status_of(OutboxEmail, r.id).status for r in rows} == {"pending"}


def test_push_goes_only_to_devices_still_owned_and_gone_subscriptions_are_dropped(app, make_patron, push_service):
    a = make_patron()[0]
    b = make_patron()[0]
    with app.app_context():
        moved = subscribe(a, push_service.base + "/sub/moved")
        gone = subscribe(a, push_service.base + "/gone/x")
        db.session.add_all([PushMessage(patron_id=a, subscription_id=moved, kind="due_soon", payload={"title": "t"}),
                            PushMessage(patron_id=a, subscription_id=gone, kind="due_soon", payload={"title": "t"})])
        db.session.get(PushSubscription, moved).patron_id = b  # the device is now signed in to patron B
        db.session.commit()
        assert run(once=True) == {"push_cancelled": 2}
        assert push_service.requests == ["/gone/x"]  # never to the device that changed hands
        assert db.session.get(PushSubscription, gone) is None
        assert db.session.scalar(select(func.count()).select_from(PushMessage).where(
            PushMessage.status == "cancelled")) == 2


def test_without_a_mail_server_mail_waits_in_the_outbox(app):
    app.config["MAIL_SERVER"] = ""
    with app.app_context():
        msg = queue_email("p@example.org", "s", "b")
        db.session.commit()
        assert run(once=True) == {}
        assert status_of(OutboxEmail, msg.id).status == "pending"


def test_fake_today_is_ignored_outside_tests(app):
    with app.app_context():
        assert clock.today() == START.date()
        app.config["TESTING"] = False
        try:
            assert clock.today() != START.date()
        finally:
            app.config["TESTING"] = True
