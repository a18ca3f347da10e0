"""`flask --app opac delete-record`, `withdraw-record` and `reinstate-record` as an operator runs them:
a deleted record goes and its tombstone stays for harvesters; a withdrawn one goes through the same
services as the staff record page (copies withdrawn, the reason in the edit log, patrons no longer
reach it, harvesters see it deleted) and comes back when reinstated."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from ..cli_helpers import prod_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
NS = {"o": "http://www.openarchives.org/OAI/2.0/"}


def test_delete_withdraw_and_reinstate_record_commands(tmp_path):
    env = prod_env(tmp_path, BASE_URL="https://opac.example.org")
    run_cli(env, "init-db")
    data = tmp_path / "records.jsonl"
    data.write_text("\n".join(json.dumps({"control_number": c, "title": f"Judul {c}",
                                          "items": [{"barcode": f"B{c}", "location": "PUSAT"}]})
                              for c in ("K1", "K2", "K3")), encoding="utf-8")
    run_cli(env, "import", str(data))
    out = run_cli(env, "delete-record", "K1").stdout
    assert "K1: deleted" in out
    r = run_cli(env, "withdraw-record", "K1", "K2", "--reason", "Rusak  terkena banjir", expect=1)
    assert "K2: withdrawn" in r.stdout and "K1: no such record" in r.stderr

    from opac import create_app
    from opac.catalog.models import Record, RecordEdit
    from opac.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["OPAC_DATABASE_URL"], "INDEX_DIR": env["OPAC_INDEX_DIR"],
                      "BASE_URL": "https://opac.example.org", "SECRET_KEY": "x", "INDEX_AUTO_REBUILD": False})
    client = app.test_client()
    root = etree.fromstring(client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data)
    headers = {h.findtext("o:identifier", namespaces=NS): h.get("status") for h in root.iterfind(".//o:header", NS)}
    assert headers == {"oai:opac.example.org:K1": "deleted", "oai:opac.example.org:K2": "deleted",
                       "oai:opac.example.org:K3": None}
    with app.app_context():
        k2 = db.session.scalar(select(Record).where(Record.control_number == "K2"))
        rid = k2.id
        assert k2.withdrawn_at is not None and [i.status for i in k2.items] == ["withdrawn"]
        log = db.session.scalar(select(RecordEdit).where(RecordEdit.record_id == rid))
        assert (log.action, log.summary, log.staff_id) == ("withdraw", "Rusak terkena banjir", None)
        db.session.remove()
    assert client.get(f"/record/{rid}").status_code == 404  # patrons no longer reach it

    r = run_cli(env, "reinstate-record", "K2", "K3", expect=1)  # K3 was never withdrawn
    assert "K2: reinstated" in r.stdout and "K3: Cantuman ini tidak ditarik." in r.stderr  # the default language
    with app.app_context():
        k2 = db.session.get(Record, rid)
        assert k2.withdrawn_at is None and [i.status for i in k2.items] == ["available"]
        assert [e.action for e in db.session.scalars(select(RecordEdit).where(RecordEdit.record_id == rid)
                                                     .order_by(RecordEdit.id))] == ["withdraw", "reinstate"]
        db.session.remove()
    assert client.get(f"/record/{rid}").status_code == 200
    with app.app_context():
        db.engine.dispose()
