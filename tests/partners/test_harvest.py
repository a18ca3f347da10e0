"""Harvesting partner libraries into the union search: a SLiMS-style oai2.php (fixture files) and a
second instance of this app (its OAI-PMH provider, MARCXML), both on loopback."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opac.extensions import db
from opac.partners.models import Partner, PartnerRecord
from opac.partners.services import add_partner, find_partner, harvest_partner
from tests.conftest import apply_index_changes

from .fakes import FakeSlims, ServedApp

SLIMS_PAGE = "http://perpus.sman1.example.sch.id/index.php?p=show_detail&id={local}"
LASKAR = "9789793062792"


@pytest.fixture
def slims():
    fake = FakeSlims()
    yield fake
    fake.close()


def _add(app, name, url, **kw):
    with app.app_context():
        add_partner(name, url, **kw)
        db.session.commit()


def _harvest(app, name):
    with app.test_request_context():
        report = harvest_partner(find_partner(name), commit=db.session.commit)
        db.session.commit()
    apply_index_changes(app)
    return report


def _partner(app, name) -> Partner:
    with app.app_context():
        p = db.session.scalar(select(Partner).where(Partner.name == name))
        db.session.expunge(p)
        return p


def _counts(r):
    return (r.added, r.updated, r.deleted, len(r.failed))


def test_slims_partner_harvest_union_search_and_incremental(app, client, slims, make_record, search_api):
    ours = make_record(title="Laskar pelangi", isbns=[LASKAR], authors=[{"name": "Hirata, Andrea"}], items=["B1"])
    _add(app, "sman1", slims.url, display_name="Perpustakaan SMAN 1", record_url=SLIMS_PAGE)

    report = _harvest(app, "sman1")
    assert _counts(report) == (3, 0, 0, 1) and report.error is None
    assert report.failed == [("oai:slims/14", "no dc:title")]  # the broken record is named, the rest harvested
    assert _partner(app, "sman1").harvest_from == "2026-11-20"  # first responseDate, day granularity
    assert slims.list_requests()[0] == {"verb": "ListRecords", "metadataPrefix": "oai_dc"}

    ours_name = app.config["LIBRARY_NAME"]
    res = search_api("laskar pelangi")
    assert res["total"] == 1  # the same ISBN at two libraries: one result
    hit = res["hits"][0]
    assert hit["id"] == ours and hit["held_by"] == [ours_name, "Perpustakaan SMAN 1"]
    assert {v["value"]: v["count"] for v in res["facets"]["library"]} == {"local": 1, "sman1": 1}
    assert {v["label"] for v in res["facets"]["library"]} == {ours_name, "Perpustakaan SMAN 1"}

    theirs = search_api("laskar pelangi", library="sman1")
    assert theirs["total"] == 1 and theirs["hits"][0]["id"] < 0
    assert theirs["hits"][0]["held_by"] == ["Perpustakaan SMAN 1", ours_name]
    assert theirs["hits"][0]["url"] == SLIMS_PAGE.replace("{local}", "12")

    bumi = search_api("bumi manusia")["hits"][0]
    assert bumi["held_by"] == ["Perpustakaan SMAN 1"] and bumi["availability"] is None
    assert bumi["url"] == SLIMS_PAGE.replace("{local}", "15") and bumi["year"] == 1980
    assert search_api("bumi manusia", library="local")["total"] == 0

    html = client.get("/search", query_string={"q": "laskar pelangi"}).get_data(as_text=True)
    assert "Juga ada di Perpustakaan SMAN 1" in html and "<h2>Perpustakaan</h2>" in html
    html = client.get("/search", query_string={"q": "bumi manusia"}).get_data(as_text=True)
    partner_hit = html.split('class="hit hit-partner"')[1].split("</li>")[0]
    assert "Dimiliki oleh Perpustakaan SMAN 1" in partner_hit
    assert 'href="http://perpus.sman1.example.sch.id/index.php?p=show_detail&amp;id=15"' in partner_hit
    assert "hit-avail" not in partner_hit and "/record/" not in partner_hit  # no copies, no record page, no hold
    assert client.get(f"/record/{bumi['id']}").status_code == 404

    # incremental: only the changes since the stored datestamp; a deleted header removes the record
    report = _harvest(app, "sman1")
    assert slims.list_requests()[-1] == {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2026-11-20"}
    assert _counts(report) == (0, 1, 1, 0)
    assert search_api("bumi manusia")["total"] == 0
    assert search_api("edisi revisi")["hits"][0]["held_by"] == ["Perpustakaan SMAN 1"]
    assert _partner(app, "sman1").harvest_from == "2026-11-25"
    slims.state = "quiet"
    assert _counts(_harvest(app, "sman1")) == (0, 0, 0, 0)
    assert _partner(app, "sman1").harvest_from == "2026-11-26"

    app.config["UNION_SEARCH"] = False  # ours only: partners' records are not searched at all
    assert search_api("sejarah indonesia")["total"] == 0
    assert search_api("laskar", size=5)["hits"][0]["held_by"] == [ours_name]


def test_partner_down_is_retried_from_the_same_point(app, slims, search_api):
    _add(app, "sman1", slims.url)
    slims.state = "down"
    report = _harvest(app, "sman1")
    assert report.error and "503" in report.error and _counts(report) == (0, 0, 0, 0)
    p = _partner(app, "sman1")
    assert p.harvest_from is None and p.last_error == report.error and p.last_harvest_at is not None

    slims.state = "bad_token"  # page 1 arrives, page 2 fails: page 1 is kept, the position is not moved
    report = _harvest(app, "sman1")
    assert "badResumptionToken" in report.error and report.added == 2
    assert _partner(app, "sman1").harvest_from is None
    assert search_api("laskar pelangi")["total"] == 1

    slims.state = "ok"
    report = _harvest(app, "sman1")
    assert report.error is None and (report.added, report.unchanged, len(report.failed)) == (1, 2, 1)
    p = _partner(app, "sman1")
    assert p.harvest_from == "2026-11-20" and p.last_error is None
    assert "from" not in slims.list_requests()[-2]  # each retry started where the last complete harvest ended

    _add(app, "gone", "http://127.0.0.1:9/oai")  # nothing listens on the discard port
    report = _harvest(app, "gone")
    assert "cannot reach" in report.error


@pytest.fixture
def partner_app(tmp_path):
    """A second instance of this app (its own SQLite database) serving OAI-PMH on loopback."""
    from opac import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'partner.sqlite'}",
                        "INDEX_DIR": str(tmp_path / "partner-index"), "SECRET_KEY": "partner",
                        "BASE_URL": "https://kampus2.example.ac.id", "OAI_PAGE_SIZE": 2,
                        "INDEX_AUTO_REBUILD": False})
    with other.app_context():
        db.create_all()
    served = ServedApp(other)
    yield other, served.url
    served.close()
    with other.app_context():
        db.engine.dispose()


def _upsert(app, fields, system_number=None):
    """A record with an optional 035 in its MARC (what makes it the same book without an ISBN)."""
    from pymarc import Field, Subfield

    from opac.catalog.marc import fields_to_marc, to_iso2709
    from opac.catalog.services import upsert_record

    base = {"authors": [], "subjects": [], "languages": ["ind"], "isbns": [], "issns": [], "series": [], "notes": [],
            "links": [], "material_type": "book", "items": []}
    base.update(fields)
    marc = fields_to_marc(base)
    if system_number:
        marc.add_ordered_field(Field(tag="035", indicators=[" ", " "], subfields=[Subfield("a", system_number)]))
    with app.test_request_context():
        record, *_ = upsert_record(base, marc=to_iso2709(marc))
        db.session.commit()
        return record.id


def test_second_instance_over_marc21(app, partner_app, search_api):
    other, url = partner_app
    ours_name = app.config["LIBRARY_NAME"]
    laskar = _upsert(app, {"control_number": "A1", "title": "Laskar pelangi", "isbns": [LASKAR]})
    ronggeng = _upsert(app, {"control_number": "A2", "title": "Ronggeng dukuh paruk"}, "(OCoLC)55555")
    apply_index_changes(app)
    gone = _upsert(other, {"control_number": "K-1", "title": "Laskar pelangi", "isbns": [LASKAR]})
    _upsert(other, {"control_number": "K-2", "title": "Ronggeng Dukuh Paruk"}, "(OCoLC)ocm00055555")
    _upsert(other, {"control_number": "K-3", "title": "Cantik itu luka", "year": 2002,
                             "authors": [{"name": "Kurniawan, Eka", "role": "author", "kind": "person"}]})

    _add(app, "kampus2", url + "/oai", prefix="marc21", display_name="Perpustakaan Kampus 2",
         record_url="https://kampus2.example.ac.id/search?q=control:{local}")
    report = _harvest(app, "kampus2")
    assert _counts(report) == (3, 0, 0, 0) and report.error is None
    assert _partner(app, "kampus2").granularity == "YYYY-MM-DDThh:mm:ssZ"

    for q, rid in (("laskar pelangi", laskar), ("ronggeng dukuh paruk", ronggeng)):  # ISBN, then 035
        res = search_api(q)
        assert res["total"] == 1 and res["hits"][0]["id"] == rid
        assert res["hits"][0]["held_by"] == [ours_name, "Perpustakaan Kampus 2"]
    cantik = search_api("cantik itu luka")["hits"][0]
    assert cantik["held_by"] == ["Perpustakaan Kampus 2"] and cantik["authors"] == ["Kurniawan, Eka"]
    assert cantik["url"] == "https://kampus2.example.ac.id/search?q=control:K-3"

    from opac.catalog.models import Record
    from opac.catalog.services import delete_record

    _upsert(other, {"control_number": "K-3", "title": "Cantik itu luka (cetak ulang)", "year": 2002})  # re-imported
    with other.test_request_context():
        delete_record(db.session.get(Record, gone))
        db.session.commit()
    report = _harvest(app, "kampus2")
    assert _counts(report) == (0, 1, 1, 0)
    assert search_api("laskar pelangi")["hits"][0]["held_by"] == [ours_name]
    assert search_api("cetak ulang")["total"] == 1
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(PartnerRecord)) == 2
