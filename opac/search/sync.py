"""Keeping each node's index in step with the database through an ordered change feed.

1. Any flush that touches a record, an item or a partner's record writes ``(record id, kind)`` rows to
   ``index_change`` in the same transaction: a rollback leaves nothing behind, a commit leaves a
   durable change with a growing id. Rows are not deleted when applied (every node reads them);
   they are pruned after ``INDEX_FEED_RETENTION_DAYS``. A partner's record has a negative id
   there and in the index (``documents.doc_id``).
2. One follower per node (``flask --app opac index follow``) reads the feed after the position
   stored in its index generation, rebuilds the changed records' documents from a fresh read of
   the database, commits them to Whoosh and only then stores the new position (atomically). Killed
   in between, it applies the same changes again, which is harmless: documents are replaced by id.
3. Web workers only read the index: no index writes in requests, no writer lock.

Ids are handed out when a transaction writes, not when it commits: on PostgreSQL a transaction
committing later can show a smaller id than one already applied. Ids missing below the position
are kept as *gaps* and read again on every poll until they appear, or until no transaction that
could still write them is running (PostgreSQL: the snapshot's xmin passed the xmax seen when the
gap was noticed), or, on other databases, for ``INDEX_FEED_GAP_SECONDS``.

A rebuild (``flask --app opac reindex``) records the feed position before it reads the database,
builds a new generation while the old one serves, applies the changes since that position, and
swaps ``current`` under the writer lock: nothing committed meanwhile is lost.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, event, func, insert, inspect, literal, or_, select, text
from sqlalchemy.orm import Session, selectinload
from whoosh.writing import MERGE_SMALL

from ..catalog.models import Item, Location, Record, utcnow
from ..extensions import db
from ..partners.models import PartnerRecord
from ..priority import run_idle
from . import bulk
from . import index as idx
from .documents import ItemFacts, build_document, doc_id, is_public
from .models import IndexChange

log = logging.getLogger(__name__)
BATCH = 2000
#: ids below the newest one checked for gaps when a rebuild starts
START_WINDOW = 10_000
#: gaps read again per poll (more are unheard of: each is a transaction in flight or rolled back)
MAX_GAPS_READ = 5_000
#: the follower looks for a pause at the desk every this many records of a backlog (an import's)
FOLLOW_YIELD_EVERY = 50
_installed = False


def _with_app(fn):
    """Run ``fn(app, ...)`` inside the app's context (the CLI, tests and the loop all call these)."""

    @functools.wraps(fn)
    def wrapper(app=None, *args, **kwargs):
        # the app itself, never the ``current_app`` proxy (the CLI passes that): a thread of the
        # follower (``priority.run_idle``) has no context in which a proxy would resolve
        app = current_app if app is None else app
        if hasattr(app, "_get_current_object"):
            app = app._get_current_object()
        with app.app_context():
            return fn(app, *args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------------- writing the feed


def _touched_records(session) -> dict[int, str]:
    ids: dict[int, str] = {}
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Record | PartnerRecord):
            if obj.id is not None and (obj in session.new or obj in session.deleted or session.is_modified(obj)):
                ids[doc_id(obj)] = "delete" if obj in session.deleted else "upsert"
        elif isinstance(obj, Item):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            if obj.record_id is not None:
                ids.setdefault(obj.record_id, "upsert")
            elif obj.record is not None and obj.record.id is not None:
                ids.setdefault(obj.record.id, "upsert")
            hist = inspect(obj).attrs.record_id.history
            for old in hist.deleted or ():
                if old is not None:
                    ids.setdefault(old, "upsert")
    return ids


def _after_flush(session, _ctx):
    ids = _touched_records(session)
    if not ids:
        return
    queued = session.info.setdefault("opac_feed", {})
    new = {rid: kind for rid, kind in ids.items() if queued.get(rid) != kind}
    if new:
        now = utcnow()
        session.connection().execute(
            insert(IndexChange), [{"record_id": rid, "kind": new[rid], "created_at": now} for rid in sorted(new)])
        queued.update(new)


def _forget_queued(session, transaction):
    if transaction.parent is None:
        session.info.pop("opac_feed", None)


def install() -> None:
    """Register the session hooks once per process (they apply to every Flask-SQLAlchemy session)."""
    global _installed
    if _installed:
        return
    from flask_sqlalchemy.session import Session as FSASession

    from ..db import install_task_hooks

    install_task_hooks()  # after-commit tasks of other modules (push); the index uses none
    event.listen(FSASession, "after_flush", _after_flush)
    event.listen(FSASession, "after_transaction_end", _forget_queued)
    _installed = True


# ----------------------------------------------------------------------------- positions and gaps


def _pg_snapshot(session: Session, which: str) -> int | None:
    """xmin or xmax of the current snapshot on PostgreSQL (None elsewhere)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text(f"SELECT pg_snapshot_{which}(pg_current_snapshot())::text")).scalar_one())


def _new_position(last_id: int = 0) -> dict:
    return {"last_id": last_id, "gaps": {}, "synced_at": time.time(), "applied_at": None}


def _note_gaps(position: dict, seen_ids: list[int], below: int, session: Session) -> None:
    """Ids between the old position and ``below`` that were not seen become gaps."""
    seen = set(seen_ids)
    first = max(position["last_id"] + 1, below - START_WINDOW)  # a huge jump is not worth tracking id by id
    missing = [i for i in range(first, below) if i not in seen]
    if not missing:
        return
    horizon = _pg_snapshot(session, "xmax")
    now = time.time()
    for i in missing:
        position["gaps"][str(i)] = [now, horizon]


def _close_gaps(position: dict, found: set[int], xmin: int | None, gap_seconds: float, read: set[str]) -> None:
    """Forget gaps that were found, or that can no longer be filled (only those ``read`` this poll)."""
    now = time.time()
    for key, (noticed, horizon) in list(position["gaps"].items()):
        if key not in read:
            continue
        if int(key) in found:
            del position["gaps"][key]
        elif xmin is not None and horizon is not None:
            if xmin >= horizon:  # every transaction running when the gap was seen has ended
                del position["gaps"][key]
        elif now - noticed > gap_seconds:
            del position["gaps"][key]


def start_position(session: Session) -> dict:
    """The feed position of 'now' (taken before a rebuild reads the database): the newest id
    visible, and the ids below it not visible yet (transactions still running)."""
    newest = session.scalar(select(func.max(IndexChange.id))) or 0
    position = _new_position(max(newest - START_WINDOW, 0))
    ids = session.scalars(select(IndexChange.id).where(IndexChange.id > position["last_id"])
                          .order_by(IndexChange.id)).all()
    _note_gaps(position, list(ids), newest + 1, session)
    position["last_id"] = newest
    return position


# ----------------------------------------------------------------------------- applying changes


def _load_records(session: Session, ids: list[int]) -> dict[int, Record | PartnerRecord]:
    """Records by feed id (partners' records by their negative ids)."""
    rows = session.scalars(
        select(Record).where(Record.id.in_([i for i in ids if i > 0]))
        .options(selectinload(Record.items).joinedload(Item.location))
    ).all()
    theirs = [-i for i in ids if i < 0]
    if theirs:
        rows += session.scalars(select(PartnerRecord).where(PartnerRecord.id.in_(theirs))).all()
    return {doc_id(r): r for r in rows}


def _gaps_to_read(position: dict) -> list[str]:
    return sorted(position["gaps"], key=int)[:MAX_GAPS_READ]


def _read_changes(session: Session, position: dict, limit: int):
    gaps = [int(k) for k in _gaps_to_read(position)]
    cond = IndexChange.id > position["last_id"]
    if gaps:
        cond = or_(cond, IndexChange.id.in_(gaps))
    return session.execute(select(IndexChange.id, IndexChange.record_id).where(cond)
                           .order_by(IndexChange.id).limit(limit)).all()


class Overdue(Exception):
    """``apply_changes`` passed its deadline: the batch in hand was cancelled, ``done`` records
    were committed before it (``position`` is where they left it)."""

    def __init__(self, done: int):
        super().__init__(f"deadline passed after {done} records")
        self.done = done


def apply_changes(gen: Path, position: dict, *, gap_seconds: float = 10.0, docs_per_commit: int = 20_000,
                  progress=None, max_batches: int | None = None, yield_seconds: float = 0.0,
                  deadline: float | None = None) -> int:
    """Apply the feed after ``position`` to the generation at ``gen``; returns records written.

    The caller makes sure nobody else writes ``gen`` (the writer lock, or a generation not yet
    current). The position is stored after each Whoosh commit, and when gaps close. With
    ``yield_seconds`` (the follower) it waits up to that long every
    ``FOLLOW_YIELD_EVERY`` records for a moment without a write request (``opac.db.wait_for_quiet``).
    Past ``deadline`` (``time.monotonic()``) it cancels the batch in hand and raises ``Overdue``.
    """
    from whoosh import index as whoosh_index

    from ..db import wait_for_quiet

    done = 0
    batches = 0
    ix = None
    with Session(db.engine) as session:
        while max_batches is None or batches < max_batches:
            xmin = _pg_snapshot(session, "xmin")  # before reading: see _close_gaps
            writer = None
            in_writer: set[int] = set()
            found: set[int] = set()
            new_ids: list[int] = []
            written = 0
            more = True
            before = dict(position, gaps=dict(position["gaps"]))
            read = set(_gaps_to_read(position))
            try:
                while written < docs_per_commit:
                    work = dict(position, last_id=max([position["last_id"], *new_ids]))
                    work["gaps"] = {k: v for k, v in position["gaps"].items() if int(k) not in found}
                    rows = _read_changes(session, work, BATCH)
                    if not rows:
                        more = False
                        break
                    record_ids = sorted({r.record_id for r in rows})
                    if in_writer.intersection(record_ids):
                        # changed again since we read it: Whoosh cannot delete a document still
                        # in this writer's buffer, so commit first and read it afresh
                        break
                    for r in rows:
                        if r.id > work["last_id"]:
                            new_ids.append(r.id)
                        else:
                            found.add(r.id)
                    in_writer.update(record_ids)
                    records = _load_records(session, record_ids)
                    if writer is None:
                        ix = ix or whoosh_index.open_dir(str(gen))
                        writer = ix.writer(codec=idx.codec(), timeout=10, limitmb=128)
                    for k, rid in enumerate(record_ids, 1):
                        if k % FOLLOW_YIELD_EVERY == 0:
                            if deadline is not None and time.monotonic() > deadline:
                                raise Overdue(done)
                            if yield_seconds:
                                wait_for_quiet(session.connection(), yield_seconds)
                        writer.delete_by_term("id", str(rid))
                        rec = records.get(rid)
                        if rec is not None and is_public(rec):
                            writer.add_document(**build_document(rec))
                    written += len(record_ids)
                    session.expunge_all()
                    if progress:
                        progress(done + written)
                    if len(rows) < BATCH:
                        more = False
                        break
                if writer is not None:
                    writer.commit(mergetype=merge_small_in_place)
                    writer = None
            except BaseException:
                if writer is not None:
                    writer.cancel()
                raise
            if new_ids:
                new_ids.sort()
                _note_gaps(position, new_ids, new_ids[-1], session)
                position["last_id"] = new_ids[-1]
            _close_gaps(position, found, xmin, gap_seconds, read)
            session.rollback()
            if written:
                position["applied_at"] = time.time()
            if not more:
                position["synced_at"] = time.time()
            if position["last_id"] != before["last_id"] or position["gaps"] != before["gaps"] or written or (
                    not more and time.time() - before.get("synced_at", 0) > 60):
                idx.write_position(gen, position)
            done += written
            batches += 1
            if not more:
                break
    return done


#: A segment holding less than this share of the index's documents (deleted ones included) is one of the
#: follower's: its commits of the desk's changes, a record or a few each, and Whoosh's merges of them.
TAIL_SHARE = 0.05
#: ...and fewer documents than this: a merge of the tail holds up the follower (about 2 ms a document),
#: so on a large catalogue larger segments are left to Whoosh's merging at its commits.
TAIL_MAX_DOCS = 2_000


def merge_small_in_place(writer, segments):
    """Whoosh's merging at a commit (``MERGE_SMALL``: the same small segments merged into the new
    one) with the segments it keeps left in their order (Whoosh lists them by size): a merge of the
    desk's small segments then moves none of the large ones, whose documents keep their numbers and
    the web workers their word results (``engine.WordResults``)."""
    kept = {id(s) for s in MERGE_SMALL(writer, segments)}
    return [s for s in segments if id(s) in kept]


@_with_app
def merge_tail(app=None, *, timeout: float = 1.0) -> int:
    """Merge the small segments the follower's commits left (each under ``TAIL_SHARE`` of the
    index's documents and ``TAIL_MAX_DOCS``) into one, dropping their deleted documents; returns how many segments were
    merged (0: fewer than two, and the index is left as it is). Every segment costs each search a
    little (a look-up per word, facet and key in each): a day of desk changes leaves several, which
    Whoosh's own merging at each commit keeps from growing without bound but not from being
    searched one by one. The follower calls this when the feed has been quiet a while
    (``INDEX_MERGE_QUIET_SECONDS``)."""
    from whoosh import index as whoosh_index
    from whoosh.reading import SegmentReader

    index_dir = app.config["INDEX_DIR"]
    with idx.writer_lock(index_dir, timeout=timeout):
        gen = idx.generation_path(index_dir)
        if gen is None:
            return 0
        ix = whoosh_index.open_dir(str(gen))

        def tail_of(segments):
            total = sum(s.doc_count_all() for s in segments)
            return [s for s in segments if s.doc_count_all() < min(TAIL_SHARE * total, TAIL_MAX_DOCS)]

        if len(tail_of(ix._segments())) < 2:
            return 0  # no commit: a new index generation would make every web worker start afresh
        merged = []

        def merge(writer, segments):
            tail = tail_of(segments)
            for seg in tail:
                reader = SegmentReader(writer.storage, writer.schema, seg)
                writer.add_reader(reader)
                reader.close()
            merged.extend(tail)
            return [s for s in segments if s not in tail]

        ix.writer(codec=idx.codec(), timeout=timeout).commit(mergetype=merge)
    return len(merged)


@_with_app
def rebuild_reason(app) -> str | None:
    """Why this node's index must be rebuilt rather than followed (None: it can follow)."""
    index_dir = app.config["INDEX_DIR"]
    problem = idx.check_index(index_dir)
    if problem:
        return problem
    gen = idx.generation_path(index_dir)
    position = idx.read_position(gen)
    if position is None:
        return "the search index has no stored feed position"
    days = float(app.config["INDEX_FEED_RETENTION_DAYS"])
    away = time.time() - float(position.get("synced_at") or 0)
    if away > max(days * 86400 - 3600, days * 86400 / 2):
        return f"the index follower was away {away / 86400:.1f} days, longer than the feed is kept"
    with db.engine.connect() as conn:
        newest = conn.execute(select(func.max(IndexChange.id))).scalar()
    if newest is not None and newest < position["last_id"]:
        return "the change feed is behind the index's position (was the database restored?)"
    return None


@_with_app
def follow_once(app=None, *, timeout: float = 60.0, progress=None, rebuild_if_needed: bool = True) -> int:
    """Apply every pending change to this node's index (rebuilding it first when it cannot follow);
    returns the number of records written. The follower's loop calls this; so do tests."""
    if rebuild_if_needed:
        reason = rebuild_reason(app)
        if reason:
            if not app.config["INDEX_AUTO_REBUILD"]:
                log.error("%s: run `flask --app opac reindex`", reason)
                return 0
            log.warning("%s: rebuilding the search index", reason)
            rebuild(app)
    index_dir = app.config["INDEX_DIR"]
    with idx.writer_lock(index_dir, timeout=timeout):
        gen = idx.generation_path(index_dir)
        position = idx.read_position(gen) if gen else None
        if position is None:
            return 0

        def apply(deadline=None):
            with app.app_context():  # also in the idle thread
                return apply_changes(gen, position, gap_seconds=float(app.config["INDEX_FEED_GAP_SECONDS"]),
                                     yield_seconds=float(app.config["BULK_YIELD_SECONDS"]),
                                     progress=progress, deadline=deadline)

        max_lag = float(app.config["INDEX_IDLE_MAX_LAG_SECONDS"])
        if not _idle_backlog(position, int(app.config["INDEX_IDLE_BACKLOG"]), max_lag):
            return apply()
        try:
            return run_idle(apply, deadline=time.monotonic() + max_lag)
        except Overdue as late:
            log.warning("index follower: the backlog waited %.0f s for an idle core; applying the rest "
                        "at the background priority", max_lag)
            return late.done + apply()


def _idle_backlog(position: dict, least: int, max_lag: float) -> bool:
    """Whether the feed after ``position`` is a backlog (at least ``least`` changes: an import)
    whose oldest change is younger than ``max_lag`` seconds: the follower applies such a backlog
    under the idle scheduling class (``priority.run_idle``), on cores nobody else wants, so an
    import slows neither the desk nor searching; an older one at its own priority."""
    if least <= 0:
        return False
    after = IndexChange.id > position["last_id"]
    with db.engine.connect() as conn:
        if conn.execute(select(IndexChange.id).where(after).order_by(IndexChange.id)
                        .offset(least - 1).limit(1)).first() is None:
            return False
        oldest = conn.execute(select(IndexChange.created_at).where(after).order_by(IndexChange.id).limit(1)).scalar()
    return oldest is not None and (utcnow() - oldest).total_seconds() < max_lag


#: Records per segment of a full rebuild at most: a segment's postings are gathered in memory
#: (about 20 kB a record: 1 GB per worker process at 50,000).
SEGMENT_RECORDS = 50_000
#: Below this many records a rebuild runs in this process (starting workers costs more).
PARALLEL_FROM = 4_000


@_with_app
def rebuild(app=None, progress=None, batch: int = 1000, workers: int | None = None,
            segment_records: int = SEGMENT_RECORDS, merged_records: int = bulk.MERGED_RECORDS) -> int:
    """Build a new index generation from the database and make it current without losing changes;
    returns the number of records indexed.

    The feed position is taken before the database is read; the old generation keeps serving
    (and following) while the new one is built; then the changes since that position are applied
    to the new generation and ``current`` is swapped under the writer lock.

    Records are read as plain rows in id order, in runs of consecutive ids, one segment each
    (``opac.search.bulk``), built by ``workers`` processes (default: one per core, none for a
    small catalogue), then merged into segments of up to ``merged_records`` documents. A record whose
    document cannot be built is logged with its id and left out.
    """
    index_dir = app.config["INDEX_DIR"]
    gap_seconds = float(app.config["INDEX_FEED_GAP_SECONDS"])
    with idx.build_lock(index_dir):
        with Session(db.engine) as session:
            position = start_position(session)
            session.rollback()  # a new snapshot for the reads below
            total = (session.scalar(select(func.count()).select_from(Record)) or 0) + (
                session.scalar(select(func.count()).select_from(PartnerRecord)) or 0)
            if workers is None:
                workers = min(os.cpu_count() or 1, 4) if total >= PARALLEL_FROM else 1
            parts = _parts(session, Record, max(workers, -(-total // segment_records)), segment_records)
            parts += _parts(session, PartnerRecord, 1, segment_records)
        path, ix = idx.new_generation(index_dir)
        try:
            segments, n = _build_segments(app, path, ix.schema, parts, batch, workers, progress, total,
                                          merged_records)
            bulk.list_segments(ix, segments)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        idx.write_position(path, position)
        # catch up outside the lock (nobody else writes this generation), then briefly under it
        apply_changes(path, position, gap_seconds=gap_seconds)
        with idx.writer_lock(index_dir, timeout=600):
            position = idx.read_position(path)
            apply_changes(path, position, gap_seconds=gap_seconds)
            idx.make_current(index_dir, path)
    return n


def _parts(session: Session, model, parts: int, most: int) -> list[tuple[str, int, int]]:
    """``(kind, first id, last id)`` runs of consecutive ids of ``model`` of about equal cost: ``parts``
    runs, or one per ``most`` rows when that is more (fewer when one row costs more than a run). A record's
    cost is taken as a constant plus the size of its MARC record: in the real catalogue the time to
    index a thousand records varies threefold along the ids, mostly with that size, and runs of equal
    counts left one of two worker processes idle for an eighth of the rebuild."""
    weight = (func.coalesce(func.length(model.marc), 0) + _RECORD_COST) if model is Record else literal(1)
    count, total, last = session.execute(select(func.count(), func.sum(weight), func.max(model.id))).one()
    if not count:
        return []
    parts = min(max(parts, -(-count // most), 1), count)
    cum = select(model.id.label("id"), func.sum(weight).over(order_by=model.id).label("cum")).subquery()
    # the run of a row: where the cost before it falls among ``parts`` equal shares of the total
    run = (cum.c.cum - 1) * parts // total
    cuts = list(session.scalars(select(func.min(cum.c.id)).group_by(run).order_by(func.min(cum.c.id))))
    kind = "record" if model is Record else "partner"
    return [(kind, lo, (cuts[i + 1] - 1) if i + 1 < len(cuts) else last) for i, lo in enumerate(cuts)]


#: The cost of indexing a record beside its MARC record's bytes (``_parts``), in bytes: fitted on the real
#: catalogue (37,991 records), where a record cost about 0.45 ms and each byte 0.8 µs more.
_RECORD_COST = 550


def _build_segments(app, path: Path, schema, parts, batch, workers, progress, total, merged_records):
    """One segment per part, in part order, then runs of them merged (``bulk.merge_runs``): in worker
    processes when there are several runs to merge; (segments, records indexed)."""
    if workers <= 1 or len(parts) <= 1:
        done = [0]

        def count(k):
            done[0] += k
            if progress:
                progress(done[0], total)

        results = [_build_part(app, path, schema, part, batch, count) for part in parts]
        segments = _merged(path, schema, results, merged_records)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        counter = ctx.Value("q", 0)
        with ctx.Pool(min(workers, len(parts)), initializer=_worker_init, initargs=(app, path, schema, counter)) as pool:
            pending = pool.imap(_worker_part, [(part, batch) for part in parts])
            results = []
            while len(results) < len(parts):
                try:
                    results.append(pending.next(timeout=0.5))
                except multiprocessing.TimeoutError:
                    pass
                if progress:
                    progress(counter.value, total)
            segments = _merged(path, schema, results, merged_records, pool)
    return segments, sum(k for _seg, k in results)


def _merged(path: Path, schema, results: list, most: int, pool=None) -> list:
    """The built segments (``results``: (segment or None, records)) with runs of them merged
    (``bulk.merge_runs``): in ``pool``'s processes when there are several runs to merge."""
    runs = bulk.merge_runs([seg for seg, _n in results if seg is not None], most)
    if pool is not None and sum(len(run) > 1 for run in runs) > 1:
        return pool.map(_worker_merge, runs, chunksize=1)
    return [_merge_run(path, schema, run) for run in runs]


def _merge_run(path: Path, schema, run: list):
    """One segment of a run of a rebuild's segments (the segment itself when alone)."""
    from whoosh.filedb.filestore import FileStorage

    return run[0] if len(run) == 1 else bulk.merge_segments(FileStorage(str(path)), idx.codec(), schema, run)


def _worker_merge(run: list):
    _app, path, schema, _counter = _worker
    return _merge_run(path, schema, run)


_worker: tuple | None = None


def _worker_init(app, path, schema, counter) -> None:
    global _worker
    with app.app_context():
        db.engine.dispose(close=False)  # the parent's connections stay the parent's
    _worker = (app, path, schema, counter)


def _worker_part(args):
    app, path, schema, counter = _worker
    part, batch = args

    def count(k):
        with counter.get_lock():
            counter.value += k

    return _build_part(app, path, schema, part, batch, count)


def _build_part(app, path: Path, schema, part, batch: int, count):
    """Build the segment of one part of the records; (segment or None when empty, records indexed)."""
    from whoosh.filedb.filestore import FileStorage

    kind, lo, hi = part
    builder = bulk.SegmentBuilder(FileStorage(str(path)), schema, idx.codec())
    n = 0
    first_error = None
    with bulk.no_cyclic_gc():
        with app.app_context():
            rows = _record_rows(lo, hi, batch) if kind == "record" else _partner_records(lo, hi, batch)
            for chunk in rows:
                for rec, items in chunk:
                    try:
                        if is_public(rec):
                            builder.add(build_document(rec, items))
                        n += 1
                    except Exception as exc:  # noqa: BLE001 - one bad record must not stop the rebuild
                        first_error = first_error or exc
                        log.warning("record %s left out of the index: %s: %s", doc_id(rec), type(exc).__name__, exc)
                count(len(chunk))
        if first_error is not None and not n:
            raise first_error  # not one record could be indexed: a fault of the code, not of a record
        segment = builder.finish()
    return (segment if builder.docnum else None), n


def _record_rows(lo: int, hi: int, batch: int):
    """Batches of (record row, [ItemFacts]) with ids ``lo..hi``, read as plain rows (no ORM objects)."""
    rec = Record.__table__
    # documents.is_public reads it (a row has no Record.is_public property): the rule's SQL form
    public = Record.is_public.label("is_public")
    item_cols = select(Item.record_id, Item.barcode, Item.call_number, Item.status, Location.code).select_from(
        Item.__table__.outerjoin(Location.__table__))
    last = lo - 1
    with db.engine.connect() as conn:
        while True:
            recs = conn.execute(select(rec, public).where(rec.c.id > last, rec.c.id <= hi).order_by(rec.c.id)
                                .limit(batch)).all()
            if not recs:
                break
            items: dict[int, list[ItemFacts]] = {}
            for r in conn.execute(item_cols.where(Item.record_id >= recs[0].id, Item.record_id <= recs[-1].id)
                                  .order_by(Item.record_id, Item.id)):
                items.setdefault(r[0], []).append(ItemFacts(r[1], r[2], r[3], r[4]))
            yield [(r, items.get(r.id, [])) for r in recs]
            last = recs[-1].id


def _partner_records(lo: int, hi: int, batch: int):
    """Batches of (partner record, no items) with ids ``lo..hi`` (ORM objects: their page URL)."""
    last = lo - 1
    with Session(db.engine) as session:
        while True:
            recs = session.scalars(select(PartnerRecord).where(PartnerRecord.id > last, PartnerRecord.id <= hi)
                                   .order_by(PartnerRecord.id).limit(batch)).all()
            if not recs:
                break
            yield [(r, None) for r in recs]
            last = recs[-1].id
            session.expunge_all()


# ----------------------------------------------------------------------------- lag, pruning, the loop


@_with_app
def feed_status(app=None) -> dict:
    """How far this node's index is behind the feed: changes not applied and the age of the oldest."""
    gen = idx.generation_path(app.config["INDEX_DIR"])
    position = idx.read_position(gen) if gen else None
    info = {"position": None, "gaps": None, "lag_changes": None, "lag_seconds": None, "applied_at": None}
    if position is None:
        return info
    gaps = [int(k) for k in position["gaps"]]
    cond = IndexChange.id > position["last_id"]
    if gaps:
        cond = or_(cond, IndexChange.id.in_(gaps[:MAX_GAPS_READ]))
    with db.engine.connect() as conn:
        count, oldest = conn.execute(select(func.count(), func.min(IndexChange.created_at)).where(cond)).one()
    lag = max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    info.update(position=position["last_id"], gaps=len(gaps), lag_changes=count, lag_seconds=round(lag, 3),
                applied_at=position.get("applied_at"))
    return info


def pending() -> int:
    """Changes in the feed not yet in this node's index (0 without an index position)."""
    return feed_status().get("lag_changes") or 0


@_with_app
def prune_feed(app=None, now=None) -> int:
    """Delete feed rows older than ``INDEX_FEED_RETENTION_DAYS``; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=float(app.config["INDEX_FEED_RETENTION_DAYS"]))
    with Session(db.engine) as session:
        n = session.execute(delete(IndexChange).where(IndexChange.created_at < cutoff)).rowcount
        session.commit()
    return n or 0


def follow(app, *, once: bool = False, echo=None) -> int:
    """The per-node follower loop: poll the feed every ``INDEX_FOLLOW_INTERVAL`` seconds (at most one
    commit every ``INDEX_COMMIT_INTERVAL``), merge the small segments of its commits once the feed has
    been quiet ``INDEX_MERGE_QUIET_SECONDS``, prune the feed hourly, stop on SIGTERM/SIGINT (after the
    current batch), or when the parent that started it (``OPAC_FOLLOWER_PARENT``, set by
    gunicorn.conf.py) is gone."""
    if once:
        return follow_once(app)
    interval = float(app.config["INDEX_FOLLOW_INTERVAL"])
    after_commit = max(interval, float(app.config["INDEX_COMMIT_INTERVAL"]))
    parent = int(os.environ.get("OPAC_FOLLOWER_PARENT") or 0)
    stopping = {"flag": False}

    def stop(_signum, _frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    quiet_merge = float(app.config["INDEX_MERGE_QUIET_SECONDS"])
    total = 0
    last_prune = 0.0
    last_check = 0.0
    last_write = time.monotonic()  # a tail left by an earlier run is merged after a quiet start too
    failures = 0
    while not stopping["flag"]:
        if parent and os.getppid() != parent:
            log.warning("index follower: the process that started it is gone; stopping")
            break
        n = 0  # a poll that failed wrote nothing
        try:
            # whether to rebuild is checked at start, every half minute, and when the index is gone
            gen = idx.generation_path(app.config["INDEX_DIR"])
            check = time.monotonic() - last_check > 30 or gen is None or idx.read_position(gen) is None
            if check:
                last_check = time.monotonic()
            n = follow_once(app, rebuild_if_needed=check)
            total += n
            if n and echo:
                echo(n)
            if n:
                last_write = time.monotonic()
            elif quiet_merge and last_write is not None and time.monotonic() - last_write >= quiet_merge:
                merged = merge_tail(app)
                last_write = None  # until the next change
                if merged:
                    log.info("index follower: merged %d small segments into one", merged)
            if time.monotonic() - last_prune > 3600:
                last_prune = time.monotonic()
                pruned = prune_feed(app)
                if pruned:
                    log.info("index follower: pruned %d old feed rows", pruned)
            failures = 0
        except idx.WriterBusy:
            pass  # a reindex is handing over; try again
        except Exception:  # noqa: BLE001 - keep following: the next poll retries from the stored position
            failures += 1
            log.exception("index follower: applying changes failed (attempt %d)", failures)
            time.sleep(min(30.0, interval * 2**failures))
        # Sleep longer after a poll that wrote: each commit costs the follower a Whoosh commit
        # (and a merge of small segments) and makes every web worker open a new searcher and drop
        # its per-generation caches, so changes arriving one by one (the desk) are applied in
        # batches of INDEX_COMMIT_INTERVAL, while a lone change waits one poll only. A backlog (an
        # import) is applied in one poll.
        time.sleep(after_commit if n else interval)
    return total
