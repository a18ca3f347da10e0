"""Probes for load balancers: ``/healthz`` (the process answers) and ``/readyz`` (this node can
serve: database reachable, index present, index not too far behind the change feed).

Public, no patron data, never cached.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/healthz")
def healthz():
    """Liveness: answers without touching the database or the index."""
    resp = current_app.response_class("ok\n", mimetype="text/plain")
    return _no_store(resp)


@bp.get("/readyz")
def readyz():
    """Readiness as JSON; 503 when the database or the index is unusable or the index lags more
    than ``INDEX_READY_MAX_LAG_SECONDS``."""
    from . import sync
    from .services import SearchUnavailable, get_index

    problems: list[str] = []
    body: dict = {"ready": False, "database": False, "index": False, "index_documents": None,
                  "lag_seconds": None, "lag_changes": None, "feed_position": None}
    try:
        from ..extensions import db

        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        body["database"] = True
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        problems.append(f"database not reachable ({type(exc).__name__})")
    try:
        body["index_documents"] = get_index().snapshot().doc_count
        body["index"] = True
    except SearchUnavailable as exc:
        problems.append(str(exc))
    if body["database"] and body["index"]:
        try:
            feed = sync.feed_status(current_app)
        except Exception as exc:  # noqa: BLE001
            log.exception("readyz: reading the change feed failed")
            problems.append(f"change feed not readable ({type(exc).__name__})")
        else:
            body.update(lag_seconds=feed["lag_seconds"], lag_changes=feed["lag_changes"],
                        feed_position=feed["position"])
            limit = float(current_app.config["INDEX_READY_MAX_LAG_SECONDS"])
            if feed["position"] is None:
                problems.append("the index has no feed position yet (the follower is rebuilding it)")
            elif feed["lag_seconds"] > limit:
                problems.append(f"the index is {feed['lag_seconds']:.0f} s behind the database (limit {limit:.0f} s)")
    body["ready"] = not problems
    body["problems"] = problems
    resp = jsonify(body)
    resp.status_code = 200 if body["ready"] else 503
    return _no_store(resp)

