"""The record page: copies, links, citations, exports, share and preview metadata."""

from __future__ import annotations

import json
import re

import pytest

from opac.catalog import citation
from tests.conftest import csrf_token


@pytest.fixture
def laskar(load_records):
    [rid, other, third] = load_records([
        dict(title="Laskar Pelangi", subtitle="sebuah novel", authors=["Hirata, Andrea"], year=2005, edition="Cet. 1",
             publisher="Bentang Pustaka", place="Yogyakarta", subjects=["Fiksi Indonesia -- Novel", "Belitung"],
             isbns=["9789793062792"], call_number="899.221 3 HIR l", summary="Sepuluh anak Belitung.",
             items=[{"barcode": "RP1", "location": "PUSAT"}, {"barcode": "RP2", "location": "FKIP", "status": "missing"}]),
        dict(title="Sang Pemimpi", authors=["Hirata, Andrea"], year=2006, subjects=["Fiksi Indonesia -- Novel"]),
        dict(title="Edensor", authors=["Hirata, Andrea"], year=2007, subjects=["Fiksi Indonesia"]),
    ])
    return rid


def test_record_page_shows_everything(client, laskar):
    page = client.get(f"/record/{laskar}").get_data(as_text=True)
    assert "<h1>Laskar Pelangi" in page
    from urllib.parse import parse_qs, urlsplit

    links = [parse_qs(urlsplit(h).query).get("q", [""])[0] for h in re.findall(r'href="(/search\?[^"]+)"', page)]
    links = [x.replace("&#34;", '"') for x in links]
    assert 'author:"Hirata, Andrea"' in links and 'subject:"Fiksi Indonesia"' in links
    for text in ("Cet. 1", "Bentang Pustaka", "2005", "9789793062792", "899.221 3 HIR l", "Sepuluh anak Belitung."):
        assert text in page
    # every copy with location, call number and status
    assert "Perpustakaan Pusat" not in page  # locations created by import carry their code as name
    assert page.count('class="copy status-') == 2
    assert "RP1" in page and "RP2" in page and "status-missing" in page
    # more like this: the other Hirata novels
    assert "Sang Pemimpi" in page and "Edensor" in page
    # share: WhatsApp link and Web Share button
    assert "https://wa.me/?text=" in page and "data-share" in page
    # generated cover placeholder
    assert f'/cover/{laskar}.svg' in page


def test_jsonld_and_open_graph(client, laskar):
    page = client.get(f"/record/{laskar}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["@type"] == "Book" and data["name"] == "Laskar Pelangi: sebuah novel"
    assert data["author"] == [{"@type": "Person", "name": "Hirata, Andrea"}] and data["isbn"] == "9789793062792"
    assert '<meta property="og:title" content="Laskar Pelangi: sebuah novel">' in page
    assert 'property="og:url" content="https://opac.test/record/' in page


def test_citations():
    class R:
        title, subtitle, edition, publisher, place, year = "Laskar pelangi", None, None, "Bentang Pustaka", "Yogyakarta", 2005
        authors = [{"name": "Hirata, Andrea", "role": "author"}]
        material_type, isbns, subjects, languages, call_number, summary, control_number = "book", [], [], [], None, None, "1"

    assert str(citation.apa(R)) == "Hirata, A. (2005). <i>Laskar pelangi</i>. Bentang Pustaka."
    assert str(citation.mla(R)) == "Hirata, Andrea. <i>Laskar pelangi</i>. Bentang Pustaka, 2005."
    assert str(citation.chicago(R)) == "Hirata, Andrea. <i>Laskar pelangi</i>. Yogyakarta: Bentang Pustaka, 2005."
    R.authors = [{"name": "Dimyati", "role": "author"}, {"name": "Mudjiono", "role": "author"}]
    assert str(citation.apa(R)) == "Dimyati &amp; Mudjiono (2005). <i>Laskar pelangi</i>. Bentang Pustaka."
    R.authors = [{"name": "Hirata, Andrea", "role": "author"}, {"name": "Toer, Pramoedya Ananta", "role": "author"}]
    assert str(citation.apa(R)).startswith("Hirata, A., &amp; Toer, P. A. (2005).")


def test_ris_and_bibtex_downloads(client, laskar):
    r = client.get(f"/record/{laskar}/cite.ris")
    assert r.mimetype == "application/x-research-info-systems"
    body = r.get_data(as_text=True)
    assert body.startswith("TY  - BOOK") and "AU  - Hirata, Andrea" in body and "PY  - 2005" in body and body.rstrip().endswith("ER  -")
    r = client.get(f"/record/{laskar}/cite.bib")
    bib = r.get_data(as_text=True)
    assert bib.startswith("@book{hirata2005laskar,") and "author = {Hirata, Andrea}" in bib
    assert "attachment" in r.headers["Content-Disposition"]
    assert client.get(f"/record/{laskar}/marc.xml").get_data(as_text=True).count("<record") == 1


def test_cover_placeholder_is_svg_and_escapes(client, load_records):
    [rid] = load_records([dict(title="<b>&\"Tricky\"</b>", authors=["O'Neil, X"])])
    r = client.get(f"/cover/{rid}.svg")
    assert r.mimetype == "image/svg+xml"
    svg = r.get_data(as_text=True)
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert client.get(f"/cover/{rid}.svg", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


@pytest.fixture
def statements(app):
    """The SQL statements the app sends while the test runs (BEGIN and the like left out)."""
    from sqlalchemy import event

    from opac.extensions import db

    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if statement.split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_public_records_cover_loads_no_visitor(app, client, load_records, make_patron, make_staff, login,
                                                  statements):
    """A page of results shows a cover per hit: drawing one asks nothing of the session, even for a
    logged-in patron; a record patrons may not reach still asks who is looking (staff see it)."""
    from sqlalchemy import update

    from opac.catalog.models import Record
    from opac.extensions import db
    from tests.conftest import staff_login

    [public, hidden] = load_records([dict(title="Laskar Pelangi"), dict(title="Arsip Tersembunyi")])
    with app.app_context():
        db.session.execute(update(Record).where(Record.id == hidden).values(hidden=True))
        db.session.commit()
    _, card, pin = make_patron()
    login(card, pin)
    assert client.get_cookie("opac_patron")  # the app script's patron flag goes with every request
    statements.clear()
    assert client.get(f"/cover/{public}.svg").status_code == 200
    print(f"statements per public cover, patron logged in: {len(statements)}: {statements}")
    assert len(statements) == 1 and "FROM record" in statements[0], statements
    statements.clear()
    assert client.get(f"/cover/{hidden}.svg").status_code == 404
    assert any("FROM auth_session" in s for s in statements), statements
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    staff_login(client, app, *make_staff())
    assert client.get(f"/cover/{hidden}.svg").status_code == 200


def test_missing_record_is_404(client):
    assert client.get("/record/999999").status_code == 404
    assert client.get("/record/99999999999999999999999").status_code == 404
    assert client.get("/record/2147483648").status_code == 404  # past a PostgreSQL INTEGER
    assert client.get("/record/abc").status_code == 404


def test_api_record_with_items(client, laskar):
    data = client.get(f"/api/v1/records/{laskar}").get_json()
    assert data["title"] == "Laskar Pelangi" and len(data["items"]) == 2
    assert {i["status"] for i in data["items"]} == {"available", "missing"}
