"""A patron's own lists (private or shared read-only by link) and course reading lists."""

from __future__ import annotations

from sqlalchemy import select

from opac.extensions import db
from opac.patron_services.models import ReadingList, ReadingListEntry
from tests.conftest import csrf_token, staff_login


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def test_make_a_list_from_the_record_page_add_remove(app, client, make_patron, make_record, login):
    rid = make_record(title="Ronggeng Dukuh Paruk", items=[{"barcode": "L1"}])
    _, card, pin = make_patron()
    login(card, pin)
    assert "Tambahkan ke daftar saya" in client.get(f"/record/{rid}").get_data(as_text=True)
    r = _post(client, "/lists", name="Skripsi", record_id=str(rid))
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/record/{rid}/lists")
    with app.app_context():
        rl = db.session.scalar(select(ReadingList))
        assert [e.record_id for e in rl.entries] == [rid]
    page = client.get(f"/lists/{rl.id}").get_data(as_text=True)
    assert "Ronggeng Dukuh Paruk" in page and "1 dari 1 eksemplar tersedia" in page
    _post(client, f"/record/{rid}/lists", list_id=str(rl.id))  # twice: still one entry
    _post(client, f"/lists/{rl.id}/remove", record_id=str(rid), back="record")
    with app.app_context():
        assert db.session.scalar(select(ReadingListEntry)) is None


def test_shared_link_is_read_only_and_dies_when_private(app, client, make_patron, make_record, login):
    rid = make_record(title="Cantik Itu Luka")
    _, card, pin = make_patron()
    login(card, pin)
    _post(client, "/lists", name="Untuk teman", record_id=str(rid))
    with app.app_context():
        lid = db.session.scalar(select(ReadingList.id))
    _post(client, f"/lists/{lid}/share", shared="1")
    with app.app_context():
        token = db.session.get(ReadingList, lid).share_token
    assert token and len(token) >= 32
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    page = client.get(f"/lists/shared/{token}")
    assert page.status_code == 200 and "Cantik Itu Luka" in page.get_data(as_text=True)
    assert 'name="csrf_token"' not in page.get_data(as_text=True)  # nothing to change there
    assert client.get("/lists/shared/guess").status_code == 404
    login(card, pin)
    _post(client, f"/lists/{lid}/share", shared="0")
    assert client.get(f"/lists/shared/{token}").status_code == 404


def test_another_patrons_list_is_404(app, client, make_patron, make_record, login, api):
    rid = make_record(title="Buku")
    _, card_a, pin_a = make_patron()
    _, card_b, pin_b = make_patron()
    login(card_b, pin_b)
    _post(client, "/lists", name="Milik B")
    with app.app_context():
        lid = db.session.scalar(select(ReadingList.id))
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(card_a, pin_a)
    assert client.get(f"/lists/{lid}").status_code == 404
    assert client.get(f"/api/v1/lists/{lid}").status_code == 404
    assert api.post(f"/api/v1/lists/{lid}/entries", json={"record_id": rid}).status_code == 404
    assert _post(client, f"/lists/{lid}/delete").status_code == 404
    assert _post(client, f"/lists/{lid}/share", shared="1").status_code == 404
    assert _post(client, f"/record/{rid}/lists", list_id=str(lid)).status_code == 404
    with app.app_context():
        rl = db.session.get(ReadingList, lid)
        assert rl.entries == [] and rl.share_token is None
    assert client.get("/api/v1/lists").get_json()["lists"] == []


def test_list_api(app, client, make_patron, make_record, login, api):
    rid = make_record(title="Negeri 5 Menara", items=[{"barcode": "N5"}])
    _, card, pin = make_patron()
    login(card, pin)
    r = api.post("/api/v1/lists", json={"name": "Bacaan"})
    assert r.status_code == 201
    lid = r.get_json()["list"]["id"]
    body = api.post(f"/api/v1/lists/{lid}/entries", json={"record_id": rid}).get_json()
    assert body["list"]["entries"][0] == {"record_id": rid, "title": "Negeri 5 Menara", "author": None, "note": None,
                                          "available": 1, "total": 1}
    r = api.post(f"/api/v1/lists/{lid}/entries", json={"record_id": 999999})
    assert r.status_code == 409 and r.get_json()["error"] == "record_missing"
    assert api.post(f"/api/v1/lists/{lid}/entries/{rid}/remove").get_json()["removed"] is True
    r = api.post("/api/v1/lists", json={"name": "MK", "kind": "course", "course_code": "IF101", "course_name": "Alpro"})
    assert r.status_code == 409 and r.get_json()["error"] == "not_lecturer"  # a student cannot


def test_course_reading_lists_by_lecturer_and_staff(app, client, make_patron, make_record, make_staff, login):
    rid = make_record(title="Pengantar Algoritma", items=[{"barcode": "C1"}, {"barcode": "C2", "status": "on_loan"}])
    _, card, pin = make_patron(category="lecturer")
    login(card, pin)
    assert "untuk dosen" in client.get("/lists").get_data(as_text=True)
    _post(client, "/lists", name="Bacaan wajib", kind="course", course_code="if101", course_name="Algoritma",
          record_id=str(rid))
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    page = client.get("/reading-lists?q=IF1").get_data(as_text=True)
    assert "IF101" in page and "Algoritma" in page
    with app.app_context():
        lid = db.session.scalar(select(ReadingList.id).where(ReadingList.kind == "course"))
    page = client.get(f"/reading-lists/{lid}").get_data(as_text=True)
    assert "Pengantar Algoritma" in page and "1 dari 2 eksemplar tersedia" in page
    staff_login(client, app, *make_staff())
    _post(client, "/staff/reading-lists", course_code="SI201", course_name="Basis Data")
    with app.app_context():
        sid = db.session.scalar(select(ReadingList.id).where(ReadingList.course_code == "SI201"))
    _post(client, f"/staff/reading-lists/{sid}/entries", record_id=str(rid))
    with app.app_context():
        assert [e.record_id for e in db.session.get(ReadingList, sid).entries] == [rid]
    assert "SI201" in client.get("/reading-lists").get_data(as_text=True)
