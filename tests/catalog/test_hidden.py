"""A hidden record (SLiMS ``opac_hide``) is in the database for circulation and staff, nowhere public;
a withdrawn one too: one rule (``Record.is_public``) on every path a patron can reach a record by."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opac.accounts.models import Patron
from opac.catalog.models import Record
from opac.extensions import db
from tests.conftest import apply_index_changes, csrf_token


def _set_hidden(app, rid, hidden):
    with app.app_context():
        db.session.get(Record, rid).hidden = hidden
        db.session.commit()
    apply_index_changes(app)


def test_hidden_record_is_not_searched_shown_or_harvested(app, client, make_record, search_api):
    rid = make_record(title="Arsip rahasia perpustakaan", control_number="H-1", items=["HB1"])
    assert search_api("arsip rahasia")["total"] == 1

    _set_hidden(app, rid, True)
    assert search_api("arsip rahasia perpustakaan")["total"] == 0
    for url in (f"/record/{rid}", f"/api/v1/records/{rid}", f"/cover/{rid}.svg", f"/record/{rid}/cite.ris"):
        assert client.get(url).status_code == 404, url
    ids = client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").get_data(as_text=True)
    assert "H-1" not in ids
    got = client.get("/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:opac.test:H-1").get_data(as_text=True)
    assert 'code="idDoesNotExist"' in got

    _set_hidden(app, rid, False)
    assert search_api("arsip rahasia")["hits"][0]["id"] == rid
    assert client.get(f"/record/{rid}").status_code == 200


@pytest.fixture(params=["hidden", "withdrawn"])
def shelf_with_one_unreachable(request, app, make_record, make_patron):
    """Three records side by side on the shelf; the middle one then hidden (SLiMS ``opac_hide``) or
    withdrawn, after a patron had saved it, put it on a list and the shelf had been browsed."""
    from opac.accounts.models import SavedRecord
    from opac.catalog.models import Location
    from opac.catalog.services import withdraw_record
    from opac.patron_services import services as lists

    ids = [make_record(title=title, call_number=f"899.221 {code}",
                       items=[{"barcode": f"S{code}", "location": "PUSAT"}])
           for code, title in (("A", "Anak Semua Bangsa"), ("B", "Bumi Manusia Tersembunyi"), ("C", "Cantik Itu Luka"))]
    mid = ids[1]
    pid, card, pin = make_patron()
    with app.test_request_context():
        db.session.scalar(select(Location).where(Location.code == "PUSAT")).is_pickup = True
        patron = db.session.get(Patron, pid)
        rl = lists.create_list(name="Bacaan", patron=patron)
        for rid in ids:
            lists.add_entry(rl, rid)
        db.session.add(SavedRecord(patron_id=pid, record_id=mid))
        db.session.commit()
        list_id = rl.id
        record = db.session.get(Record, mid)
        if request.param == "hidden":
            record.hidden = True
        else:
            withdraw_record(record, by=None)
        db.session.commit()
    apply_index_changes(app)
    return {"ids": ids, "mid": mid, "card": card, "pin": pin, "list_id": list_id}


def test_a_hidden_or_withdrawn_record_is_out_of_every_patron_path_and_staff_still_see_it(
        app, client, shelf_with_one_unreachable, login, api, make_staff, search_api):
    left, mid, right = shelf_with_one_unreachable["ids"]
    for url in (f"/record/{mid}", f"/api/v1/records/{mid}", f"/cover/{mid}.svg", f"/record/{mid}/cite.ris",
                f"/record/{mid}/cite.bib", f"/record/{mid}/marc.xml", f"/record/{mid}/shelf",
                f"/api/v1/records/{mid}/shelf"):
        assert client.get(url).status_code == 404, url
    assert search_api("bumi manusia tersembunyi")["total"] == 0
    # the shelf goes from its left neighbour straight to its right one
    shelf = client.get(f"/api/v1/records/{left}/shelf").get_json()
    assert [x["record_id"] for x in shelf["right"]] == [right]
    for page in (client.get(f"/record/{left}").text, client.get(f"/record/{left}/shelf").text, client.get("/new").text):
        assert "Bumi Manusia Tersembunyi" not in page and "Cantik Itu Luka" in page

    login(shelf_with_one_unreachable["card"], shelf_with_one_unreachable["pin"])
    assert client.get(f"/record/{mid}/hold").status_code == 404
    assert client.get(f"/record/{mid}/lists").status_code == 404
    r = api.post("/api/v1/holds", json={"record_id": mid, "pickup_location_id": 1})
    assert r.status_code == 409 and r.get_json()["error"] == "not_holdable"
    assert api.post("/api/v1/holds", json={"record_id": left, "pickup_location_id": 1}).status_code == 200
    assert [x["id"] for x in api.get("/api/v1/saved").get_json()["saved"]] == []  # saved before: not listed now
    r = api.post("/api/v1/saved/sync", json={"add": [mid, right]})
    assert [x["id"] for x in r.get_json()["saved"]] == [right]
    list_id = shelf_with_one_unreachable["list_id"]
    assert [e["record_id"] for e in api.get(f"/api/v1/lists/{list_id}").get_json()["entries"]] == [left, right]
    assert "Bumi Manusia Tersembunyi" not in client.get(f"/lists/{list_id}").text
    client.post("/logout", data={"csrf_token": csrf_token(client)})

    user, password = make_staff()
    r = client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    page = client.get(f"/record/{mid}")
    assert page.status_code == 200 and "Bumi Manusia Tersembunyi" in page.text
    assert page.headers["Cache-Control"] == "private, no-store"
    cover = client.get(f"/cover/{mid}.svg")
    assert cover.status_code == 200 and cover.headers["Cache-Control"] == "private, no-store"
    r = client.get(f"/api/v1/records/{mid}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store"
