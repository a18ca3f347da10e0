"""A hidden record (SLiMS ``opac_hide``) is in the database for circulation and staff, nowhere public."""

from __future__ import annotations

from opac.catalog.models import Record
from opac.extensions import db
from tests.conftest import apply_index_changes


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
