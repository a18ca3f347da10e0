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
