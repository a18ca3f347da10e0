"""The patron's signed-in devices in the JSON API: list them, sign one out, sign out the others."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from ..extensions import db
from . import devices
from .permissions import patron_required

bp = Blueprint("sessions_api", __name__, url_prefix="/api/v1")


def _current_id() -> str | None:
    token = current_user.get_id()
    return devices.session_key(token) if token else None


def session_json(row, current_id: str | None) -> dict:
    return {"id": row.ref, "device": row.device, "ip_prefix": row.ip_prefix,
            "created_at": row.created_at.isoformat() + "Z", "last_seen": row.last_seen.isoformat() + "Z",
            "current": row.id == current_id}


@bp.get("/sessions")
@patron_required
def sessions():
    current = _current_id()
    return jsonify(sessions=[session_json(r, current) for r in devices.user_sessions(current_user) if r.ref])


@bp.post("/sessions/<session_id>/revoke")
@patron_required
def revoke(session_id: str):
    if not devices.end_session_by_ref(current_user, session_id):
        db.session.rollback()
        return jsonify(error="not_found", message="No such session on your account."), 404
    db.session.commit()
    return jsonify(ok=True)


@bp.post("/sessions/revoke-others")
@patron_required
def revoke_others():
    n = devices.end_other_sessions(current_user, _current_id())
    db.session.commit()
    return jsonify(ok=True, ended=n)


def openapi_paths() -> tuple[dict, dict]:
    """The session endpoints for the OpenAPI document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    sec = [{"session": []}]
    session_schema = {"type": "object", "required": ["id", "device", "ip_prefix", "created_at", "last_seen", "current"],
                      "properties": {"id": {"type": "string"}, "device": {"type": ["string", "null"]},
                                     "ip_prefix": {"type": ["string", "null"]},
                                     "created_at": {"type": "string", "format": "date-time"},
                                     "last_seen": {"type": "string", "format": "date-time"},
                                     "current": {"type": "boolean"}}}
    ok = {"application/json": {"schema": {"type": "object", "required": ["ok"], "properties": {
        "ok": {"type": "boolean"}, "ended": {"type": "integer"}}}}}
    paths = {
        "/api/v1/sessions": {"get": {
            "summary": "My signed-in devices (login sessions), most recently used first", "operationId": "sessions",
            "security": sec, "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["sessions"],
                    "properties": {"sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}}}}},
                "401": {"description": "Not logged in", "content": err}}}},
        "/api/v1/sessions/{session_id}/revoke": {"post": {
            "summary": "Sign out one of my devices", "operationId": "revokeSession", "security": sec,
            "parameters": [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}, csrf],
            "responses": {"200": {"description": "Signed out", "content": ok},
                          "400": {"description": "CSRF token missing", "content": err},
                          "401": {"description": "Not logged in", "content": err},
                          "404": {"description": "No such session on this account", "content": err}}}},
        "/api/v1/sessions/revoke-others": {"post": {
            "summary": "Sign out all my other devices", "operationId": "revokeOtherSessions", "security": sec,
            "parameters": [csrf],
            "responses": {"200": {"description": "Signed out", "content": ok},
                          "400": {"description": "CSRF token missing", "content": err},
                          "401": {"description": "Not logged in", "content": err}}}},
    }
    return paths, {"Session": session_schema}
