"""Record and copy editing on the staff pages: roles, CSRF, duplicate barcodes, refusals with reasons,
the edit log, and the search index and OAI-PMH following every change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opac.catalog.models import Item, Location, Record, RecordEdit, RecordTombstone
from opac.extensions import db
from tests.conftest import csrf_token, staff_login


@pytest.fixture
def shelf(app, client, load_records):
    client.get("/?hl=en")  # messages asserted in English (the cookie keeps it)
    ids = load_records([
        dict(title="Laskar Pelangi", authors=["Hirata, Andrea"], isbns=["9789793062792"],
             items=[{"barcode": "E1", "location": "PUSAT"}, {"barcode": "E2", "location": "PUSAT"}]),
        dict(title="Sang Pemimpi", items=[{"barcode": "E3", "location": "PUSAT"}]),
    ])
    with app.app_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        db.session.add(Location(code="CABANG", name="Cabang Timur"))
        db.session.commit()
        return {"ids": ids, "pusat": loc.id,
                "cabang": db.session.scalar(select(Location.id).where(Location.code == "CABANG"))}


@pytest.fixture
def librarian(client, make_staff):
    user, password = make_staff()
    r = client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    assert r.status_code == 303


def post(client, url, **data):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)})


def flashes(client, url) -> str:
    return client.get(url).get_data(as_text=True)


def test_librarian_edits_a_record_and_the_index_and_log_follow(app, client, shelf, librarian, search_api):
    rid = shelf["ids"][0]
    found = client.get("/staff/records", query_string={"q": "E2"}).get_data(as_text=True)  # by a copy's barcode
    assert f"/staff/records/{rid}" in found and "Laskar Pelangi" in found
    assert f"/staff/records/{rid}" in client.get("/staff/records", query_string={"q": "978-979-3062-79-2"}).text
    staff_view = client.get(f"/record/{rid}")  # the record page links staff to the edit page, privately
    assert f"/staff/records/{rid}" in staff_view.text and staff_view.headers["Cache-Control"] == "private, no-store"
    public = app.test_client().get(f"/record/{rid}")
    assert "/staff/records" not in public.text and public.headers["Cache-Control"] == "no-cache"
    page = client.get(f"/staff/records/{rid}").get_data(as_text=True)
    assert 'name="title" type="text" value="Laskar Pelangi"' in page and "Hirata, Andrea" in page

    r = post(client, f"/staff/records/{rid}", title="Laskar Pelangi Baru", subtitle="", authors="Hirata, Andrea\nDewi, Sri",
             subjects="Pendidikan\nBelitung", languages="ind, eng", isbns="0-306-40615-2", issns="", series="",
             notes="", year="2005", material_type="book", publisher="Bentang", place="Yogyakarta",
             call_number="899.221 HIR l", summary="Sepuluh anak Belitung.", responsibility="", edition="",
             physical="")
    assert r.status_code == 303
    with app.app_context():
        rec = db.session.get(Record, rid)
        assert rec.title == "Laskar Pelangi Baru" and rec.year == 2005 and rec.languages == ["ind", "eng"]
        assert rec.isbns == ["9780306406157"] and rec.marc is None  # exports now come from the fields
        assert [a["name"] for a in rec.authors] == ["Hirata, Andrea", "Dewi, Sri"]
        edit = db.session.scalar(select(RecordEdit).where(RecordEdit.record_id == rid))
        assert edit.action == "edit" and edit.staff_id is not None and "title" in edit.summary.split(", ")
    page = client.get(f"/staff/records/{rid}").get_data(as_text=True)
    assert "Librarian" in page and 'id="log"' in page  # who, in the edit log
    assert search_api("baru")["total"] == 1  # the change feed took the edit to the index
    assert search_api("belitung")["hits"][0]["id"] == rid

    # nothing changed: nothing logged
    with app.app_context():
        before = db.session.scalar(select(db.func.count(RecordEdit.id)))
    assert post(client, f"/staff/records/{rid}", title="Laskar Pelangi Baru").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(db.func.count(RecordEdit.id))) == before


BAD_FIELDS = [("title", "  ", "needs a title"), ("year", "20x5", "year"), ("isbns", "123", "ISBN"),
              ("material_type", "scroll", "material type"), ("languages", "xx1", "language")]


def test_a_bad_field_is_refused_with_its_reason_and_nothing_changes(app, client, shelf, librarian):
    rid = shelf["ids"][1]
    for field, value, words in BAD_FIELDS:
        r = post(client, f"/staff/records/{rid}", **{"title": "Sang Pemimpi 2", field: value})
        assert r.status_code == 400, field
        body = r.get_data(as_text=True)
        assert words.lower() in body.lower() and 'role="alert"' in body, field
        assert field != "year" or 'value="20x5"' in body  # what was typed stays in the form
    with app.app_context():
        assert db.session.get(Record, rid).title == "Sang Pemimpi"
        assert db.session.scalar(select(RecordEdit)) is None


def test_copies_added_and_changed_and_duplicate_barcodes_refused(app, client, shelf, librarian, search_api):
    rid = shelf["ids"][1]
    url = f"/staff/records/{rid}"
    r = post(client, f"{url}/copies", barcode="E1", location_id=str(shelf["pusat"]))
    assert r.status_code == 303
    page = flashes(client, url)
    assert "E1" in page and "Laskar Pelangi" in page  # whose barcode it is
    r = post(client, f"{url}/copies", barcode=" E9 ", location_id=str(shelf["cabang"]), call_number="899 AND s")
    assert r.status_code == 303
    with app.app_context():
        item = db.session.scalar(select(Item).where(Item.barcode == "E9"))
        assert item.record_id == rid and item.location_id == shelf["cabang"] and item.status == "available"
        assert db.session.scalar(select(db.func.count(Item.id)).where(Item.barcode == "E1")) == 1
        e3 = db.session.scalar(select(Item.id).where(Item.barcode == "E3"))
    r = post(client, f"{url}/copies/{e3}", status="missing", location_id=str(shelf["cabang"]), call_number="X 1")
    assert r.status_code == 303
    with app.app_context():
        item = db.session.get(Item, e3)
        assert (item.status, item.location_id, item.call_number) == ("missing", shelf["cabang"], "X 1")
        assert {e.action for e in db.session.scalars(select(RecordEdit))} == {"add_copy", "edit_copy"}
    # the log names the changed copy fields by their labels, in the page's language, not by column names
    assert "Copy changed: E3: Status, Location, Call number" in flashes(client, url)
    assert "E3: Status, Location, Call number" in flashes(client, "/staff/records")  # latest changes
    indonesian = flashes(client, f"{url}?hl=id")
    assert "E3: Status, Lokasi, Nomor panggil" in indonesian and "call_number" not in indonesian.split('id="log"')[1]
    client.get(f"{url}?hl=en")
    # circulation's own statuses are not set by hand, and a copy of another record is not reachable here
    r = post(client, f"{url}/copies/{e3}", status="on_loan", location_id="", call_number="")
    assert "circulation sets it" in flashes(client, url)
    with app.app_context():
        assert db.session.get(Item, e3).status == "missing"
        e1 = db.session.scalar(select(Item.id).where(Item.barcode == "E1"))
    assert post(client, f"{url}/copies/{e1}", status="lost").status_code == 404
    # one copy withdrawn: patrons no longer see or count it, staff still do
    assert post(client, f"{url}/copies/{e3}", status="withdrawn", location_id="", call_number="").status_code == 303
    assert "E3" not in app.test_client().get(f"/record/{rid}").text and "E3" in client.get(f"/record/{rid}").text
    hit = search_api("pemimpi")["hits"][0]
    assert hit["availability"]["total"] == 1 and hit["availability"]["available"] == 1


def test_roles_csrf_and_get_only_reads(app, client, shelf, make_patron, login):
    rid = shelf["ids"][0]
    assert client.get(f"/staff/records/{rid}").status_code == 302  # anonymous: to the staff login
    _, card, pin = make_patron()
    login(card, pin)
    assert client.get(f"/staff/records/{rid}").status_code == 302  # a patron is not staff
    assert post(client, f"/staff/records/{rid}", title="Hacked").status_code == 302
    assert "/staff/records" not in client.get(f"/record/{rid}").text
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    user, password = "pustakawan", "correct-horse-battery"
    from opac.accounts.services import create_staff
    with app.test_request_context():
        create_staff(user, password, "Pustakawan", "librarian")
        db.session.commit()
    client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    r = client.post(f"/staff/records/{rid}", data={"title": "Tanpa token"})
    assert r.status_code == 400
    assert client.get(f"/staff/records/{rid}/delete").status_code == 405
    assert post(client, f"/staff/records/{rid}/delete", confirm="1").status_code == 403  # admins only
    assert "Delete record" not in client.get(f"/staff/records/{rid}").text
    with app.app_context():
        assert db.session.get(Record, rid).title == "Laskar Pelangi"


def test_withdraw_and_reinstate(app, client, shelf, librarian, search_api, make_patron):
    from opac.circulation import actions

    rid, other = shelf["ids"]
    _, card, _ = make_patron()
    with app.test_request_context():
        assert actions.checkout(card, "E3")["ok"]
    assert post(client, f"/staff/records/{other}/withdraw").status_code == 303
    assert "on loan (E3)" in flashes(client, f"/staff/records/{other}")

    with app.app_context():
        control = db.session.get(Record, rid).control_number
    assert f'action="/staff/records/{rid}/withdraw"' in client.get(f"/staff/records/{rid}").text
    assert post(client, f"/staff/records/{rid}/withdraw", reason="Rusak terkena banjir").status_code == 303
    page = client.get(f"/staff/records/{rid}").text
    assert "Withdrawn: Rusak terkena banjir" in page  # the reason, in the log
    assert "The record is withdrawn: patrons no longer find it" in page  # what was done
    with app.app_context():
        rec = db.session.get(Record, rid)
        assert rec.withdrawn_at is not None and {i.status for i in rec.items} == {"withdrawn"}
    assert search_api("laskar")["total"] == 0
    page = client.get(f"/staff/records/{rid}").text
    assert "Reinstate record" in page and "Add a copy" not in page
    assert f'action="/staff/records/{rid}/reinstate"' in page
    oai = client.get("/oai", query_string={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                           "identifier": f"oai:opac.test:{control}"}).text
    assert 'status="deleted"' in oai and "<metadata>" not in oai
    anonymous = app.test_client()
    assert anonymous.get(f"/record/{rid}").status_code == 404
    assert client.get(f"/record/{rid}").status_code == 200  # staff still see it

    assert post(client, f"/staff/records/{rid}/reinstate").status_code == 303
    assert "The record is back in the catalogue" in flashes(client, f"/staff/records/{rid}")
    assert search_api("laskar")["total"] == 1
    with app.app_context():
        assert {i.status for i in db.session.get(Record, rid).items} == {"available"}
    assert anonymous.get(f"/record/{rid}").status_code == 200


def test_admin_delete_is_refused_with_reasons_then_leaves_a_tombstone(app, client, shelf, make_admin, make_patron,
                                                                      search_api):
    from opac.circulation import actions

    rid, other = shelf["ids"]
    user, password, secret = make_admin()
    staff_login(client, app, user, password, secret)
    pid, card, _ = make_patron()
    with app.test_request_context():
        assert actions.checkout(card, "E3")["ok"]
        assert actions.place_hold(pid, rid, shelf["pusat"])["ok"]
    assert post(client, f"/staff/records/{other}/delete", confirm="1").status_code == 303
    assert "on loan (E3)" in flashes(client, f"/staff/records/{other}")
    assert post(client, f"/staff/records/{rid}/delete", confirm="1").status_code == 303
    assert "1 holds wait" in flashes(client, f"/staff/records/{rid}")
    with app.test_request_context():
        from opac.circulation.models import Hold

        db.session.scalar(select(Hold)).status = "cancelled"
        db.session.commit()
        control = db.session.get(Record, rid).control_number
    assert post(client, f"/staff/records/{rid}/delete").status_code == 303  # not confirmed
    assert "Tick the box" in flashes(client, f"/staff/records/{rid}")
    r = post(client, f"/staff/records/{rid}/delete", confirm="1")
    assert r.status_code == 303 and r.headers["Location"].endswith("/staff/records")
    with app.app_context():
        assert db.session.get(Record, rid) is None
        assert db.session.scalar(select(RecordTombstone).where(RecordTombstone.control_number == control))
        log = db.session.scalar(select(RecordEdit).where(RecordEdit.record_id == rid, RecordEdit.action == "delete"))
        assert log is not None and log.staff_id is not None  # the log outlives the record
    assert search_api("laskar")["total"] == 0
    assert control in client.get("/staff/records").text  # latest changes
