"""Keeping the index in step with the database through a transactional outbox.

1. Any flush that touches a record or an item writes the record id to ``index_outbox`` in the
   same transaction (so a rollback leaves nothing behind, a commit leaves a durable to-do).
2. After commit, the outbox is drained: under the single cross-process writer lock, documents
   are rebuilt from a fresh read of the database and written to Whoosh; only then are the
   outbox rows deleted. A worker dying in between leaves rows that the next drain (another
   request, start-up, or ``flask --app opac index sync``) applies; applying twice is harmless.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy import delete, event, insert, inspect, select
from sqlalchemy.orm import Session, selectinload

from ..catalog.models import Item, Record, utcnow
from ..extensions import db
from . import index as idx
from .documents import build_document
from .models import IndexOutbox

log = logging.getLogger(__name__)
BATCH = 500
_installed = False


def _touched_records(session) -> set[int]:
    ids: set[int] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Record):
            if obj.id is not None and (obj in session.new or obj in session.deleted or session.is_modified(obj)):
                ids.add(obj.id)
        elif isinstance(obj, Item):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            if obj.record_id is not None:
                ids.add(obj.record_id)
            elif obj.record is not None and obj.record.id is not None:
                ids.add(obj.record.id)
            hist = inspect(obj).attrs.record_id.history
            for old in hist.deleted or ():
                if old is not None:
                    ids.add(old)
    return ids


def _after_flush(session, _ctx):
    ids = _touched_records(session)
    if not ids:
        return
    queued = session.info.setdefault("opac_outbox", set())
    new = ids - queued
    if new:
        now = utcnow()
        session.connection().execute(insert(IndexOutbox), [{"record_id": i, "created_at": now} for i in sorted(new)])
        queued |= new
    if session.info.get("opac_sync", True):
        from ..db import after_commit

        after_commit(_drain_after_commit, key="opac_index_drain")


def _drain_after_commit():
    try:
        app = current_app._get_current_object()
    except RuntimeError:
        return
    if app.config["INDEX_SYNC_AFTER_COMMIT"]:
        try:
            drain(app, timeout=30)
        except Exception:  # noqa: BLE001 - the outbox keeps the work; reconcile retries
            log.exception("index sync after commit failed; the outbox keeps the changes")


def _forget_queued(session, transaction):
    if transaction.parent is None:
        session.info.pop("opac_outbox", None)


def install() -> None:
    """Register the session hooks once per process (they apply to every Flask-SQLAlchemy session)."""
    global _installed
    if _installed:
        return
    from flask_sqlalchemy.session import Session as FSASession

    from ..db import install_task_hooks

    install_task_hooks()
    event.listen(FSASession, "after_flush", _after_flush)
    event.listen(FSASession, "after_transaction_end", _forget_queued)
    _installed = True


def _load_records(session: Session, ids: list[int]) -> dict[int, Record]:
    rows = session.scalars(
        select(Record).where(Record.id.in_(ids)).options(selectinload(Record.items).joinedload(Item.location))
    ).all()
    return {r.id: r for r in rows}


def drain(app=None, timeout: float = 30.0, max_batches: int | None = None, docs_per_commit: int = 20_000,
          progress=None) -> int:
    """Apply pending outbox rows to the index; returns how many records were written.

    Holds the index writer lock; ``timeout=0`` gives up at once if another process writes.
    A large backlog (a bulk import) is written with one Whoosh writer per ``docs_per_commit``
    records: one new segment instead of many small ones to merge.
    """
    app = app or current_app._get_current_object()
    index_dir = app.config["INDEX_DIR"]
    if idx.check_index(index_dir) is not None:
        return 0  # no usable index: a rebuild will read everything anyway
    done = 0
    try:
        lock = idx.writer_lock(index_dir, timeout=timeout)
        lock.__enter__()
    except idx.WriterBusy:
        return 0
    try:
        ix = idx.open_index(index_dir)
        batches = 0
        with Session(db.engine) as session:
            session.info["opac_sync"] = False
            while max_batches is None or batches < max_batches:
                last_id = 0
                row_ids: list[int] = []
                writer = None
                written = 0
                in_writer: set[int] = set()
                try:
                    while written < docs_per_commit:
                        rows = session.execute(
                            select(IndexOutbox.id, IndexOutbox.record_id).where(IndexOutbox.id > last_id)
                            .order_by(IndexOutbox.id).limit(BATCH)).all()
                        if not rows:
                            break
                        record_ids = sorted({r.record_id for r in rows})
                        if in_writer.intersection(record_ids):
                            # changed again since we read it: Whoosh cannot delete a document still
                            # in this writer's buffer, so commit first and read it afresh
                            break
                        last_id = rows[-1].id
                        row_ids.extend(r.id for r in rows)
                        in_writer.update(record_ids)
                        records = _load_records(session, record_ids)
                        if writer is None:
                            writer = ix.writer(codec=idx.codec(), timeout=10, limitmb=128)
                        for rid in record_ids:
                            writer.delete_by_term("id", str(rid))
                            rec = records.get(rid)
                            if rec is not None:
                                writer.add_document(**build_document(rec))
                        written += len(record_ids)
                        session.expunge_all()
                        if progress:
                            progress(done + written)
                    if writer is None:
                        break
                    writer.commit()
                except BaseException:
                    if writer is not None:
                        writer.cancel()
                    raise
                for i in range(0, len(row_ids), 1000):
                    session.execute(delete(IndexOutbox).where(IndexOutbox.id.in_(row_ids[i : i + 1000])))
                session.commit()
                done += written
                batches += 1
    finally:
        lock.__exit__(None, None, None)
    return done


def pending() -> int:
    from sqlalchemy import func

    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(IndexOutbox)).scalar_one()


def rebuild(app=None, progress=None, batch: int = 1000, only_if_needed: bool = False) -> int:
    """Build a new index generation from the database and make it current atomically.

    Outbox rows present at the start are covered by the rebuild and removed; rows written
    meanwhile stay and are applied by the drain that follows. With ``only_if_needed`` (start-up
    of several workers at once) the first worker rebuilds and the others find a good index.
    """
    app = app or current_app._get_current_object()
    index_dir = app.config["INDEX_DIR"]
    from sqlalchemy import func

    with idx.writer_lock(index_dir, timeout=3600):
        if only_if_needed and idx.check_index(index_dir) is None:
            return 0
        with Session(db.engine) as session:
            session.info["opac_sync"] = False
            covered = session.scalars(select(IndexOutbox.id)).all()
            total = session.scalar(select(func.count()).select_from(Record)) or 0
            path, ix = idx.new_generation(index_dir)
            writer = ix.writer(codec=idx.codec(), limitmb=256)
            n = 0
            last_id = 0
            try:
                while True:
                    recs = session.scalars(
                        select(Record).where(Record.id > last_id).order_by(Record.id).limit(batch)
                        .options(selectinload(Record.items).joinedload(Item.location))
                    ).all()
                    if not recs:
                        break
                    for rec in recs:
                        writer.add_document(**build_document(rec))
                    n += len(recs)
                    last_id = recs[-1].id
                    session.expunge_all()
                    if progress:
                        progress(n, total)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            idx.make_current(index_dir, path)
            for i in range(0, len(covered), 1000):
                session.execute(delete(IndexOutbox).where(IndexOutbox.id.in_(covered[i : i + 1000])))
            session.commit()
    drain(app)
    return n


_last_check = {"t": 0.0}


def reconcile_if_due(app) -> None:
    """Cheap periodic check (per process) for outbox rows left behind by a dead worker."""
    now = time.monotonic()
    if now - _last_check["t"] < app.config["INDEX_RECONCILE_SECONDS"]:
        return
    _last_check["t"] = now
    try:
        with db.engine.connect() as conn:
            row = conn.execute(select(IndexOutbox.id).limit(1)).first()
        if row is not None:
            drain(app, timeout=0)
    except Exception:  # noqa: BLE001 - never fail a page because of background sync
        log.exception("index reconcile failed")
