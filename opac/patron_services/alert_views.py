"""Saved searches (with weekly alerts) and visitor check-in: patron pages, the staff entrance QR
page and the patron JSON API (documented in ``openapi_paths``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ..accounts.barcode import qr_svg
from ..accounts.permissions import patron_required, staff_required
from ..clock import today
from ..db import begin_write
from ..errors import DomainError
from ..extensions import db
from ..urls import absolute_url
from . import alerts, visits
from .models import PatronVisit, SavedSearch

bp = Blueprint("saved_searches", __name__)
visits_bp = Blueprint("visits", __name__)

TRUE = ("1", "true", "on", "yes")


def _body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _flag(data: dict, key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    return value if isinstance(value, bool) else str(value).lower() in TRUE


def _own(saved_id: int) -> SavedSearch:
    """One of the logged-in patron's saved searches; anyone else's is a 404."""
    saved = db.session.scalar(alerts.patron_saved_searches(current_user).where(SavedSearch.id == saved_id))
    if saved is None:
        abort(404)
    return saved


def _refused_json(exc: DomainError):
    db.session.rollback()
    return jsonify(error=exc.reason, message=exc.message), 409


def _saved_json(saved: SavedSearch, matches) -> dict:
    return {"id": saved.id, "name": saved.name, "query": saved.query,
            "search_url": url_for("search.results") + "?" + saved.query, "alerts": saved.alerts,
            "alert_email": saved.alert_email, "alert_push": saved.alert_push,
            "created_at": saved.created_at.isoformat() + "Z",
            "checked_at": saved.checked_at.isoformat() + "Z" if saved.checked_at else None,
            "matches": [{"record_id": m.record_id, "title": m.record.title, "found_at": m.found_at.isoformat() + "Z",
                         "new": saved.seen_at is None or m.found_at > saved.seen_at} for m in matches]}


def _mine():
    rows = db.session.scalars(alerts.patron_saved_searches(current_user).order_by(SavedSearch.id.desc())).all()
    return rows, alerts.recent_matches([s.id for s in rows])


# ----------------------------------------------------------------------------- saved searches (HTML)


def _change_and_back(change, done: str):
    """Run one change to the patron's saved searches: commit and say ``done``, or roll back and say
    why not; then back to the saved searches page."""
    try:
        change()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("saved_searches.page"), code=303)


@bp.get("/saved-searches")
@patron_required
def page():
    rows, matches = _mine()
    return render_template("patron_services/saved_searches.html", rows=rows, matches=matches,
                           search_url=lambda s: url_for("search.results") + "?" + s.query)


@bp.get("/saved-searches/new")
@patron_required
def new():
    """The confirmation form for the search in the URL (the results page links here: a public,
    cacheable page holds no form with a CSRF token)."""
    query = alerts.canonical_query(request.args)
    if not query:
        flash(_("Search for something first, then save the search."), "error")
        return redirect(url_for("search.results"), code=303)
    params = alerts.search_params(query)
    return render_template("patron_services/saved_search_new.html", query=query, params=params,
                           name=params.q.strip()[:200])


@bp.post("/saved-searches")
@patron_required
def create():
    data = _body()
    begin_write()
    return _change_and_back(lambda: alerts.save_search(
        current_user, MultiDict(parse_qsl(str(data.get("query", ""))[:2000])), name=data.get("name"),
        alerts=_flag(data, "alerts"), alert_email=_flag(data, "alert_email"), alert_push=_flag(data, "alert_push")),
        _("Search saved."))


@bp.post("/saved-searches/<id:saved_id>/edit")
@patron_required
def edit(saved_id: int):
    begin_write()
    saved = _own(saved_id)
    data = _body()
    return _change_and_back(lambda: alerts.update_saved_search(
        saved, name=data.get("name"), alerts=_flag(data, "alerts"), alert_email=_flag(data, "alert_email"),
        alert_push=_flag(data, "alert_push")), _("Saved search updated."))


@bp.post("/saved-searches/<id:saved_id>/delete")
@patron_required
def delete(saved_id: int):
    begin_write()
    db.session.delete(_own(saved_id))
    db.session.commit()
    flash(_("Saved search deleted."), "success")
    return redirect(url_for("saved_searches.page"), code=303)


@bp.post("/saved-searches/seen")
@patron_required
def seen():
    begin_write()
    alerts.mark_seen(current_user)
    db.session.commit()
    return redirect(url_for("saved_searches.page"), code=303)


# ----------------------------------------------------------------------------- saved searches (JSON)


@bp.get("/api/v1/saved-searches")
@patron_required
def api_list():
    rows, matches = _mine()
    return jsonify(saved_searches=[_saved_json(s, matches[s.id]) for s in rows])


@bp.post("/api/v1/saved-searches")
@patron_required
def api_create():
    data = _body()
    query = data.get("query")
    if not isinstance(query, str):
        return jsonify(error="bad_request", message=_("Search for something first, then save the search.")), 400
    begin_write()
    try:
        saved = alerts.save_search(current_user, MultiDict(parse_qsl(query[:2000])), name=data.get("name"),
                                   alerts=_flag(data, "alerts", True), alert_email=_flag(data, "alert_email"),
                                   alert_push=_flag(data, "alert_push"))
        db.session.commit()
    except DomainError as exc:
        return _refused_json(exc)
    return jsonify(_saved_json(saved, [])), 201


@bp.post("/api/v1/saved-searches/<id:saved_id>")
@patron_required
def api_update(saved_id: int):
    begin_write()
    saved = _own(saved_id)
    data = _body()
    try:
        alerts.update_saved_search(saved, name=data.get("name", saved.name),
                                   alerts=_flag(data, "alerts", saved.alerts),
                                   alert_email=_flag(data, "alert_email", saved.alert_email),
                                   alert_push=_flag(data, "alert_push", saved.alert_push))
        db.session.commit()
    except DomainError as exc:
        return _refused_json(exc)
    return jsonify(_saved_json(saved, alerts.recent_matches([saved.id])[saved.id]))


@bp.post("/api/v1/saved-searches/<id:saved_id>/delete")
@patron_required
def api_delete(saved_id: int):
    begin_write()
    db.session.delete(_own(saved_id))
    db.session.commit()
    return jsonify(ok=True)


# ----------------------------------------------------------------------------- visitor check-in


def _visited_today() -> bool:
    return db.session.scalar(visits.patron_visits(current_user).where(PatronVisit.day == today())) is not None


@visits_bp.get("/visit")
@patron_required
def checkin_page():
    """Opened from the entrance QR code: a button that counts the visit (a GET changes nothing)."""
    return render_template("patron_services/visit.html", code=request.args.get("code", "")[:64],
                           visited=_visited_today())


@visits_bp.post("/visit")
@patron_required
def checkin():
    begin_write()
    try:
        visits.check_in(current_user, request.form.get("code", ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return render_template("patron_services/visit.html", code="", visited=_visited_today(),
                               error=exc.message), exc.status_code
    return redirect(url_for("visits.my_visits", welcome=1), code=303)


@visits_bp.get("/account/visits")
@patron_required
def my_visits():
    rows = db.session.scalars(visits.patron_visits(current_user).order_by(PatronVisit.day.desc()).limit(400)).all()
    return render_template("patron_services/my_visits.html", rows=rows, welcome=request.args.get("welcome") == "1")


@visits_bp.post("/account/visits/delete")
@patron_required
def forget_visits():
    begin_write()
    visits.forget_visits(current_user)
    db.session.commit()
    flash(_("Your visits are deleted (today's stays until tomorrow, so that today counts once)."), "success")
    return redirect(url_for("visits.my_visits"), code=303)


@visits_bp.get("/staff/visits/entrance")
@staff_required("desk")
def entrance():
    """The QR code for a screen at the entrance; it reloads itself and changes at midnight."""
    url = absolute_url("visits.checkin_page", code=visits.daily_code())
    return render_template("staff/visit_entrance.html", qr=qr_svg(url, scale=8, label=_("Visitor check-in")),
                           url=url, day=today())


@visits_bp.get("/api/v1/visits")
@patron_required
def api_visits():
    rows = db.session.scalars(visits.patron_visits(current_user).order_by(PatronVisit.day.desc()).limit(400)).all()
    return jsonify(visits=[{"day": v.day.isoformat(), "visited_at": v.visited_at.isoformat() + "Z"} for v in rows])


@visits_bp.post("/api/v1/visits")
@patron_required
def api_checkin():
    data = _body()
    begin_write()
    try:
        counted = visits.check_in(current_user, str(data.get("code") or ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return jsonify(error=exc.reason, message=exc.message), exc.status_code
    return jsonify(counted=counted, day=today().isoformat())


# ----------------------------------------------------------------------------- OpenAPI


def openapi_paths() -> tuple[dict, dict]:
    """The saved-search and visit endpoints for the OpenAPI document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    sec = [{"session": []}]
    sid = {"name": "saved_id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    login = {"description": "Not logged in", "content": err}
    bad = {"description": "Bad request or CSRF token missing", "content": err}
    missing = {"description": "No such saved search of mine", "content": err}

    def js(schema):
        return {"application/json": {"schema": schema}}

    ref = {"$ref": "#/components/schemas/SavedSearch"}
    saved = {"type": "object", "required": ["id", "name", "query", "alerts", "matches"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "query": {"type": "string", "description": "The search's URL parameters (q and filters)"},
        "search_url": {"type": "string"}, "alerts": {"type": "boolean"}, "alert_email": {"type": "boolean"},
        "alert_push": {"type": "boolean"}, "created_at": {"type": "string"}, "checked_at": {"type": ["string", "null"]},
        "matches": {"type": "array", "items": {"type": "object", "required": ["record_id", "title", "new"],
                    "properties": {"record_id": {"type": "integer"}, "title": {"type": "string"},
                                   "found_at": {"type": "string"}, "new": {"type": "boolean"}}}}}}
    settings = {"name": {"type": "string", "maxLength": 200}, "alerts": {"type": "boolean"},
                "alert_email": {"type": "boolean"}, "alert_push": {"type": "boolean"}}
    paths = {
        "/api/v1/saved-searches": {
            "get": {"summary": "My saved searches and the new records their weekly alerts found",
                    "operationId": "savedSearches", "security": sec, "responses": {
                        "200": {"description": "OK", "content": js({"type": "object", "required": ["saved_searches"],
                                "properties": {"saved_searches": {"type": "array", "items": ref}}})},
                        "401": login}},
            "post": {"summary": "Save a search (alerts weekly about new matching records)",
                     "operationId": "saveSearch", "security": sec, "parameters": [csrf],
                     "requestBody": {"required": True, "content": js({"type": "object", "required": ["query"],
                                     "properties": {"query": {"type": "string", "maxLength": 2000,
                                                              "description": "URL parameters of a search, e.g. "
                                                                             "q=sejarah&type=book"}, **settings}})},
                     "responses": {"201": {"description": "Saved", "content": js(ref)}, "400": bad, "401": login,
                                   "409": {"description": "Refused; the message says why", "content": err}}}},
        "/api/v1/saved-searches/{saved_id}": {"post": {
            "summary": "Rename a saved search or change its alerts", "operationId": "updateSavedSearch",
            "security": sec, "parameters": [sid, csrf],
            "requestBody": {"required": True, "content": js({"type": "object", "properties": settings})},
            "responses": {"200": {"description": "Updated", "content": js(ref)}, "400": bad, "401": login,
                          "404": missing, "409": {"description": "Refused; the message says why", "content": err}}}},
        "/api/v1/saved-searches/{saved_id}/delete": {"post": {
            "summary": "Delete a saved search", "operationId": "deleteSavedSearch", "security": sec,
            "parameters": [sid, csrf],
            "responses": {"200": {"description": "Deleted", "content": js({"type": "object"})}, "400": bad,
                          "401": login, "404": missing}}},
        "/api/v1/visits": {
            "get": {"summary": "My library visits (kept for a while, then deleted)", "operationId": "visits",
                    "security": sec, "responses": {
                        "200": {"description": "OK", "content": js({"type": "object", "required": ["visits"],
                                "properties": {"visits": {"type": "array", "items": {
                                    "type": "object", "required": ["day"],
                                    "properties": {"day": {"type": "string", "format": "date"},
                                                   "visited_at": {"type": "string"}}}}}})},
                        "401": login}},
            "post": {"summary": "Check in at the entrance with today's code (from its QR code); once a day counts",
                     "operationId": "checkIn", "security": sec, "parameters": [csrf],
                     "requestBody": {"required": True, "content": js({"type": "object", "required": ["code"],
                                     "properties": {"code": {"type": "string", "maxLength": 64}}})},
                     "responses": {"200": {"description": "Checked in; counted is false when today was already "
                                                          "counted", "content": js({
                                                              "type": "object", "required": ["counted", "day"],
                                                              "properties": {"counted": {"type": "boolean"},
                                                                             "day": {"type": "string"}}})},
                                   "400": bad, "401": login,
                                   "403": {"description": "Not today's code", "content": err}}}},
    }
    return paths, {"SavedSearch": saved}


def install(app) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(visits_bp)
    app.extensions.setdefault("opac_openapi", []).append(openapi_paths)
