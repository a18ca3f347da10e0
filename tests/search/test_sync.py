"""The index follows the database: after commit, never before, and nothing lost in a crash."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

from sqlalchemy import select

from opac.catalog.models import Item, Record
from opac.extensions import db
from opac.search import index as idx
from opac.search import sync
from opac.search.models import IndexOutbox


def total(search_api, q):
    return search_api(q)["total"]


def test_create_update_delete_record_reaches_the_index(app, make_record, search_api):
    rid = make_record(title="Ronggeng Dukuh Paruk", authors=[{"name": "Tohari, Ahmad", "role": "author"}])
    assert total(search_api, "ronggeng") == 1
    with app.app_context():
        rec = db.session.get(Record, rid)
        rec.title = "Bekisar Merah"
        db.session.commit()
    assert total(search_api, "ronggeng") == 0 and total(search_api, "bekisar") == 1
    with app.app_context():
        db.session.delete(db.session.get(Record, rid))
        db.session.commit()
    assert total(search_api, "bekisar") == 0
    with app.app_context():
        assert db.session.scalar(select(IndexOutbox.id)) is None


def test_item_changes_update_availability(app, make_record, search_api):
    rid = make_record(title="Kubah", items=[{"barcode": "K1", "status": "on_loan"}])
    assert search_api("kubah")["hits"][0]["availability"] == {"total": 1, "available": 0, "locations": []}
    assert total(search_api, "kubah", ) == 1 and search_api("kubah", available="1")["total"] == 0
    with app.app_context():
        db.session.scalar(select(Item).where(Item.barcode == "K1")).status = "available"
        db.session.add(Item(record_id=rid, barcode="K2"))
        db.session.commit()
    hit = search_api("kubah", available="1")["hits"][0]
    assert hit["availability"]["total"] == 2 and hit["availability"]["available"] == 2
    assert total(search_api, "K2") == 1  # barcodes are searchable
    with app.app_context():
        db.session.delete(db.session.scalar(select(Item).where(Item.barcode == "K2")))
        db.session.commit()
    assert search_api("kubah")["hits"][0]["availability"]["total"] == 1


def test_rollback_leaves_the_index_unchanged(app, make_record, search_api):
    make_record(title="Atheis")
    gen_before = _generation(app)
    with app.app_context():
        db.session.add(Record(control_number="RB1", title="Belenggu", material_type="book"))
        db.session.flush()
        assert db.session.scalar(select(IndexOutbox.id)) is not None  # queued inside the transaction
        db.session.rollback()
        assert db.session.scalar(select(IndexOutbox.id)) is None
    assert total(search_api, "belenggu") == 0
    assert _generation(app) == gen_before


def _generation(app):
    with app.app_context():
        from opac.search.services import get_index

        return get_index().snapshot().generation


def test_crash_after_commit_is_repaired(app, search_api):
    """A worker that dies between the database commit and the index write leaves an outbox row;
    the next request's reconcile step (or start-up, or `index sync`) applies it."""
    app.config["INDEX_SYNC_AFTER_COMMIT"] = False  # the 'crash': nothing applied after commit
    with app.app_context():
        db.session.add(Record(control_number="CR1", title="Salah Asuhan", material_type="book"))
        db.session.commit()
        assert db.session.scalar(select(IndexOutbox.record_id)) is not None
    app.config["INDEX_SYNC_AFTER_COMMIT"] = True
    sync._last_check["t"] = 0.0
    # the search request itself runs the reconcile step first
    assert total(search_api, "salah asuhan") == 1
    with app.app_context():
        assert db.session.scalar(select(IndexOutbox.id)) is None


def test_index_sync_command(app, runner):
    app.config["INDEX_SYNC_AFTER_COMMIT"] = False
    with app.app_context():
        db.session.add(Record(control_number="CR2", title="Layar Terkembang", material_type="book"))
        db.session.commit()
    res = runner.invoke(args=["index", "sync"])
    assert "Applied 1 record changes; 0 pending" in res.output


def test_reindex_rebuilds_atomically(app, make_record, runner, search_api):
    make_record(title="Di Bawah Lindungan Ka'bah")
    old = Path(app.config["INDEX_DIR"], "current").resolve()
    res = runner.invoke(args=["reindex"])
    assert res.exit_code == 0 and "Indexed 1 records" in res.output
    assert Path(app.config["INDEX_DIR"], "current").resolve() != old
    assert total(search_api, "lindungan") == 1


def test_startup_rebuilds_missing_corrupt_or_old_index(app, make_record):
    from opac.startup import startup_checks

    make_record(title="Tenggelamnya Kapal Van der Wijck")
    index_dir = Path(app.config["INDEX_DIR"])

    def wijck_found():
        with app.test_client() as c:
            return c.get("/api/v1/search?q=wijck").get_json()["total"] == 1

    # old schema version
    meta = Path(index_dir, "current", idx.META_FILE)
    meta.write_text(json.dumps({"schema_version": -1}))
    assert "schema version" in idx.check_index(index_dir)
    startup_checks(app)
    assert idx.check_index(index_dir) is None and wijck_found()
    # corrupt: segment files truncated
    for f in Path(index_dir, "current").glob("*.seg"):
        f.write_bytes(b"garbage")
    assert "corrupt" in idx.check_index(index_dir)
    startup_checks(app)
    assert idx.check_index(index_dir) is None and wijck_found()
    # missing
    shutil.rmtree(index_dir)
    startup_checks(app)
    assert wijck_found()


def test_without_auto_rebuild_the_app_names_the_command(app, caplog, client):
    from opac.startup import startup_checks

    shutil.rmtree(app.config["INDEX_DIR"])
    app.config["INDEX_AUTO_REBUILD"] = False
    startup_checks(app)
    assert "flask --app opac reindex" in caplog.text
    r = client.get("/api/v1/search?q=x")
    assert r.status_code == 503 and "does not exist" in r.get_json()["message"]
    page = client.get("/search?q=x")
    assert page.status_code == 503 and "flask --app opac reindex" in page.get_data(as_text=True)


def _drain_in_child(config, q):
    from opac import create_app

    app = create_app(config)
    with app.app_context():
        try:
            q.put(("ok", sync.drain(app, timeout=30)))
        except Exception as exc:  # noqa: BLE001
            q.put(("error", repr(exc)))


def test_two_processes_draining_at_once_take_turns(app):
    """Several workers finishing commits together: one writer at a time, nothing lost, no LockError."""
    app.config["INDEX_SYNC_AFTER_COMMIT"] = False
    with app.app_context():
        for i in range(300):
            db.session.add(Record(control_number=f"P{i}", title=f"Buku paralel {i}", material_type="book"))
        db.session.commit()
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "INDEX_DIR", "SECRET_KEY")}
    config["TESTING"] = True
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_drain_in_child, args=(config, q)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(n for _, n in results) == 300
    app.config["INDEX_SYNC_AFTER_COMMIT"] = True
    with app.test_client() as c:
        assert c.get("/api/v1/search?q=paralel").get_json()["total"] == 300
