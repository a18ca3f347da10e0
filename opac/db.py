"""Database engine set-up and write transactions.

SQLite: WAL, foreign keys, a busy timeout, and transactions begun by us so that a write
transaction can start with ``BEGIN IMMEDIATE``: it takes the write lock up front (waiting up to
the busy timeout) instead of failing with "database is locked" when a read transaction tries to
become a write one after another worker has written. Every POST/PUT/PATCH/DELETE request is a
write request (``init_app``); the few writes from a read request go through ``short_write``.
PostgreSQL: services lock the rows they change with ``SELECT ... FOR UPDATE``; a write request also
marks itself (a shared advisory lock for its first transaction) so that a bulk import can wait for a
moment when no request is in progress (``yield_to_requests``).
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from .extensions import WRITE_OPTION, WriteAwareSession, db, write_engine

_WRITE_NEXT = "opac_write_next"
_MARKED = "opac_request_marked"  # PostgreSQL: this transaction holds the write-request mark
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def configure_engine(engine: Engine) -> None:
    """Install the SQLite pragmas and BEGIN handling on ``engine``; on PostgreSQL, the bulk writer's
    wait for a quiet moment before each of its transactions."""
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn):
            if _bulk_writer and _bulk_wait_s > 0:
                wait_for_quiet(conn, _bulk_wait_s)
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = bool(conn.get_execution_options().get(WRITE_OPTION))
        if immediate:
            if _bulk_writer and _bulk_wait_s > 0:
                wait_for_quiet(conn, _bulk_wait_s)
            _begin_immediate(conn, engine.url.database)
        else:
            conn.exec_driver_sql("BEGIN")
        conn.info["opac_write_txn"] = immediate
        conn.info["opac_changes_at_begin"] = conn.connection.dbapi_connection.total_changes


# ----------------------------------------------------------------------------- fair turns at the write lock
# SQLite's own busy handler retries a waiting BEGIN IMMEDIATE after sleeps growing to 100 ms: a
# write waiting 0.25 s got the lock 28-85 ms after it was free (tests/test_db_write.py), and a bulk
# job that commits and at once begins its next batch took the lock again before a waiting request
# woke up (during an import a checkout could wait batch after batch until the busy timeout, a 500).
# So BEGIN IMMEDIATE is retried here, every millisecond for a request (a few for a bulk job), up to
# the busy timeout; and a flock beside the database makes a bulk job wait its turn: requests hold it
# shared while they wait for the write lock, a bulk job takes it exclusively only to try to begin a
# batch, so it cannot begin one while a request waits. A request then waits for at most the batch
# in progress, and gets the lock about a millisecond after it ends.
#
# The cores are what an import takes from the desk besides the lock (on PostgreSQL its backend is
# not niced): a checkout's p95 during an import was 1.9x its p95 alone on a quiet machine, and on
# SQLite 1.4x even with the import and the follower in the idle scheduling class (two cores that
# may share one physical core). So a write request holds a mark while it is in progress (PostgreSQL:
# a shared advisory lock, _REQUEST_MARK, for its transaction; SQLite: a read lock on the file
# "<database>-requests" until end_write or the end of its context), and a bulk job begins each
# transaction only when no request holds it (PostgreSQL: it could take the lock exclusively;
# SQLite: it asks, F_OFD_GETLK, without taking anything) and has not for
# _QUIET_S (not in the gap between a librarian's back-to-back scans), waiting at most
# BULK_YIELD_SECONDS: a desk busy without a pause slows an import down, never stops it. The index
# follower, indexing what the import wrote, does the same every FOLLOW_YIELD_EVERY records.
_bulk_writer = False
_bulk_wait_s = 0.0
BUSY_TIMEOUT_S = 30.0
_SQLITE_BUSY = 5
_REQUEST_MARK = 0x6F706163  # "opac": the advisory lock key of write requests (PostgreSQL)
_QUIET_S = 0.02
_LOOK_EVERY_S = 0.01  # a look every 2 ms doubled the import's CPU time (and its backend's)
_request_seen_at = float("-inf")  # when the bulk writer last saw a write request in progress
_probe_fds: dict[str, int] = {}
_MARK_FD = "opac_request_mark_fd"  # SQLite: the session's open mark file (see _mark_request)


@contextmanager
def yield_to_requests(wait_seconds: float):
    """Within this block the process is a bulk writer (an import): before each write transaction
    it waits up to ``wait_seconds`` (``BULK_YIELD_SECONDS``) for a moment when no write request is
    in progress, and on SQLite lets every request waiting for the write lock go first. A block,
    not a switch: a command run inside another process (a test's CLI runner) must not leave that
    process a bulk writer."""
    global _bulk_writer, _bulk_wait_s
    saved = _bulk_writer, _bulk_wait_s
    _bulk_writer, _bulk_wait_s = True, float(wait_seconds)
    try:
        yield
    finally:
        _bulk_writer, _bulk_wait_s = saved


def wait_for_quiet(conn, wait_seconds: float) -> int:
    """Wait until no write request has been seen in progress for ``_QUIET_S``, at most
    ``wait_seconds``; returns the looks taken (1: the desk is idle). ``conn``: a connection of the
    bulk job (PostgreSQL: the requests' advisory mark; SQLite: their mark file)."""
    global _request_seen_at
    if conn.dialect.name == "postgresql":
        def idle() -> bool:
            if conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_REQUEST_MARK})").scalar():
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_REQUEST_MARK})")
                return True
            return False
    else:
        fd = _probe_fd(_marks_path(conn.engine.url.database))
        if fd is None:
            return 1

        def idle() -> bool:
            return not requests_in_progress(fd)
    deadline = time.monotonic() + wait_seconds
    looks = 0
    while True:
        looks += 1
        if idle():
            if time.monotonic() - _request_seen_at >= _QUIET_S:
                return looks
        else:
            _request_seen_at = time.monotonic()
        if time.monotonic() >= deadline:
            return looks
        time.sleep(_LOOK_EVERY_S)


def _side_file(database: str | None, suffix: str) -> str | None:
    """SQLite: the lock file ``<database><suffix>`` beside a database file (None: no file database):
    "-turn" (requests waiting for the write lock, ``_begin_immediate``), "-requests" (write requests
    in progress, ``_mark_request``).

    >>> _side_file("/var/lib/opac/opac.sqlite", "-turn"), _side_file(":memory:", "-turn")
    ('/var/lib/opac/opac.sqlite-turn', None)
    """
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return database + suffix


def _marks_path(database: str | None) -> str | None:
    """SQLite: the file a write request holds a read lock on while it is in progress."""
    return _side_file(database, "-requests")


def _probe_fd(path: str | None) -> int | None:
    """An open file of this process to look at ``path``'s locks with (opened once)."""
    if path is None:
        return None
    fd = _probe_fds.get(path)
    if fd is None:
        fd = _probe_fds[path] = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    return fd


#: ``struct flock`` of Linux (type, whence, start, length, pid; 32 bytes on 64-bit systems).
_FLOCK = struct.Struct("hhqqi4x")


def requests_in_progress(fd: int) -> bool:
    """SQLite: whether a write request holds a read lock on the mark file open as ``fd``. Only
    asked (``F_OFD_GETLK``), never taken: a bulk job's look cannot make a request wait, not even
    when the look is preempted (the follower's idle-class thread; an exclusive flock held by it
    for a look once kept a patron's checkout waiting while the thread got no core)."""
    got = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0))
    return _FLOCK.unpack(got)[0] != fcntl.F_UNLCK


def _mark_request(session) -> None:
    """SQLite: this session's request (or command) writes from now on: it holds a read lock on the
    mark file (an open file description lock) until ``end_write`` or the end of its context, and a
    bulk job waits for a moment without one before each batch (as PostgreSQL's advisory mark).
    Nobody ever takes the file's write lock, so marking never waits."""
    if _bulk_writer or session.info.get(_MARK_FD) is not None:
        return
    path = _marks_path(db.engine.url.database)
    if path is None:
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0))
    session.info[_MARK_FD] = fd


def _unmark_request(session) -> None:
    fd = session.info.pop(_MARK_FD, None)
    if fd is not None:
        os.close(fd)  # releases its lock


def _try_begin(conn) -> bool:
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorcode", _SQLITE_BUSY) & 0xFF != _SQLITE_BUSY:
            raise
        return False
    return True


def _begin_immediate(conn, database: str | None) -> None:
    """BEGIN IMMEDIATE, polled (SQLite's busy handler is off meanwhile) up to the connection's busy
    timeout, taking turns with bulk jobs."""
    dbapi_conn = conn.connection.dbapi_connection
    timeout_ms = dbapi_conn.execute("PRAGMA busy_timeout").fetchone()[0]
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        pause = 0.005 if _bulk_writer else 0.001
        with _turn_file(database) as fd:
            if fd is not None and not _bulk_writer:
                fcntl.flock(fd, fcntl.LOCK_SH)  # a bulk job holds it only while it tries to begin
            while True:
                if fd is not None and _bulk_writer:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # waits while requests wait for the write lock
                    try:
                        if _try_begin(conn):
                            return
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                elif _try_begin(conn):
                    return
                if time.monotonic() >= deadline:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try: "database is locked", as SQLAlchemy raises it
                    return
                time.sleep(pause)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")


@contextmanager
def _turn_file(database: str | None):
    path = _side_file(database, "-turn")
    if path is None:
        yield None
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)  # releases the flock


def request_waiting() -> bool:
    """SQLite, in a bulk writer (``yield_to_requests``): whether a write request is waiting for
    the write lock now (it holds the turn file shared while it waits). The import then ends its
    batch at the record in hand, so a checkout waits for one record, not for a whole batch."""
    if not _bulk_writer or not is_sqlite():
        return False
    fd = _probe_fd(_side_file(db.engine.url.database, "-turn"))
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def in_write_transaction() -> bool:
    """Whether the request's session is in write mode (SQLite: its transactions hold the write lock)."""
    info = db.session().info
    return bool(info.get(WRITE_OPTION) or info.get(_WRITE_NEXT))


def begin_write() -> None:
    """Make the rest of this request (or command) a write transaction; never commits.

    On SQLite the session's transactions from now on begin with BEGIN IMMEDIATE. An open
    transaction that has read but not written is rolled back first (nothing is lost; a read
    snapshot cannot safely become a write transaction once another worker has written); one that
    has already written holds the write lock and simply goes on (the mode then applies from the
    next transaction). On PostgreSQL it marks the transaction as a request's write (a bulk import
    waits for a moment without one, ``yield_to_requests``) and changes nothing else.
    """
    if db.engine.dialect.name == "postgresql":
        session = db.session()
        if _bulk_writer:
            return  # the mark says "a request is in progress": a bulk job waits for it, never makes it
        if not session.info.get(_MARKED):  # once per transaction (the lock lasts until its end)
            # never waits: a bulk job's look holds the lock exclusively for an instant, and the
            # follower looks from a thread of the idle class, which may be preempted in that instant
            # (unmarked, this request is simply not waited for)
            session.execute(text(f"SELECT pg_try_advisory_xact_lock_shared({_REQUEST_MARK})"))
            session.info[_MARKED] = True
        return
    if db.engine.dialect.name != "sqlite":
        return
    session = db.session()
    _mark_request(session)
    if session.info.get(WRITE_OPTION):
        return
    if session.in_transaction():
        session.flush()
        conn = session.connection()
        wrote = conn.connection.dbapi_connection.total_changes != conn.info.get("opac_changes_at_begin")
        if conn.info.get("opac_write_txn") or wrote:
            session.info[_WRITE_NEXT] = True  # switching engines mid-transaction would open a 2nd connection
            return
        session.rollback()
    session.info[WRITE_OPTION] = True


def end_write() -> None:
    """The request's writes are over (committed or rolled back): its next transactions only read,
    and on SQLite begin with a plain BEGIN instead of waiting for the write lock again (the desk
    page rendered after a checkout waited a second time for an import's batch). Call it between
    transactions; ``begin_write`` again before any further write."""
    session = db.session()
    session.info.pop(WRITE_OPTION, None)
    session.info.pop(_WRITE_NEXT, None)
    _unmark_request(session)


def _promote_write_mode(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MARKED, None)  # the transaction's advisory lock is gone with it
        if session.info.pop(_WRITE_NEXT, False):
            session.info[WRITE_OPTION] = True


event.listen(WriteAwareSession, "after_transaction_end", _promote_write_mode)


@contextmanager
def short_write():
    """A connection for one small write from a read request (a session's last-seen time),
    committed at once: in the request's own write transaction when it has one (a second
    connection would wait for the lock the request holds), else in a short BEGIN IMMEDIATE one."""
    if in_write_transaction():
        yield db.session().connection()
        return
    with write_engine(db.engine).begin() as conn:
        yield conn


def init_app(app) -> None:
    """Every state-changing request is a write request: on SQLite it takes the write lock when its
    transaction begins (after CSRF and the other checks registered before this hook)."""
    from flask import request

    @app.before_request
    def _begin_write_request():
        if request.method in WRITE_METHODS:
            view = app.view_functions.get(request.endpoint or "")
            if not getattr(view, "reads_first", False):
                begin_write()

    def _end_write_mark(_exc):
        # at the end of a request, and of a command's context before Flask-SQLAlchemy's own teardown
        # (registered earlier, so run later) removes the session
        if db.session.registry.has():
            _unmark_request(db.session())

    app.teardown_request(_end_write_mark)
    app.teardown_appcontext(_end_write_mark)


def reads_first(view):
    """Mark a write view that does slow read-only work first (a password check) and calls
    ``begin_write()`` itself before its first write, so the write lock is not held meanwhile."""
    view.reads_first = True
    return view


# ----------------------------------------------------------------------------- after-commit tasks

_tasks_installed = False


def after_commit(fn, key: str | None = None) -> None:
    """Run ``fn()`` once the current transaction has really committed (never on rollback, never
    for a savepoint). ``key`` de-duplicates: one drain of the index per commit, say."""
    info = db.session().info
    tasks = info.setdefault("opac_tasks", {})
    tasks[key or id(fn)] = fn


def install_task_hooks() -> None:
    global _tasks_installed
    if _tasks_installed:
        return
    from flask_sqlalchemy.session import Session as FSASession

    def _committed(session):
        session.info["opac_committed"] = True  # fires for savepoints too: act at the outer end

    def _ended(session, transaction):
        if transaction.nested or transaction.parent is not None:
            return
        committed = session.info.pop("opac_committed", False)
        tasks = session.info.pop("opac_tasks", {})
        if committed:
            for fn in tasks.values():
                fn()

    def _rolled_back(session, transaction):
        if transaction.parent is None:
            session.info.pop("opac_committed", None)
            session.info.pop("opac_tasks", None)

    event.listen(FSASession, "after_commit", _committed)
    event.listen(FSASession, "after_transaction_end", _ended)
    event.listen(FSASession, "after_soft_rollback", _rolled_back)
    _tasks_installed = True
