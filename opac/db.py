"""Database engine set-up and the write-transaction helpers circulation relies on.

SQLite: WAL, foreign keys, a busy timeout, and transactions begun by us so that a write
transaction can start with ``BEGIN IMMEDIATE`` (it takes the write lock up front instead of
failing with "database is locked" when two workers upgrade read transactions at once).
PostgreSQL: services lock the rows they change with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db

WRITE_OPTION = "opac_write"


def configure_engine(engine: Engine) -> None:
    """Install the SQLite pragmas and BEGIN handling on ``engine`` (no-op for other databases)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def begin_write() -> None:
    """Start the request's write transaction, taking SQLite's write lock at once.

    Called by views and commands before a service that must not race (circulation, holds,
    throttles). Ends any read transaction first: on SQLite a read snapshot cannot be upgraded
    safely once another worker has written.
    """
    session = db.session()  # the real Session behind the scoped proxy
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})


def for_update(query):
    """``query.with_for_update()``: row locks on PostgreSQL; SQLite relies on ``begin_write``."""
    return query.with_for_update()


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
