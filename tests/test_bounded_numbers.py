"""Numbers in query strings: a value no column or date can hold is ignored or refused with 400,
never a server error (staff filters such as ``?age=`` and ``?edit=``, patron pages too)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opac.extensions import db
from tests.conftest import csrf_token

HUGE = ["999999999999", "9" * 40, "-1", "1e309", "０１", "٣"]
NUMERIC_PARAMS = ("age", "edit", "canned", "page", "size", "id", "days", "limit", "offset", "year", "question_id",
                  "record_id", "location_id", "n")


def _get_routes(app, prefix=""):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.rule.startswith(prefix) and rule.endpoint != "static":
            yield rule.rule


@pytest.fixture
def staff_client(app, make_admin):
    from .conftest import staff_login

    client = app.test_client()
    user, password, secret = make_admin("boss")
    staff_login(client, app, user, password, secret)
    return client


def test_staff_pages_ignore_numbers_out_of_range(app, staff_client, client):
    from opac.reference.models import CannedReply, Question

    client.post("/ask", data={"question": "Apakah ada buku tentang sejarah Aceh?", "channel": "app",
                              "ts": _stamp(app), "csrf_token": csrf_token(client)})
    with app.app_context():
        db.session.add(CannedReply(title="Salam", body="Terima kasih"))
        db.session.commit()
        qid = db.session.scalar(select(Question.id))
    urls = list(_get_routes(app, "/staff")) + [f"/staff/questions/{qid}"]
    checked = 0
    for url in urls:
        # every parameter at once with each value, and each parameter alone with the largest one
        # (a parameter alone meets no other's early answer)
        queries = [{name: value for name in NUMERIC_PARAMS} for value in HUGE]
        queries += [{name: HUGE[1]} for name in NUMERIC_PARAMS]
        for query in queries:
            r = staff_client.get(url, query_string=query)
            assert r.status_code < 500, (url, query, r.status_code)
            checked += 1
    assert checked > 100
    # the filters were ignored, the pages still work
    assert staff_client.get("/staff/questions?age=999999999999").status_code == 200
    assert staff_client.get("/staff/news?edit=99999999999999999999").status_code == 200
    assert staff_client.get(f"/staff/questions/{qid}?canned=99999999999999999999").status_code == 200
    assert "Terima kasih" in staff_client.get(f"/staff/questions/{qid}?canned=1").get_data(as_text=True)
    # and a sensible age still filters
    assert staff_client.get("/staff/questions?age=0").status_code == 200


def test_public_and_patron_pages_ignore_numbers_out_of_range(app, client, make_patron, login):
    _pid, card, pin = make_patron()
    login(card, pin)
    for url in _get_routes(app):
        if url.startswith("/staff") or url in ("/logout",):
            continue
        for value in HUGE[:3]:
            r = client.get(url, query_string={name: value for name in NUMERIC_PARAMS})
            assert r.status_code < 500, (url, value, r.status_code)


def _stamp(app):
    from datetime import timedelta

    from opac.catalog.models import utcnow
    from opac.reference import services

    with app.test_request_context():
        return services._serializer().dumps({"t": (utcnow() - timedelta(minutes=5)).timestamp()})
