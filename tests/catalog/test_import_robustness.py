"""One bad line, row or record never stops an import: the command line and the staff upload
report it with its number and keep every good record."""

from __future__ import annotations

import io
import json

import pytest
from pymarc import Field, Record, Subfield
from sqlalchemy import select

from opac.catalog.models import Item
from opac.catalog.models import Record as CatalogRecord
from opac.extensions import db
from tests.cli_helpers import prod_env, run_cli
from tests.conftest import csrf_token

ISBN = 9780306406157  # a valid ISBN-13 written as a JSON number

JSONL_LINES = [
    {"control_number": "J1", "title": "Angka ISBN", "isbn": ISBN, "year": 2001},
    {"control_number": "J2", "title": "Pengarang angka", "authors": 42},
    "",
    {"control_number": "J3", "title": "Catatan boolean", "notes": True},
    {"control_number": 4, "title": 1984, "barcodes": 12345, "call_number": 823.914},
    {"control_number": "J5", "title": "Eksemplar salah", "items": 3},
    {"control_number": "J6", "title": "Baik", "authors": ["Pramoedya Ananta Toer"], "subjects": "Sejarah"},
]


def jsonl_bytes() -> bytes:
    return "\n".join(json.dumps(x) if x != "" else "" for x in JSONL_LINES).encode()


def csv_bytes() -> bytes:
    big = "x" * (130 * 1024)
    return (f"control_number,title,summary\nC1,Satu,pendek\nC2,Dua,{big}\nC3,Tiga,\"dua\nbaris\"\n").encode()


def marc_bytes() -> bytes:
    out = b""
    for control, title in (("M1", "Utuh"), ("M2", "Direktori rusak"), ("M3", "Juga utuh")):
        rec = Record(force_utf8=True)
        rec.add_field(Field(tag="001", data=control))
        rec.add_field(Field(tag="035", indicators=[" ", " "], subfields=[Subfield("a", f"(OCoLC){control}")]))
        rec.add_field(Field(tag="245", indicators=["0", "0"], subfields=[Subfield("a", title)]))
        raw = bytearray(rec.as_marc())
        if control == "M2":
            raw[24 + 7 : 24 + 12] = b"99999"  # the 001 directory entry points past the end
        out += bytes(raw)
    return out


def _check_database(app):
    with app.app_context():
        rows = {r.control_number: r for r in db.session.scalars(select(CatalogRecord))}
        assert set(rows) == {"J1", "4", "J6", "C1", "C3", "M1", "(OCoLC)M2", "M3"}, sorted(rows)
        assert rows["J1"].isbns == ["9780306406157"] and rows["J1"].year == 2001
        assert rows["4"].title == "1984" and rows["4"].call_number == "823.914"
        assert db.session.scalar(select(Item.barcode).where(Item.record_id == rows["4"].id)) == "12345"
        assert rows["C3"].summary == "dua baris"


def test_import_command_reports_bad_lines_and_keeps_the_good_ones(app, tmp_path):
    with app.app_context():
        db.engine.dispose()
    env = prod_env(tmp_path / "cli", database_url=app.config["SQLALCHEMY_DATABASE_URI"],
                   index_dir=app.config["INDEX_DIR"])
    files = {"books.jsonl": jsonl_bytes(), "books.csv": csv_bytes(), "books.mrc": marc_bytes()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    proc = run_cli(env, "import", *(str(tmp_path / n) for n in files))
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    # JSON lines: numbered by line (line 3 is blank), numbers turned into text, wrong types reported
    assert "Imported 3 / updated 0 / unchanged 0 / skipped 3" in out, out
    assert 'skipped record 2: line is not a usable record ("authors" must be text or a list of text, not a number)' in out
    assert 'skipped record 4: line is not a usable record ("notes" must be text or a list of text, not true/false)' in out
    assert 'skipped record 6: line is not a usable record ("items" must be a list of objects, not a number)' in out
    # CSV: the row with a field over 128 KB is reported, the rows after it are read
    assert "Imported 2 / updated 0 / unchanged 0 / skipped 1" in out
    assert "skipped record 2: field 'summary' is longer than 128 KB" in out
    # MARC: the record whose 001 lies past the end is kept under its 035, with warnings
    assert "Imported 3 / updated 0 / unchanged 0 / skipped 0" in out
    assert "record 2: field 001 lies past the end of the record" in out
    assert "record 2: no control number (001): (OCoLC)M2 from 035 used" in out
    _check_database(app)


@pytest.fixture
def staff_client(app, client, make_admin):
    from ..conftest import staff_login

    user, password, secret = make_admin()  # bulk imports are an admin's action
    staff_login(client, app, user, password, secret)
    return client


def test_staff_upload_reports_bad_lines_and_keeps_the_good_ones(app, staff_client):
    pages = {}
    for name, data in (("books.jsonl", jsonl_bytes()), ("books.csv", csv_bytes()), ("books.mrc", marc_bytes())):
        r = staff_client.post("/staff/import?hl=en", data={"csrf_token": csrf_token(staff_client),
                                                     "file": (io.BytesIO(data), name)},
                              content_type="multipart/form-data")
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        pages[name] = r.get_data(as_text=True)
    assert "&#34;authors&#34; must be text or a list of text, not a number" in pages["books.jsonl"]
    assert "Record 4:" in pages["books.jsonl"] and "true/false" in pages["books.jsonl"]
    assert "Record 2:" in pages["books.csv"] and "longer than 128 KB" in pages["books.csv"]
    assert "field 001 lies past the end of the record" in pages["books.mrc"]
    _check_database(app)
