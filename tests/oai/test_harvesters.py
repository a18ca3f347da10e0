"""Real harvesters (sickle over GET, pyoai over POST) against the app under gunicorn."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select, update

from opac.catalog.models import Record, utcnow
from opac.extensions import db

PAGE = 3
N = 11


@pytest.fixture
def app_config():
    return {"OAI_PAGE_SIZE": PAGE, "LIVE_SERVER_ENV": {"OAI_PAGE_SIZE": PAGE}}


@pytest.fixture
def catalogue(app, load_records):
    rows = [dict(title=f"Judul {i}", authors=[f"Penulis {i}"], year=2000 + i,
                 material_type="thesis" if i % 4 == 0 else "book",
                 items=[{"barcode": f"H{i}", "location": "PUSAT" if i % 2 else "FKIP"}]) for i in range(N)]
    ids = load_records(rows)
    with app.app_context():
        # harvested before: the catalogue was last changed two hours ago, one record a second
        base = utcnow() - timedelta(hours=2)
        for n, rid in enumerate(ids):
            db.session.execute(update(Record).where(Record.id == rid).values(updated_at=base + timedelta(seconds=n)))
        db.session.commit()
        controls = [db.session.get(Record, rid).control_number for rid in ids]
    return {"ids": ids, "controls": controls}


def _local(identifier: str) -> str:
    return identifier.rsplit(":", 1)[1]


def _change_catalogue(app, catalogue):
    """Edit two records, move a third to another location, delete a fourth: four changes."""
    from opac.catalog.models import Item
    from opac.catalog.services import LocationCache, delete_record

    ids = catalogue["ids"]
    with app.test_request_context():
        db.session.get(Record, ids[1]).title = "Judul 1 (revisi)"
        db.session.get(Record, ids[5]).summary = "Ringkasan baru"
        item = db.session.scalar(select(Item).where(Item.barcode == "H7"))
        item.location = LocationCache().get("BARU")
        db.session.get(Record, ids[7]).updated_at = utcnow()
        delete_record(db.session.get(Record, ids[9]))
        db.session.commit()
    return {catalogue["controls"][i] for i in (1, 5, 7)}, catalogue["controls"][9]


def test_sickle_full_then_incremental_harvest(app, live_server, catalogue):
    from sickle import Sickle

    harvester = Sickle(live_server + "/oai", max_retries=0)
    ident = harvester.Identify()
    assert ident.deletedRecord == "persistent" and ident.granularity == "YYYY-MM-DDThh:mm:ssZ"

    pages = []
    records = harvester.ListRecords(metadataPrefix="oai_dc")
    seen = []
    for rec in records:
        seen.append(_local(rec.header.identifier))
        if records.resumption_token and (not pages or pages[-1] != records.resumption_token.token):
            pages.append(records.resumption_token.token)
    assert sorted(seen) == sorted(catalogue["controls"]) and len(seen) == N  # every record exactly once
    assert len(pages) >= N // PAGE
    assert next(iter(harvester.ListRecords(metadataPrefix="oai_dc"))).metadata["title"] == ["Judul 0"]
    started = requests.get(live_server + "/oai", params={"verb": "Identify"}, timeout=10).text
    response_date = started.split("<responseDate>")[1].split("<")[0]

    changed, deleted = _change_catalogue(app, catalogue)

    got = {}
    for header in harvester.ListIdentifiers(metadataPrefix="marc21", **{"from": response_date}):
        assert _local(header.identifier) not in got
        got[_local(header.identifier)] = header.deleted
    assert got == {**{c: False for c in changed}, deleted: True}

    moved = [h for h in harvester.ListIdentifiers(metadataPrefix="oai_dc", set="location:BARU")]
    assert [_local(h.identifier) for h in moved] == [catalogue["controls"][7]]
    marc = harvester.GetRecord(identifier=moved[0].identifier, metadataPrefix="marc21")
    assert "BARU" in marc.raw


class _LxmlCompat:
    """pyoai 2.5 calls ``XPathEvaluator(...).evaluate``, an alias lxml 6 removed; same call otherwise."""

    def __getattr__(self, name):
        from lxml import etree

        return getattr(etree, name)

    @staticmethod
    def XPathEvaluator(*args, **kwargs):  # noqa: N802 - lxml's name
        from lxml import etree

        inner = etree.XPathEvaluator(*args, **kwargs)

        class Evaluator:
            def evaluate(self, path):
                return inner(path)

            __call__ = evaluate

        return Evaluator()


def test_pyoai_over_post_harvest_and_error_codes(app, live_server, catalogue, monkeypatch):
    import oaipmh.client
    import oaipmh.metadata
    from oaipmh import error
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader

    monkeypatch.setattr(oaipmh.client, "etree", _LxmlCompat())
    monkeypatch.setattr(oaipmh.metadata, "etree", _LxmlCompat())
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)
    client = Client(live_server + "/oai", registry)  # pyoai sends form-encoded POSTs
    assert client.identify().deletedRecord() == "persistent"
    assert {f[0] for f in client.listMetadataFormats()} == {"oai_dc", "marc21"}
    assert {"type:book", "type:thesis", "location:PUSAT", "location:FKIP"} <= {s[0] for s in client.listSets()}

    harvested = [(h.identifier(), h.isDeleted(), m) for h, m, _about in client.listRecords(metadataPrefix="oai_dc")]
    assert sorted(_local(i) for i, _, _ in harvested) == sorted(catalogue["controls"])
    assert all(m is not None and m.getField("title") for _, _, m in harvested)
    last = max(h.datestamp() for h in client.listIdentifiers(metadataPrefix="oai_dc"))

    changed, deleted = _change_catalogue(app, catalogue)
    after = last + timedelta(seconds=1)
    got = {_local(h.identifier()): h.isDeleted() for h in client.listIdentifiers(metadataPrefix="oai_dc", from_=after)}
    assert got == {**{c: False for c in changed}, deleted: True}
    header, metadata, _ = client.getRecord(identifier=f"oai:localhost:{deleted}", metadataPrefix="oai_dc")
    assert header.isDeleted() and metadata is None

    with pytest.raises(error.IdDoesNotExistError):
        client.getRecord(identifier="oai:localhost:NOPE", metadataPrefix="oai_dc")
    with pytest.raises(error.CannotDisseminateFormatError):
        list(client.listIdentifiers(metadataPrefix="mods"))
    with pytest.raises(error.NoRecordsMatchError):
        list(client.listIdentifiers(metadataPrefix="oai_dc", from_=datetime(2099, 1, 1)))
    with pytest.raises(error.NoRecordsMatchError):
        list(client.listIdentifiers(metadataPrefix="oai_dc", set="location:NOWHERE"))
    with pytest.raises(error.BadResumptionTokenError):
        client.makeRequestErrorHandling(verb="ListIdentifiers", resumptionToken="forged")
    with pytest.raises(error.BadArgumentError):
        client.makeRequestErrorHandling(verb="ListRecords")
    with pytest.raises(error.BadArgumentError):
        client.makeRequestErrorHandling(verb="ListRecords", metadataPrefix="oai_dc", until="yesterday")
    with pytest.raises(error.BadVerbError):
        client.makeRequestErrorHandling(verb="Harvest")
