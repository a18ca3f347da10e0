"""`flask --app opac delete-record` as an operator runs it: the record goes, its tombstone stays for harvesters."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lxml import etree

from ..cli_helpers import prod_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
NS = {"o": "http://www.openarchives.org/OAI/2.0/"}


def test_delete_record_command_leaves_a_deleted_header(tmp_path):
    env = prod_env(tmp_path, BASE_URL="https://opac.example.org")
    run_cli(env, "init-db")
    data = tmp_path / "records.jsonl"
    data.write_text("\n".join(json.dumps({"control_number": c, "title": f"Judul {c}",
                                          "items": [{"barcode": f"B{c}", "location": "PUSAT"}]})
                              for c in ("K1", "K2")), encoding="utf-8")
    run_cli(env, "import", str(data))
    out = run_cli(env, "delete-record", "K1").stdout
    assert "K1: deleted" in out
    r = run_cli(env, "delete-record", "K1", "NOPE", expect=1)
    assert "no such record" in r.stderr

    from opac import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["OPAC_DATABASE_URL"], "INDEX_DIR": env["OPAC_INDEX_DIR"],
                      "BASE_URL": "https://opac.example.org", "SECRET_KEY": "x", "INDEX_AUTO_REBUILD": False})
    client = app.test_client()
    root = etree.fromstring(client.get("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc").data)
    headers = {h.findtext("o:identifier", namespaces=NS): h.get("status") for h in root.iterfind(".//o:header", NS)}
    assert headers == {"oai:opac.example.org:K1": "deleted", "oai:opac.example.org:K2": None}
    with app.app_context():
        from opac.extensions import db

        db.engine.dispose()
