"""OAI-PMH protocol responses through the test client: every verb, every error code, structure."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import select, update

from opac.catalog.models import Record, RecordTombstone, utcnow
from opac.extensions import db

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/", "m": "http://www.loc.gov/MARC21/slim",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
OAI = "{http://www.openarchives.org/OAI/2.0/}"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
VERB_ELEMENTS = {"Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers", "ListRecords"}


@pytest.fixture
def app_config():
    return {"OAI_PAGE_SIZE": 2}


def check_structure(root) -> None:
    """The shape of OAI-PMH.xsd: OAIPMHtype's sequence, header and record content, namespaces."""
    assert root.tag == OAI + "OAI-PMH"
    assert root.get(f"{{{NS['xsi']}}}schemaLocation") == (
        "http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    children = list(root)
    assert children[0].tag == OAI + "responseDate" and STAMP.match(children[0].text)
    assert children[1].tag == OAI + "request" and children[1].text.startswith("https://opac.test/oai")
    rest = children[2:]
    if rest[0].tag == OAI + "error":
        assert all(c.tag == OAI + "error" and c.get("code") for c in rest)
        return
    assert len(rest) == 1 and rest[0].tag.removeprefix(OAI) in VERB_ELEMENTS
    assert rest[0].tag.removeprefix(OAI) == children[1].get("verb")
    for header in root.iter(OAI + "header"):
        tags = [c.tag.removeprefix(OAI) for c in header]
        assert tags[:2] == ["identifier", "datestamp"] and set(tags[2:]) <= {"setSpec"}
        assert STAMP.match(header[1].text)
        assert header.get("status") in (None, "deleted")
    for record in root.iter(OAI + "record"):
        tags = [c.tag.removeprefix(OAI) for c in record]
        deleted = record[0].get("status") == "deleted"
        assert tags == (["header"] if deleted else ["header", "metadata"])
        if not deleted:
            assert len(record[1]) == 1  # exactly one metadata root element, in its own namespace
            assert etree.QName(record[1][0]).namespace in (NS["oai_dc"], NS["m"])
    for token in root.iter(OAI + "resumptionToken"):
        assert token.getparent().tag in (OAI + "ListRecords", OAI + "ListIdentifiers")
        assert token is token.getparent()[-1]


def oai(client, method="get", **params):
    if method == "post":
        r = client.post("/oai", data=params)
    else:
        r = client.get("/oai", query_string=params)
    assert r.status_code == 200
    assert r.mimetype == "text/xml"
    root = etree.fromstring(r.data)
    check_structure(root)
    return root


def error_code(root) -> str | None:
    err = root.find("o:error", NS)
    return err.get("code") if err is not None else None


@pytest.fixture
def catalogue(app, make_record):
    ids = [
        make_record(title="Laskar Pelangi", authors=[{"name": "Hirata, Andrea", "role": "author"}], year=2005,
                    isbns=["9789793062792"], publisher="Bentang", items=[{"barcode": "A1", "location": "PUSAT"}]),
        make_record(title="Bumi Manusia", authors=[{"name": "Toer, Pramoedya Ananta", "role": "author"}],
                    items=[{"barcode": "A2", "location": "FKIP", "collection": "REF"}]),
        make_record(title="Skripsi Ekonomi", material_type="thesis", items=[{"barcode": "A3", "location": "PUSAT"}]),
        make_record(title="Peta Jawa", material_type="map"),
        make_record(title="Ronggeng Dukuh Paruk\x01", material_type="book"),
    ]
    with app.app_context():
        base = utcnow() - timedelta(hours=2)
        for n, rid in enumerate(ids):
            db.session.execute(update(Record).where(Record.id == rid).values(updated_at=base + timedelta(seconds=n)))
        db.session.commit()
        controls = [db.session.get(Record, rid).control_number for rid in ids]
    return {"ids": ids, "controls": controls}


def identifiers(root) -> list[str]:
    return [e.text for e in root.iterfind(".//o:header/o:identifier", NS)]


def test_identify_names_the_library_and_policies(client, catalogue):
    root = oai(client, verb="Identify")
    ident = root.find("o:Identify", NS)
    assert ident.findtext("o:repositoryName", namespaces=NS) == "Perpustakaan Nusantara"
    assert ident.findtext("o:baseURL", namespaces=NS) == "https://opac.test/oai"
    assert ident.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert ident.findtext("o:adminEmail", namespaces=NS) == "perpustakaan@example.org"
    assert ident.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert ident.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    earliest = ident.findtext("o:earliestDatestamp", namespaces=NS)
    with client.application.app_context():
        first = db.session.scalar(select(Record.updated_at).order_by(Record.updated_at))
    assert earliest == first.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_admin_email_can_be_set(app, client):
    app.config["OAI_ADMIN_EMAIL"] = "oai@perpus.example.ac.id"
    root = oai(client, verb="Identify")
    assert root.findtext(".//o:adminEmail", namespaces=NS) == "oai@perpus.example.ac.id"


def test_list_metadata_formats_and_sets(client, catalogue):
    root = oai(client, verb="ListMetadataFormats")
    assert [e.text for e in root.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "marc21"]
    root = oai(client, verb="ListMetadataFormats", identifier=f"oai:opac.test:{catalogue['controls'][0]}")
    assert len(root.findall(".//o:metadataFormat", NS)) == 2
    specs = [e.text for e in oai(client, verb="ListSets").iterfind(".//o:setSpec", NS)]
    for spec in ("type", "location", "collection", "type:book", "type:thesis", "type:map", "location:PUSAT",
                 "location:FKIP", "collection:REF"):
        assert spec in specs


def set_names(client) -> dict[str, str]:
    return {s.findtext("o:setSpec", namespaces=NS): s.findtext("o:setName", namespaces=NS)
            for s in oai(client, verb="ListSets").iterfind(".//o:set", NS)}


def test_set_names_are_the_catalogues_labels_in_the_librarys_default_language(app, client, catalogue, monkeypatch):
    names = set_names(client)
    assert (names["type"], names["location"], names["collection"]) == ("Jenis bahan", "Lokasi", "Koleksi")
    assert (names["type:book"], names["type:thesis"], names["type:map"]) == ("Buku", "Skripsi/Tesis", "Peta")
    # a visitor's language never changes a harvest
    client.set_cookie("lang", "en")
    assert set_names(client) == names
    # a library whose default language is English gets the labels' English
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    client.set_cookie("lang", "id")
    names = set_names(client)
    assert (names["type"], names["collection"], names["type:book"], names["type:thesis"]) == (
        "Material type", "Collection", "Book", "Thesis")


def test_full_list_in_pages_with_tokens_every_record_once(client, catalogue):
    seen, tokens = [], []
    root = oai(client, verb="ListRecords", metadataPrefix="oai_dc")
    while True:
        seen += identifiers(root)
        token = root.find(".//o:resumptionToken", NS)
        if token is None or not token.text:
            if token is not None:
                assert token.get("completeListSize") == "5"
            break
        assert token.get("completeListSize") == "5"
        assert STAMP.match(token.get("expirationDate"))
        assert token.get("cursor") == str(len(seen) - 2)
        tokens.append(token.text)
        root = oai(client, verb="ListRecords", resumptionToken=token.text)
    assert len(tokens) == 2
    assert seen == [f"oai:opac.test:{c}" for c in catalogue["controls"]]


def test_dublin_core_and_marcxml_content(client, catalogue):
    ident = f"oai:opac.test:{catalogue['controls'][0]}"
    root = oai(client, verb="GetRecord", identifier=ident, metadataPrefix="oai_dc")
    dc = root.find(".//oai_dc:dc", NS)
    assert dc.findtext("dc:title", namespaces=NS) == "Laskar Pelangi"
    assert dc.findtext("dc:creator", namespaces=NS) == "Hirata, Andrea"
    assert dc.findtext("dc:date", namespaces=NS) == "2005"
    assert f"https://opac.test/record/{catalogue['ids'][0]}" in [e.text for e in dc.iterfind("dc:identifier", NS)]
    assert "urn:isbn:9789793062792" in [e.text for e in dc.iterfind("dc:identifier", NS)]
    assert [e.text for e in root.iterfind(".//o:setSpec", NS)] == ["type:book", "location:PUSAT"]
    root = oai(client, verb="GetRecord", identifier=ident, metadataPrefix="marc21")
    marc = root.find(".//m:record", NS)
    assert marc.find("m:controlfield[@tag='001']", NS).text == catalogue["controls"][0]
    assert "Laskar Pelangi" in marc.find("m:datafield[@tag='245']/m:subfield[@code='a']", NS).text
    # a control character in the data does not break the document
    oai(client, verb="GetRecord", identifier=f"oai:opac.test:{catalogue['controls'][4]}", metadataPrefix="marc21")


def test_sets_and_dates_select(client, catalogue):
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="location:PUSAT")
    assert identifiers(root) == [f"oai:opac.test:{catalogue['controls'][i]}" for i in (0, 2)]
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="type:thesis")
    assert identifiers(root) == [f"oai:opac.test:{catalogue['controls'][2]}"]
    with client.application.app_context():
        stamps = [db.session.get(Record, i).updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") for i in catalogue["ids"]]
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": stamps[3]})
    assert identifiers(root) == [f"oai:opac.test:{catalogue['controls'][i]}" for i in (3, 4)]
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", until=stamps[0])
    assert identifiers(root) == [f"oai:opac.test:{catalogue['controls'][0]}"]
    day = stamps[0][:10]
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": day, "until": day})
    assert len(identifiers(root)) >= 1  # day granularity is accepted


def test_deleted_record_is_a_deleted_header_and_comes_back_when_reimported(app, client, catalogue, make_record):
    from opac.catalog.services import delete_record

    control = catalogue["controls"][1]
    with app.test_request_context():
        delete_record(db.session.get(Record, catalogue["ids"][1]))
        db.session.commit()
        tomb = db.session.scalar(select(RecordTombstone).where(RecordTombstone.control_number == control))
        assert tomb.sets.split() == ["type:book", "location:FKIP", "collection:REF"]
    root = oai(client, verb="GetRecord", identifier=f"oai:opac.test:{control}", metadataPrefix="oai_dc")
    header = root.find(".//o:header", NS)
    assert header.get("status") == "deleted"
    assert root.find(".//o:metadata", NS) is None
    root = oai(client, verb="ListIdentifiers", metadataPrefix="marc21", set="collection:REF")
    assert [h.get("status") for h in root.iterfind(".//o:header", NS)] == ["deleted"]
    # the deletion is the newest change: last in the list
    pages, root = [], oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    while True:
        pages += identifiers(root)
        token = root.findtext(".//o:resumptionToken", namespaces=NS)
        if not token:
            break
        root = oai(client, verb="ListIdentifiers", resumptionToken=token)
    assert pages[-1] == f"oai:opac.test:{control}" and len(pages) == 5
    make_record(control_number=control, title="Bumi Manusia (edisi baru)")
    root = oai(client, verb="GetRecord", identifier=f"oai:opac.test:{control}", metadataPrefix="oai_dc")
    assert root.find(".//o:header", NS).get("status") is None


def test_delete_refused_while_a_copy_is_on_loan(app, make_record):
    from opac.catalog.models import Item
    from opac.catalog.services import CatalogError, delete_record

    rid = make_record(title="Dipinjam", items=["L1"])
    with app.test_request_context():
        db.session.scalar(select(Item).where(Item.barcode == "L1")).status = "on_loan"
        db.session.commit()
        with pytest.raises(CatalogError) as exc:
            delete_record(db.session.get(Record, rid))
        assert exc.value.reason == "copies_on_loan" and "L1" in exc.value.message
        db.session.rollback()
        assert db.session.get(Record, rid) is not None
        assert db.session.scalar(select(RecordTombstone)) is None


def test_editing_a_copy_moves_the_datestamp(app, client, catalogue, make_record):
    before = oai(client, verb="GetRecord", identifier=f"oai:opac.test:{catalogue['controls'][3]}",
                 metadataPrefix="oai_dc").findtext(".//o:datestamp", namespaces=NS)
    make_record(control_number=catalogue["controls"][3], title="Peta Jawa", material_type="map",
                items=[{"barcode": "M1", "location": "PETA"}])
    root = oai(client, verb="GetRecord", identifier=f"oai:opac.test:{catalogue['controls'][3]}",
               metadataPrefix="oai_dc")
    assert root.findtext(".//o:datestamp", namespaces=NS) > before
    assert "location:PETA" in [e.text for e in root.iterfind(".//o:setSpec", NS)]


@pytest.mark.parametrize("params, code", [
    ({}, "badVerb"),
    ({"verb": "Harvest"}, "badVerb"),
    ({"verb": "Identify", "set": "x"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "GetRecord", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-13-45"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01T00:00:00"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2020-01-01", "until": "2020-01-02T00:00:00Z"},
     "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2021-01-01", "until": "2020-01-01"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "metadataPrefix": "mods", "identifier": "oai:opac.test:X"}, "cannotDisseminateFormat"),
    ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:opac.test:NOPE"}, "idDoesNotExist"),
    ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:elsewhere.org:1"}, "idDoesNotExist"),
    ({"verb": "ListMetadataFormats", "identifier": "oai:opac.test:NOPE"}, "idDoesNotExist"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2099-01-01"}, "noRecordsMatch"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "location:NOWHERE"}, "noRecordsMatch"),
    ({"verb": "ListRecords", "resumptionToken": "forged.token.value"}, "badResumptionToken"),
    ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_error_codes(client, catalogue, params, code, method):
    root = oai(client, method, **params)
    assert error_code(root) == code
    req = root.find("o:request", NS)
    if code in ("badVerb", "badArgument"):
        assert dict(req.attrib) == {}  # only the base URL for these two
    else:
        assert req.get("verb") == params["verb"]


def test_repeated_arguments_are_refused(client, catalogue):
    r = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=marc21")
    assert error_code(etree.fromstring(r.data)) == "badArgument"
    r = client.get("/oai?verb=Identify&verb=Identify")
    assert error_code(etree.fromstring(r.data)) == "badVerb"


def test_tampered_expired_and_cross_verb_tokens_are_refused(client, catalogue, monkeypatch):
    token = oai(client, verb="ListRecords", metadataPrefix="oai_dc").findtext(".//o:resumptionToken",
                                                                               namespaces=NS)
    payload, _, sig = token.rpartition(".")
    tampered = payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    assert error_code(oai(client, verb="ListRecords", resumptionToken=tampered)) == "badResumptionToken"
    assert error_code(oai(client, verb="ListIdentifiers", resumptionToken=token)) == "badResumptionToken"
    # a token signed with another instance's key
    client.application.config["SECRET_KEY"], key = "another-key", client.application.config["SECRET_KEY"]
    assert error_code(oai(client, verb="ListRecords", resumptionToken=token)) == "badResumptionToken"
    client.application.config["SECRET_KEY"] = key
    assert error_code(oai(client, verb="ListRecords", resumptionToken=token)) is None
    later = time.time() + 2 * 86400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    root = oai(client, verb="ListRecords", resumptionToken=token)
    assert error_code(root) == "badResumptionToken"
    assert "expired" in root.findtext("o:error", namespaces=NS)


def test_post_is_accepted_without_csrf_and_public_cache_headers(client, catalogue):
    r = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert r.status_code == 200
    root = etree.fromstring(r.data)
    assert error_code(root) is None and len(identifiers(root)) == 2
    assert r.headers["Cache-Control"] == "public, no-cache"
    assert "Set-Cookie" not in r.headers


def test_moving_a_copy_moves_the_datestamp_but_circulating_it_does_not(app, client, catalogue):
    from opac.catalog.models import Item
    from opac.catalog.services import LocationCache

    rid = catalogue["ids"][0]
    with app.test_request_context():
        before = db.session.get(Record, rid).updated_at
        db.session.scalar(select(Item).where(Item.barcode == "A1")).status = "on_loan"
        db.session.commit()
        assert db.session.get(Record, rid).updated_at == before
        db.session.scalar(select(Item).where(Item.barcode == "A1")).location = LocationCache().get("ANAK")
        db.session.commit()
        assert db.session.get(Record, rid).updated_at > before
    root = oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="location:ANAK")
    assert identifiers(root) == [f"oai:opac.test:{catalogue['controls'][0]}"]
