"""Start-up checks run by each server process: database reachable, index usable (or rebuilt)."""

from __future__ import annotations

import logging

from sqlalchemy import inspect

log = logging.getLogger("opac")


def startup_checks(app) -> None:
    """Rebuild a missing, corrupt or old-schema index when allowed; otherwise say what to run."""
    from .extensions import db
    from .search import index as idx
    from .search import sync

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
        if problem is None:
            sync.drain(app, timeout=0)
            return
        if app.config["INDEX_AUTO_REBUILD"]:
            log.warning("%s: rebuilding the search index", problem)
            sync.rebuild(app, only_if_needed=True)
        else:
            log.error("%s: run `flask --app opac reindex`", problem)
