"""Start-up checks run by each server process: database reachable, index usable.

Web workers never write the index: a missing or stale index is rebuilt by this node's follower
(`flask --app opac index follow`, started beside the workers by gunicorn.conf.py unless
``OPAC_EMBEDDED_FOLLOWER=false``) or by `flask --app opac reindex`.
"""

from __future__ import annotations

import logging

from sqlalchemy import inspect

log = logging.getLogger("opac")


def startup_checks(app) -> None:
    """Log what is wrong and which command repairs it; never blocks the worker."""
    from .extensions import db
    from .search import index as idx

    with app.app_context():
        try:
            tables = set(inspect(db.engine).get_table_names())
        except Exception as exc:  # noqa: BLE001 - report and keep serving error pages
            log.error("database not reachable (%s): check OPAC_DATABASE_URL", exc)
            return
        if "record" not in tables:
            log.error("database has no tables: run `flask --app opac init-db`")
            return
        problem = idx.check_index(app.config["INDEX_DIR"])
        if problem is not None:
            log.error("%s: the index follower rebuilds it (or run `flask --app opac reindex`)", problem)
