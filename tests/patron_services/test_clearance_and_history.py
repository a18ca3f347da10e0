"""Clearance letters ("surat bebas pustaka") and the loan history as RIS."""

from __future__ import annotations

from sqlalchemy import select, update

from opac.catalog.models import Record, utcnow
from opac.circulation import actions
from opac.circulation.models import Fine
from opac.extensions import db
from opac.patron_services.models import ClearanceLetter
from tests.conftest import csrf_token, staff_login


def _post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def test_clearance_refused_while_the_patron_owes_something(app, client, make_patron, make_record, login):
    make_record(title="Dipinjam", items=[{"barcode": "CL1"}])
    pid, card, pin = make_patron()
    with app.test_request_context():
        assert actions.checkout(card, "CL1")["ok"]
    login(card, pin)
    account = client.get("/account").get_data(as_text=True)
    assert "/account/clearance" in account and "/suggestions" in account and "/lists" in account
    page = client.get("/account/clearance").get_data(as_text=True)
    assert "Mohon kembalikan 1 eksemplar" in page
    r = _post(client, "/account/clearance")
    assert r.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(ClearanceLetter)) is None
    with app.test_request_context():
        assert actions.checkin("CL1")["ok"]
        db.session.add(Fine(patron_id=pid, amount=5000, reason="Terlambat"))
        db.session.commit()
    _post(client, "/account/clearance")
    with app.app_context():
        assert db.session.scalar(select(ClearanceLetter)) is None
    assert "Rp 5.000" in client.get("/account/clearance").get_data(as_text=True)


def test_letter_printable_verifiable_and_revocable(app, client, make_patron, make_staff, login):
    pid, card, pin = make_patron(name="Siti Aminah")
    login(card, pin)
    r = _post(client, "/account/clearance")
    assert r.status_code == 303 and "/account/clearance/" in r.headers["Location"]
    letter_page = client.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        letter = db.session.scalar(select(ClearanceLetter))
        token, lid = letter.token, letter.id
    assert len(token) >= 32 and "<svg" in letter_page and f"https://opac.test/clearance/{token}" in letter_page
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    check = client.get(f"/clearance/{token}").get_data(as_text=True)
    assert "Siti Aminah" in check and card in check and "Berlaku" in check
    assert client.get("/clearance/guessed-token").status_code == 404
    # another patron cannot open this letter by id
    _, card_b, pin_b = make_patron()
    login(card_b, pin_b)
    assert client.get(f"/account/clearance/{lid}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    staff_login(client, app, *make_staff())
    _post(client, f"/staff/clearances/{lid}/revoke", reason="Buku belum dikembalikan")
    assert "Dicabut" in client.get(f"/clearance/{token}").get_data(as_text=True)


def _keep_history(app, *ids):
    from opac.accounts.models import Patron

    with app.app_context():
        for pid in ids:
            db.session.get(Patron, pid).keep_history = True
        db.session.commit()


def test_history_as_ris(app, client, make_patron, make_record, login):
    make_record(title="Laskar Pelangi", authors=[{"name": "Hirata, Andrea", "role": "author", "kind": "person"}],
                year=2005, items=[{"barcode": "H1"}])
    pid, card, pin = make_patron()
    _keep_history(app, pid)
    with app.test_request_context():
        assert actions.checkout(card, "H1")["ok"]
        assert actions.checkin("H1")["ok"]
        assert actions.checkout(card, "H1")["ok"]
    login(card, pin)
    assert "/account/history.ris" in client.get("/account/history").get_data(as_text=True)
    r = client.get("/account/history.ris")
    body = r.get_data(as_text=True)
    assert r.mimetype == "application/x-research-info-systems"
    assert body.count("TY  - BOOK") == 1  # each title once
    assert "TI  - Laskar Pelangi" in body and "AU  - Hirata, Andrea" in body and "PY  - 2005" in body


def test_history_links_only_records_patrons_can_still_open(app, client, make_patron, make_record, login):
    shown = make_record(title="Laskar Pelangi", items=[{"barcode": "HV1"}])
    hidden = make_record(title="Naskah Tersembunyi", items=[{"barcode": "HV2"}])
    withdrawn = make_record(title="Buku Ditarik", items=[{"barcode": "HV3"}])
    pid, card, pin = make_patron()
    _keep_history(app, pid)
    with app.test_request_context():
        for barcode in ("HV1", "HV2", "HV3"):
            assert actions.checkout(card, barcode)["ok"] and actions.checkin(barcode)["ok"]
    with app.app_context():
        db.session.execute(update(Record).where(Record.id == hidden).values(hidden=True))
        db.session.execute(update(Record).where(Record.id == withdrawn).values(withdrawn_at=utcnow()))
        db.session.commit()
    login(card, pin)
    page = client.get("/account/history").get_data(as_text=True)
    assert f'href="/record/{shown}"' in page
    for rid, title in ((hidden, "Naskah Tersembunyi"), (withdrawn, "Buku Ditarik")):
        assert client.get(f"/record/{rid}").status_code == 404  # a link would lead nowhere
        assert f"/record/{rid}" not in page and title in page
    assert page.count("Tidak lagi ada di katalog.") == 2
    assert client.get("/account/history?hl=en").get_data(as_text=True).count("No longer in the catalogue.") == 2


def test_history_ris_is_only_the_patrons_own(app, client, make_patron, make_record, login):
    make_record(title="Milik orang lain", items=[{"barcode": "H2"}])
    pid_b, card_b, _ = make_patron()
    pid_a, card_a, pin_a = make_patron()
    _keep_history(app, pid_a, pid_b)
    with app.test_request_context():
        assert actions.checkout(card_b, "H2")["ok"]
    login(card_a, pin_a)
    assert client.get("/account/history.ris").get_data(as_text=True) == ""
