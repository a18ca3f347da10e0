"""Structural tests over the whole app, generated from ``app.url_map``:

- every route is either on the public allowlist or needs a login;
- every state-changing request without a valid CSRF token is refused and changes nothing;
- no GET changes state;
- patron A can never see or touch patron B's loans, holds (or questions).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from opac.catalog.models import Location
from opac.circulation.models import Hold, Loan
from opac.extensions import db
from tests.circulation.snapshot import db_state
from tests.conftest import csrf_token

#: Endpoints anyone may open without logging in.
PUBLIC = {
    "static", "hashed_asset", "catalog.home", "catalog.record", "catalog.record_ris", "catalog.record_bibtex",
    "health.healthz", "health.readyz", "catalog.record_marcxml", "catalog.cover", "catalog.api_record", "search.results", "search_api.api_search",
    "search_api.api_suggest", "openapi.openapi", "pwa.manifest", "pwa.offline", "pwa.service_worker", "pwa.scan",
    "pwa.share_target", "pwa.saved", "pwa.robots", "pwa.locations_api", "push.public_key", "news.new_arrivals", "news.news_list", "news.news_post",
    "news.new_arrivals_feed", "news.news_feed",
    "accounts.login", "accounts.logout", "accounts.request_reset", "accounts.reset_password",
    "patron_api.session_info", "patron_api.login", "patron_api.logout", "staff.login", "staff.logout",
    "circulation.place_hold",  # redirects to the login page itself
    "reference.ask", "reference.faq", "reference.info", "reference.thread", "reference.suggest_api",
    "reference.faq_helpful", "reference.ask_api", "reference.thread_api", "reference.reply_api",
    "registration.register", "registration.verify", "registration.confirm", "registration.api_register",
    "registration.api_verify",
    "patron_services.shared_list", "patron_services.reading_lists", "patron_services.reading_list",
    "patron_services.record_shelf", "patron_services.api_record_shelf", "patron_services.verify_clearance",
    "oai.endpoint", "catalog.opensearch",
}
#: Read-only POST endpoints exempt from CSRF (a protocol that allows POST for long queries); they must
#: answer and change nothing.
READ_ONLY_POST = {"oai.endpoint"}


@pytest.fixture
def two_patrons(app, load_records, make_patron, make_staff):
    ids = load_records([dict(title="Buku A", items=[{"barcode": "S1", "location": "PUSAT"}, {"barcode": "S2", "location": "PUSAT"}]),
                        dict(title="Buku B", items=[{"barcode": "S3", "location": "PUSAT"}])])
    a, b = make_patron(), make_patron()
    staff = make_staff(role="admin")
    from tests.conftest import enrol_two_factor

    staff_secret = enrol_two_factor(app, staff[0])
    from opac.circulation import actions

    with app.test_request_context():
        loc = db.session.scalar(select(Location))
        loc.is_pickup = True
        db.session.commit()
        assert actions.checkout(b[1], "S1")["ok"]
        assert actions.place_hold(b[0], ids[1], loc.id)["ok"]
        b_loan = db.session.scalar(select(Loan.id).where(Loan.patron_id == b[0]))
        b_hold = db.session.scalar(select(Hold.id).where(Hold.patron_id == b[0]))
        from opac.accounts.models import Patron
        from opac.reference import services as ref

        q = ref.ask("Pertanyaan pribadi milik patron B " + b[1], category="other", name="B", email=None, whatsapp=None,
                    channel="app", patron=db.session.get(Patron, b[0]), ip="10.0.0.2")
        db.session.commit()
        b_question, b_access = q.id, q.token
        from opac.accounts.models import AuthSession
        from opac.accounts.services import start_session

        start_session(db.session.get(Patron, b[0]))  # B is signed in somewhere
        db.session.commit()
        b_session = db.session.scalar(select(AuthSession.ref).where(AuthSession.user_id == b[0]))
        from opac.patron_services import services as lists

        b_list = lists.create_list(name="Daftar pribadi B " + b[1], patron=db.session.get(Patron, b[0]))
        lists.add_entry(b_list, ids[0])
        b_list = b_list.id
        from opac.patron_services.models import ClearanceLetter

        letter = ClearanceLetter(patron_id=b[0], patron_name="B " + b[1], card_number=b[1], token="b-letter-token-xyz")
        db.session.add(letter)
        from werkzeug.datastructures import MultiDict

        from opac.patron_services.alerts import save_search

        b_saved = save_search(db.session.get(Patron, b[0]), MultiDict([("q", "buku " + b[1])]))
        db.session.commit()
        b_letter, b_saved = letter.id, b_saved.id
    return {"b_list": b_list, "b_letter": b_letter, "b_saved": b_saved, "records": ids, "a": a, "b": b, "staff": staff, "staff_secret": staff_secret, "b_loan": b_loan,
            "b_hold": b_hold, "b_question": b_question, "b_access": b_access, "b_session": b_session}


def _url(rule, values):
    args = {}
    for arg in rule.arguments:
        if arg not in values:
            return None
        args[arg] = values[arg]
    try:
        return rule.build(args, append_unknown=False)[1]
    except Exception:  # noqa: BLE001
        return None


def _values(world):
    return {
        "record_id": world["records"][0], "loan_id": world["b_loan"], "hold_id": world["b_hold"],
        "token": "not-a-token", "fmt": "csv", "hashed": "app.0000000000.css", "filename": "pwa/app.css",
        "question_id": world.get("b_question", 1), "faq_id": world.get("faq_id", 1), "access": world.get("b_access", "x"),
        "lang": "id", "post_id": 1, "session_id": world.get("b_session", "x"), "staff_id": 1,
        "registration_id": 1, "decision": "approve",
        "list_id": world.get("b_list", 1), "suggestion_id": world.get("b_suggestion", 1),
        "letter_id": world.get("b_letter", 1), "saved_id": world.get("b_saved", 1),
        "series": "loans",
    }


def _rules(app, method):
    for rule in app.url_map.iter_rules():
        if method in rule.methods:
            yield rule


def test_every_route_is_public_or_needs_login(app, client, two_patrons):
    values = _values(two_patrons)
    checked = 0
    for rule in _rules(app, "GET"):
        if rule.endpoint in PUBLIC:
            continue
        url = _url(rule, values)
        assert url is not None, f"cannot build {rule}: add a sample value"
        r = client.get(url)
        assert r.status_code in (302, 401, 403), (rule.endpoint, r.status_code)
        if r.status_code == 302:
            assert "/login" in r.headers["Location"]
        checked += 1
    assert checked >= 10


def test_every_post_without_csrf_is_refused_and_changes_nothing(app, client, two_patrons, login):
    _, card, pin = two_patrons["a"]
    login(card, pin)
    values = _values(two_patrons)
    with app.app_context():
        before = db_state()
    checked = 0
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for rule in _rules(app, method):
            url = _url(rule, values)
            if url is None:
                continue
            r = client.open(url, method=method, data={"x": "1"})
            if rule.endpoint in READ_ONLY_POST:
                assert r.status_code == 200, (rule.endpoint, r.status_code)
                continue
            assert r.status_code == 400, (rule.endpoint, r.status_code)
            checked += 1
    with app.app_context():
        assert db_state() == before
    assert checked >= 10


@pytest.mark.parametrize("who", ["anonymous", "patron", "staff"])
def test_no_get_changes_state(app, client, two_patrons, login, who):
    if who == "patron":
        login(*two_patrons["a"][1:])
    elif who == "staff":
        from tests.conftest import staff_login

        staff_login(client, app, *two_patrons["staff"], two_patrons["staff_secret"])
    values = _values(two_patrons)
    with app.app_context():
        before = db_state()
    for rule in _rules(app, "GET"):
        url = _url(rule, values)
        if url is None or rule.endpoint in ("staff.logout",):
            continue
        client.get(url)
    with app.app_context():
        assert db_state() == before


def test_patron_a_cannot_see_or_touch_patron_b(app, client, two_patrons, login):
    """Every route that takes a patron-owned id, called by A with B's ids."""
    _, card_b, _ = two_patrons["b"]
    login(*two_patrons["a"][1:])
    values = _values(two_patrons)
    owned = {"loan_id", "hold_id", "question_id", "session_id", "list_id", "letter_id", "saved_id"}
    with app.app_context():
        before = db_state()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not owned & set(rule.arguments):
            continue
        url = _url(rule, values)
        if url is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                r = client.get(url)
            else:
                headers = {"X-CSRFToken": csrf_token(client), "Idempotency-Key": f"iso-{checked}"}
                r = client.open(url, method=method, data={"csrf_token": csrf_token(client), "until": "2099-01-01"},
                                headers=headers)
            body = r.get_data(as_text=True)
            assert card_b not in body, (rule.endpoint, method)
            if url.startswith("/api/"):
                assert r.status_code in (403, 404, 409), (rule.endpoint, method, r.status_code)
            checked += 1
    with app.app_context():
        assert db_state() == before  # nothing of B's changed
    assert checked >= 6
    # and A's own lists never show B's objects
    assert client.get("/api/v1/loans").get_json()["loans"] == []
    assert client.get("/api/v1/holds").get_json()["holds"] == []
    assert "Buku A" not in client.get("/account/loans").get_data(as_text=True)


def test_patron_pages_are_private_and_catalogue_pages_public(app, client, two_patrons, login):
    login(*two_patrons["a"][1:])
    assert client.get("/account/loans").headers["Cache-Control"] == "private, no-store"
    assert client.get("/api/v1/loans").headers["Cache-Control"] == "private, no-store"
    rec = client.get(f"/record/{two_patrons['records'][0]}")
    assert rec.headers["Cache-Control"] == "no-cache"
    assert two_patrons["a"][1] not in rec.get_data(as_text=True)  # public pages carry no patron data
    assert not re.search(r'name="csrf_token"', rec.get_data(as_text=True))
