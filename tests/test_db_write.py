"""Write transactions: every state-changing request takes SQLite's write lock when its
transaction begins; ``begin_write`` never commits what the request has done so far."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from opac.accounts.models import PatronCategory
from opac.db import WRITE_OPTION, begin_write
from opac.extensions import db


def _sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": False}  # these tests call the request hooks directly


@contextmanager
def _statements(app, wanted: Callable[[str], bool]) -> Iterator[list[str]]:
    """The statements sent to the database while the block runs, those ``wanted`` accepts."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if wanted(statement):
            seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def begins(app):
    """The BEGIN statements sent to the database (SQLite emits them itself)."""
    with _statements(app, lambda statement: statement.startswith("BEGIN")) as seen:
        yield seen


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_state_changing_request_is_a_write_transaction(app, begins, method):
    if not _sqlite(app):
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL locks rows")
    with app.test_request_context("/account/history/delete", method=method):
        app.preprocess_request()
        assert db.session().info.get(WRITE_OPTION)
        begins.clear()  # the index check before the hook reads on a connection of its own
        db.session.scalar(select(PatronCategory.id).limit(1))
        db.session.commit()
        db.session.scalar(select(PatronCategory.id).limit(1))  # the next transaction of the request too
    assert begins == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]


def test_a_read_request_and_a_login_read_first(app, begins):
    if not _sqlite(app):
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    with app.test_request_context("/search", method="GET"):
        app.preprocess_request()
        begins.clear()
        db.session.scalar(select(PatronCategory.id).limit(1))
    with app.test_request_context("/api/v1/login", method="POST", json={}):
        app.preprocess_request()  # the password is checked before the write lock is taken
        del begins[1:]
        db.session.scalar(select(PatronCategory.id).limit(1))
    assert begins == ["BEGIN", "BEGIN"]


def test_begin_write_commits_nothing(app):
    with app.test_request_context():
        db.session.add(PatronCategory(code="alumni", name="Alumni", card_years=1))
        db.session.flush()
        begin_write()
        db.session.rollback()
        assert db.session.scalar(select(PatronCategory).where(PatronCategory.code == "alumni")) is None


def test_begin_write_after_a_read_starts_a_fresh_write_transaction(app, begins):
    with app.test_request_context():
        db.session.scalar(select(PatronCategory.id).limit(1))
        begin_write()
        db.session.add(PatronCategory(code="alumni", name="Alumni", card_years=1))
        db.session.commit()
    if _sqlite(app):
        assert begins == ["BEGIN", "BEGIN IMMEDIATE"]
    with app.app_context():
        assert db.session.scalar(select(PatronCategory.name).where(PatronCategory.code == "alumni")) == "Alumni"


def test_a_login_refused_for_a_wrong_pin_still_counts(app, client, make_patron):
    from opac.accounts.models import LoginThrottle
    from tests.conftest import csrf_token

    _, card, _pin = make_patron()
    r = client.post("/api/v1/login", json={"card": card, "pin": "0000"}, headers={"X-CSRFToken": csrf_token(client)})
    assert r.status_code == 401
    with app.app_context():
        counts = {t.key: t.attempts for t in db.session.scalars(select(LoginThrottle))}
    assert counts[f"patron:{card.lower()}"] == 1 and counts["ip:127.0.0.1"] == 1


def _hold_write_lock(path: str, seconds: float, released: list) -> None:
    """Another process's write transaction (a connection of its own), committed after ``seconds``."""
    import sqlite3
    import time

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    released.append(None)  # taken
    time.sleep(seconds)
    conn.execute("COMMIT")
    released.append(time.monotonic())
    conn.close()


def _lock_held_elsewhere(path: str, seconds: float):
    """Start ``_hold_write_lock`` in a thread and return once it holds the lock: (thread, released)."""
    import threading
    import time

    released: list = []
    t = threading.Thread(target=_hold_write_lock, args=(path, seconds, released))
    t.start()
    while not released:
        time.sleep(0.001)
    return t, released


def test_a_waiting_write_gets_the_lock_about_a_millisecond_after_it_is_free(app):
    """SQLite's busy handler sleeps up to 100 ms between tries: a write waiting 0.25 s for an import's
    batch got the lock ~28 ms after the batch ended. Polled every millisecond, it is there at once."""
    import time

    from opac.extensions import write_engine

    if not _sqlite(app):
        pytest.skip("SQLite's write lock")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    late = []
    with app.app_context():
        engine = write_engine(db.engine)
        for _ in range(3):
            t, released = _lock_held_elsewhere(path, 0.25)
            with engine.begin():
                got = time.monotonic()
            t.join()
            late.append(got - released[1])
    assert min(late) < 0.012, late  # SQLite's own schedule: 0.028 s late, every time


def test_a_write_gives_up_after_its_connections_busy_timeout(app):
    """The polling keeps each connection's busy timeout (a search-miss count waits 0.25 s, not 30)."""
    import time

    from sqlalchemy.exc import OperationalError

    from opac.extensions import write_engine

    if not _sqlite(app):
        pytest.skip("SQLite's write lock")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    t, _released = _lock_held_elsewhere(path, 1.5)
    with app.app_context():
        with write_engine(db.engine).connect() as conn:
            raw = conn.connection.dbapi_connection
            raw.execute("PRAGMA busy_timeout=200")
            t0 = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                conn.begin()
            waited = time.monotonic() - t0
            assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 200
    t.join()
    assert 0.15 < waited < 1.0, waited


def _request_marks(session) -> int:
    """Write-request marks (shared advisory locks) this session's connection holds (PostgreSQL)."""
    from sqlalchemy import text

    from opac.db import _REQUEST_MARK

    return session.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                                "AND mode = 'ShareLock' AND pid = pg_backend_pid()"), {"k": _REQUEST_MARK}).scalar()


def test_a_write_request_marks_its_transaction_on_postgresql(app):
    if _sqlite(app):
        pytest.skip("PostgreSQL's advisory locks")
    with app.test_request_context("/account/history/delete", method="POST"):
        app.preprocess_request()
        assert _request_marks(db.session) == 1
        db.session.commit()
        assert _request_marks(db.session) == 0  # the mark ends with the transaction
    with app.test_request_context("/search", method="GET"):
        app.preprocess_request()
        assert _request_marks(db.session) == 0


def test_a_bulk_writer_on_postgresql_waits_for_a_moment_without_write_requests(app, monkeypatch):
    """An import's transaction begins at once when the desk is idle, and looks again (up to
    BULK_YIELD_SECONDS) while a write request is in progress."""
    import opac.db as dbmod

    if _sqlite(app):
        pytest.skip("SQLite's bulk writer takes turns at the write lock")
    monkeypatch.setattr(dbmod, "_bulk_writer", True)
    monkeypatch.setattr(dbmod, "_bulk_wait_s", 0.1)
    monkeypatch.setattr(dbmod, "_request_seen_at", float("-inf"))
    with app.app_context(), _statements(app, lambda statement: "pg_try_advisory_lock" in statement) as looks:
        with db.engine.connect() as conn:
            conn.execute(select(1))
        idle = len(looks)
        with app.test_request_context("/account/history/delete", method="POST"):
            # a request in progress, holding its mark (a web worker: not the bulk writer)
            monkeypatch.setattr(dbmod, "_bulk_writer", False)
            app.preprocess_request()
            monkeypatch.setattr(dbmod, "_bulk_writer", True)
            before = len(looks)
            with db.engine.connect() as conn:
                conn.execute(select(1))
            busy = len(looks) - before
            db.session.rollback()
    assert idle == 1, looks
    assert busy >= 2, looks


def test_a_request_only_reads_after_its_circulation_action(app, begins):
    """SQLite: the page after a checkout reads in a plain BEGIN; it does not wait for the write lock
    (an import's batch) a second time."""
    from opac.circulation.actions import _in_write_transaction

    if not _sqlite(app):
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    with app.test_request_context("/staff/desk", method="POST"):
        app.preprocess_request()
        begins.clear()
        _in_write_transaction(lambda: {"ok": True, "id": db.session.scalar(select(PatronCategory.id).limit(1))})
        db.session.scalar(select(PatronCategory.id).limit(1))  # the page
        _in_write_transaction(lambda: {"ok": True, "id": db.session.scalar(select(PatronCategory.id).limit(1))})
    assert begins == ["BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE"]


def test_a_bulk_writer_never_marks_itself_as_a_request(app, monkeypatch):
    """PostgreSQL: the import's own transactions take no write-request mark (the follower and other
    bulk jobs would wait for the import as if it were the desk); a request marks once per transaction."""
    import opac.db as dbmod

    if _sqlite(app):
        pytest.skip("PostgreSQL's advisory locks")
    with app.app_context(), _statements(app, lambda statement: "advisory_xact_lock_shared" in statement) as marks:
        with app.test_request_context("/account/history/delete", method="POST"):
            app.preprocess_request()
            dbmod.begin_write()  # the view again: no second mark
            assert len(marks) == 1, marks
            db.session.commit()
            dbmod.begin_write()  # the next transaction is marked again
            assert len(marks) == 2, marks
            db.session.rollback()
        monkeypatch.setattr(dbmod, "_bulk_writer", True)
        monkeypatch.setattr(dbmod, "_bulk_wait_s", 0.0)
        dbmod.begin_write()
        db.session.execute(select(1))
        db.session.rollback()
        assert len(marks) == 2, marks


def _sqlite_marked(app) -> bool:
    """Whether some write request holds the SQLite mark file (asked as the bulk writer asks)."""
    import os

    from opac.db import requests_in_progress

    fd = os.open(db.engine.url.database + "-requests", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        return requests_in_progress(fd)
    finally:
        os.close(fd)


def test_a_write_request_marks_itself_on_sqlite_until_it_ends(app):
    """SQLite: a write request holds the mark file shared from its first write transaction until
    ``end_write`` or the end of its context; a read request never does."""
    from opac.db import end_write

    if not _sqlite(app):
        pytest.skip("PostgreSQL marks the transaction with an advisory lock")
    with app.app_context():
        with app.test_request_context("/account/history/delete", method="POST"):
            app.preprocess_request()
            assert _sqlite_marked(app)
            db.session.commit()
            assert _sqlite_marked(app)  # still the request's: its page may write again
        assert not _sqlite_marked(app)  # the context's end released it
        with app.test_request_context("/search", method="GET"):
            app.preprocess_request()
            assert not _sqlite_marked(app)
        with app.test_request_context("/account/history/delete", method="POST"):
            app.preprocess_request()
            db.session.commit()
            end_write()
            assert not _sqlite_marked(app)


def test_a_bulk_writer_on_sqlite_waits_for_a_moment_without_write_requests(app, monkeypatch):
    """An import's batch (and the follower's every 50 records) begins at once when the desk is
    idle, and looks again, up to BULK_YIELD_SECONDS, while a write request is in progress."""
    import time

    import opac.db as dbmod

    if not _sqlite(app):
        pytest.skip("see test_a_bulk_writer_on_postgresql_waits_for_a_moment_without_write_requests")
    monkeypatch.setattr(dbmod, "_request_seen_at", float("-inf"))
    with app.app_context():
        with db.engine.connect() as conn:
            assert dbmod.wait_for_quiet(conn, 0.2) == 1
        with app.test_request_context("/account/history/delete", method="POST"):
            app.preprocess_request()  # a request in progress (a web worker)
            with db.engine.connect() as conn:
                t = time.monotonic()
                looks = dbmod.wait_for_quiet(conn, 0.2)
                waited = time.monotonic() - t
            db.session.rollback()
    assert looks >= 2 and waited >= 0.2, (looks, waited)

