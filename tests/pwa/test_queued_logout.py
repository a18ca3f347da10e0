"""A logout made offline is queued and sent on reconnect: it ends the session it was made in,
and never the session of whoever logged in on the phone since (finding 6 of issue 9)."""

from __future__ import annotations

import re

import pytest


def _csrf(client) -> str:
    return client.get("/api/v1/session").get_json()["csrf_token"]


def _login(client, card, pin):
    r = client.post("/login", data={"card": card, "pin": pin, "csrf_token": _csrf(client)})
    assert r.status_code == 303
    return r


def _flag(client) -> str:
    cookie = client.get_cookie("opac_patron", domain="localhost")
    return cookie.value if cookie else ""


def _session(client) -> str:
    return client.get_cookie("session", domain="localhost").value


def _who(client):
    data = client.get("/api/v1/session").get_json()
    return data["patron"]["card_number"] if data["authenticated"] else None


def _queued_logout(client, token):
    return client.post("/api/v1/logout", json={"logout_token": token}, headers={"X-CSRFToken": _csrf(client)})


@pytest.fixture
def two_patrons(make_patron):
    return make_patron(name="Ani"), make_patron(name="Budi")


def test_patron_flag_carries_a_session_bound_logout_token(app, two_patrons):
    (pid, card, pin), _ = two_patrons
    first, second = app.test_client(), app.test_client()
    _login(first, card, pin)
    _login(second, card, pin)
    token = _flag(first)
    assert re.fullmatch(rf"patron\.{pid}\.[0-9a-f]{{64}}", token)
    assert _flag(second) != token  # one per login session
    assert card not in token and "Ani" not in token


def test_queued_logout_ends_its_own_session_and_clears_the_device(app, two_patrons):
    (_, card, pin), _ = two_patrons
    client = app.test_client()
    _login(client, card, pin)
    token = _flag(client)
    r = _queued_logout(client, token)
    assert r.status_code == 200 and r.get_json() == {"ok": True, "ended": True, "current_session_ended": True}
    # the browser cache goes; "storage" would also unregister the service worker (the app would not
    # open offline any more): IndexedDB and the page caches are erased by the worker and the page
    assert "cache" in r.headers["Clear-Site-Data"] and "storage" not in r.headers["Clear-Site-Data"]
    assert _flag(client) == ""  # the flag cookie is deleted
    assert _who(client) is None
    assert client.get("/api/v1/loans").status_code == 401
    # sent again (a second tab, a retry): nothing left to end, still a clean answer
    r = _queued_logout(client, token)
    assert r.status_code == 200 and r.get_json()["ended"] is False


def test_queued_logout_of_the_last_patron_leaves_the_next_patron_logged_in(app, two_patrons):
    (_, card_a, pin_a), (_, card_b, pin_b) = two_patrons
    phone = app.test_client()
    _login(phone, card_a, pin_a)
    token_a, cookie_a = _flag(phone), _session(phone)
    # A logged out offline (the device forgot A, the logout waits in the queue); B logs in before reconnect
    _login(phone, card_b, pin_b)
    assert _who(phone) == card_b
    r = _queued_logout(phone, token_a)
    assert r.status_code == 200 and r.get_json() == {"ok": True, "ended": True, "current_session_ended": False}
    assert "Clear-Site-Data" not in r.headers
    assert _who(phone) == card_b and phone.get("/api/v1/loans").status_code == 200
    assert _flag(phone) and _flag(phone) != token_a  # B's flag stays
    # A's session is over on the server: a copy of A's old cookie is anonymous
    thief = app.test_client()
    thief.set_cookie("session", cookie_a, domain="localhost")
    assert _who(thief) is None and thief.get("/api/v1/loans").status_code == 401


def test_queued_logout_ends_no_other_session_of_the_same_patron(app, two_patrons):
    (_, card, pin), _ = two_patrons
    shared_phone, own_phone = app.test_client(), app.test_client()
    _login(shared_phone, card, pin)
    _login(own_phone, card, pin)
    token = _flag(shared_phone)
    other = app.test_client()
    r = _queued_logout(other, token)  # sent from anywhere, it ends only the session it names
    assert r.get_json() == {"ok": True, "ended": True, "current_session_ended": False}
    assert _who(shared_phone) is None
    assert _who(own_phone) == card


@pytest.mark.parametrize("bad", ["x", "patron.1.abc", "staff.1." + "0" * 64, "patron.99999999999." + "0" * 64,
                                 "patron.{pid}." + "0" * 64, "patron.{pid}.{mac}0", "1"])
def test_forged_or_broken_logout_tokens_end_nothing(app, two_patrons, bad):
    (pid, card, pin), (_, card_b, pin_b) = two_patrons
    victim, attacker = app.test_client(), app.test_client()
    _login(victim, card, pin)
    _login(attacker, card_b, pin_b)
    mac = _flag(victim).rsplit(".", 1)[1]
    r = _queued_logout(attacker, bad.format(pid=pid, mac=mac))
    assert r.status_code == 200 and r.get_json() == {"ok": True, "ended": False, "current_session_ended": False}
    assert _who(victim) == card and _who(attacker) == card_b


def test_queued_logout_needs_the_csrf_token(app, two_patrons):
    (_, card, pin), _ = two_patrons
    client = app.test_client()
    _login(client, card, pin)
    r = client.post("/api/v1/logout", json={"logout_token": _flag(client)})
    assert r.status_code == 400 and r.get_json()["error"] == "csrf"
    assert _who(client) == card


def test_plain_logout_still_ends_the_current_session(app, two_patrons):
    (_, card, pin), _ = two_patrons
    client = app.test_client()
    _login(client, card, pin)
    r = client.post("/api/v1/logout", json={}, headers={"X-CSRFToken": _csrf(client)})
    assert r.status_code == 200 and r.get_json()["current_session_ended"] is True
    assert _who(client) is None and _flag(client) == ""
