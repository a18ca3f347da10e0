"""A comparable snapshot of every table's rows (to prove a refused action changed nothing)."""

from __future__ import annotations

from sqlalchemy import select

from opac.extensions import db

IGNORED = {"alembic_version", "login_throttle", "auth_session", "index_change"}


def db_state() -> dict:
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in IGNORED:
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    return out


