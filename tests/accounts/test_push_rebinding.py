"""A push subscription belongs to the patron who made it: another patron cannot move it to
themselves by sending its endpoint (they would receive the first patron's notices)."""

from __future__ import annotations

from sqlalchemy import select

from opac.accounts.models import PushSubscription
from opac.extensions import db
from tests.conftest import csrf_token

SUB = {"endpoint": "https://push.example.org/send/victim-device", "keys": {"p256dh": "BPx" + "a" * 80, "auth": "x" * 22}}


def _post(client, url, body):
    return client.post(url, json=body, headers={"X-CSRFToken": csrf_token(client)})


def _owner(app, endpoint=SUB["endpoint"]):
    with app.app_context():
        return db.session.scalar(select(PushSubscription.patron_id).where(PushSubscription.endpoint == endpoint))


def _login(app, card, pin):
    c = app.test_client()
    r = c.post("/api/v1/login", json={"card": card, "pin": pin}, headers={"X-CSRFToken": csrf_token(c)})
    assert r.status_code == 200
    return c


def test_another_patron_cannot_take_over_a_subscription(app, make_patron):
    a_id, a_card, a_pin = make_patron()
    b_id, b_card, b_pin = make_patron()
    alice, bob = _login(app, a_card, a_pin), _login(app, b_card, b_pin)
    assert _post(alice, "/api/v1/push/subscribe", SUB).status_code == 200
    assert _owner(app) == a_id

    r = _post(bob, "/api/v1/push/subscribe", SUB)
    assert r.status_code == 409
    body = r.get_json()
    assert body["error"] == "subscription_taken" and body["message"]
    assert _owner(app) == a_id  # still Alice's: Bob receives none of her notices
    # Bob cannot remove it either
    assert _post(bob, "/api/v1/push/unsubscribe", {"endpoint": SUB["endpoint"]}).status_code == 200
    assert _owner(app) == a_id

    # Alice re-subscribing (new keys from the browser) keeps it hers and updates the keys
    renewed = {**SUB, "keys": {"p256dh": "BPy" + "b" * 80, "auth": "y" * 22}}
    assert _post(alice, "/api/v1/push/subscribe", renewed).status_code == 200
    with app.app_context():
        row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == SUB["endpoint"]))
        assert (row.patron_id, row.p256dh, row.auth) == (a_id, "BPy" + "b" * 80, "y" * 22)

    # once Alice turns notices off on that device, the endpoint is free for Bob
    assert _post(alice, "/api/v1/push/unsubscribe", {"endpoint": SUB["endpoint"]}).status_code == 200
    assert _owner(app) is None
    assert _post(bob, "/api/v1/push/subscribe", SUB).status_code == 200
    assert _owner(app) == b_id


def test_the_refusal_is_translated(app, make_patron):
    _a, a_card, a_pin = make_patron()
    _b, b_card, b_pin = make_patron()
    assert _post(_login(app, a_card, a_pin), "/api/v1/push/subscribe", SUB).status_code == 200
    bob = _login(app, b_card, b_pin)
    english = bob.post("/api/v1/push/subscribe?hl=en", json=SUB, headers={"X-CSRFToken": csrf_token(bob)}).get_json()
    indonesian = bob.post("/api/v1/push/subscribe?hl=id", json=SUB, headers={"X-CSRFToken": csrf_token(bob)}).get_json()
    assert english["message"] != indonesian["message"]
    assert "another" in english["message"]
