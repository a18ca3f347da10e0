"""The patron JSON API used by the PWA: session + CSRF (X-CSRFToken header), idempotency keys
(Idempotency-Key header) on every state change."""

from __future__ import annotations

import hmac
from datetime import date

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from ..accounts import services as account_services
from ..accounts.barcode import code128_svg, qr_svg
from ..accounts.permissions import is_patron, patron_required
from ..db import reads_first
from ..errors import DomainError
from ..extensions import db
from ..notifications.models import Notification
from . import actions, rules, services
from .models import Hold, Loan

bp = Blueprint("patron_api", __name__, url_prefix="/api/v1")


def _key() -> str | None:
    return (request.headers.get("Idempotency-Key") or (request.get_json(silent=True) or {}).get("idempotency_key")
            or "")[:100] or None


def _body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _out(result: dict):
    status = 200 if result.get("ok") else 409
    return jsonify(result), status


def patron_json(p) -> dict:
    return {"id": p.id, "name": p.name, "card_number": p.card_number, "category": p.category.label,
            "expires_on": p.expires_on.isoformat() if p.expires_on else None, "email": p.email,
            "whatsapp": p.whatsapp, "language": p.language, "keep_history": p.keep_history}


@bp.get("/session")
def session_info():
    """The CSRF token for state-changing calls, and who is logged in (if anyone)."""
    user = patron_json(current_user) if is_patron() else None
    return jsonify(csrf_token=generate_csrf(), authenticated=user is not None, patron=user)


@bp.post("/login")
@reads_first
def login():
    from ..accounts.views import client_ip, log_in

    data = _body()
    try:
        patron = account_services.authenticate(str(data.get("card", "")), str(data.get("pin", "")), client_ip())
        log_in(patron, remember=data.get("remember") is True)
        db.session.commit()
    except DomainError as exc:
        account_services.commit_counted_attempt()  # a refused login still counts
        return jsonify(error=exc.reason, message=exc.message), (429 if exc.reason == "throttled" else 401)
    from ..accounts.views import set_patron_flag

    resp = jsonify(ok=True, patron=patron_json(patron), csrf_token=generate_csrf())
    set_patron_flag(resp, patron.auth_remember)
    return resp


@bp.post("/logout")
def logout():
    """End the session. With ``logout_token`` (a logout queued offline, sent on reconnect) only the
    session it names ends: if someone else has logged in on the device since, they stay logged in."""
    from ..accounts.views import clear_patron_traces, log_out

    token = str(_body().get("logout_token") or "")[:200]
    if token:
        mine = account_services.logout_token(current_user) if current_user.is_authenticated else None
        ended = account_services.end_session_by_logout_token(token)
        if not (mine and hmac.compare_digest(mine, token)):
            db.session.commit()
            return jsonify(ok=True, ended=ended, current_session_ended=False)
    log_out()
    db.session.commit()
    return clear_patron_traces(jsonify(ok=True, ended=True, current_session_ended=True))


@bp.get("/me")
@patron_required
def me():
    today = rules.today()
    problem = services.account_problem(current_user, today)
    return jsonify(patron=patron_json(current_user),
                   account_problem=services.CirculationRefused(problem[0], **problem[1]).message if problem else None)


@bp.get("/loans")
@patron_required
def loans():
    today = rules.today()
    rows = db.session.scalars(services.patron_loans(current_user).order_by(Loan.due_date, Loan.id)).all()
    return jsonify(loans=[actions.loan_json(x, today) for x in rows], as_of=today.isoformat())


@bp.post("/loans/<id:loan_id>/renew")
@patron_required
def renew(loan_id: int):
    return _out(actions.renew(current_user.id, loan_id, _key()))


def _include_renewed_today(value) -> bool:
    return value is True or str(value).lower() in ("1", "true")


@bp.get("/loans/renew-all")
@patron_required
def renew_all_preview():
    """What POST would do, loan by loan, without doing it."""
    include = _include_renewed_today(request.args.get("include_renewed_today"))
    return jsonify(plan=services.renew_all_plan(current_user, include_renewed_today=include),
                   include_renewed_today=include)


@bp.post("/loans/renew-all")
@patron_required
def renew_all():
    include = _include_renewed_today(_body().get("include_renewed_today"))
    return _out(actions.renew_all(current_user.id, _key(), include_renewed_today=include))


@bp.get("/holds")
@patron_required
def holds():
    today = rules.today()
    rows = db.session.scalars(services.patron_holds(current_user).order_by(Hold.placed_at)).all()
    return jsonify(holds=[actions.hold_json(h, today) for h in rows])


@bp.post("/holds")
@patron_required
def place_hold():
    data = _body()
    try:
        record_id = int(data.get("record_id"))
        pickup = int(data.get("pickup_location_id")) if data.get("pickup_location_id") not in (None, "") else None
        if not 0 < record_id < 2**31 or (pickup is not None and not 0 < pickup < 2**31):
            raise ValueError
    except (TypeError, ValueError):
        return jsonify(error="bad_request", message="record_id and pickup_location_id must be positive numbers"), 400
    return _out(actions.place_hold(current_user.id, record_id, pickup, _date(data.get("not_needed_after")), _key()))


@bp.post("/holds/<id:hold_id>/cancel")
@patron_required
def cancel_hold(hold_id: int):
    return _out(actions.cancel_hold(current_user.id, hold_id, _key()))


@bp.post("/holds/<id:hold_id>/suspend")
@patron_required
def suspend_hold(hold_id: int):
    return _out(actions.suspend_hold(current_user.id, hold_id, _date(_body().get("until")), _key()))


@bp.post("/holds/<id:hold_id>/resume")
@patron_required
def resume_hold(hold_id: int):
    return _out(actions.resume_hold(current_user.id, hold_id, _key()))


@bp.get("/notifications")
@patron_required
def notifications():
    rows = db.session.scalars(select(Notification).where(Notification.patron_id == current_user.id)
                              .order_by(Notification.created_at.desc()).limit(100)).all()
    return jsonify(notifications=[{"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "url": n.url,
                                   "created_at": n.created_at.isoformat(), "read": n.read_at is not None} for n in rows])


@bp.get("/card")
@patron_required
def card():
    p = current_user
    return jsonify(card_number=p.card_number, name=p.name, expires_on=p.expires_on.isoformat() if p.expires_on else None,
                   barcode_svg=str(code128_svg(p.card_number, label=p.card_number)), qr_svg=str(qr_svg(p.card_number)))


def openapi_paths() -> tuple[dict, dict]:
    """The patron endpoints for the OpenAPI document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    ok_obj = {"application/json": {"schema": {"type": "object"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    idem = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100},
            "description": "Repeat a request with the same key to get the first answer instead of acting twice."}
    sec = [{"session": []}]

    def post(summary, op, body=None, path_param=None, body_required=True):
        d = {"summary": summary, "operationId": op, "security": sec, "parameters": [csrf, idem],
             "responses": {"200": {"description": "Done", "content": ok_obj},
                           "400": {"description": "Bad request or CSRF token missing", "content": err},
                           "401": {"description": "Not logged in", "content": err},
                           "409": {"description": "Refused by the library's rules; the message says why", "content": err}}}
        if path_param:
            d["parameters"] = [{"name": path_param, "in": "path", "required": True, "schema": {"type": "integer"}}] + d["parameters"]
        if body:
            d["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
        return {"post": d}

    def get(summary, op, schema, params=None):
        d = {"summary": summary, "operationId": op, "security": sec, "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "401": {"description": "Not logged in", "content": err}}}
        if params:
            d["parameters"] = params
        return {"get": d}

    include_param = {"name": "include_renewed_today", "in": "query", "required": False,
                     "schema": {"type": "boolean", "default": False},
                     "description": "Also renew loans already renewed today (skipped otherwise)"}
    plan_entry = {"type": "object", "required": ["loan_id", "title", "action", "renewed_today", "last_renewal"],
                  "properties": {"loan_id": {"type": "integer"}, "title": {"type": "string"},
                                 "action": {"type": "string", "enum": ["renew", "skip"]},
                                 "due_date": {"type": "string", "format": "date"},
                                 "new_due_date": {"type": "string", "format": "date"},
                                 "last_renewal": {"type": "boolean", "description": "Renewing spends the last renewal"},
                                 "renewed_today": {"type": "boolean"},
                                 "reason": {"type": "string", "description": "Why it is skipped (a stable code)"},
                                 "message": {"type": "string"}}}

    loan = {"type": "object", "required": ["id", "title", "due_date", "days_left", "renewals", "renewals_left", "can_renew"],
            "properties": {"id": {"type": "integer"}, "title": {"type": "string"}, "due_date": {"type": "string", "format": "date"},
                           "days_left": {"type": "integer"}, "overdue": {"type": "boolean"}, "renewals": {"type": "integer"},
                           "renewals_left": {"type": "integer"}, "can_renew": {"type": "boolean"},
                           "renew_refusal": {"type": ["object", "null"]}}}
    hold = {"type": "object", "required": ["id", "title", "status", "position", "queue_length"],
            "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                           "status": {"type": "string", "enum": ["waiting", "in_transit", "ready", "fulfilled", "cancelled", "expired"]},
                           "position": {"type": "integer"}, "queue_length": {"type": "integer"},
                           "estimated_wait_days": {"type": ["integer", "null"]}, "pickup_location": {"type": "string"},
                           "pickup_by": {"type": ["string", "null"]}, "suspended_until": {"type": ["string", "null"]}}}
    paths = {
        "/api/v1/session": {"get": {"summary": "CSRF token and the logged-in patron", "operationId": "session",
                                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                                        "type": "object", "required": ["csrf_token", "authenticated"],
                                        "properties": {"csrf_token": {"type": "string"}, "authenticated": {"type": "boolean"},
                                                       "patron": {"type": ["object", "null"]}}}}}}}}},
        "/api/v1/login": {"post": {"summary": "Log in with card number and PIN", "operationId": "login",
                                   "parameters": [csrf],
                                   "requestBody": {"required": True, "content": {"application/json": {"schema": {
                                       "type": "object", "required": ["card", "pin"],
                                       "properties": {"card": {"type": "string"}, "pin": {"type": "string"},
                                                      "remember": {"type": "boolean", "default": False,
                                                                   "description": "Keep me signed in on this device"}}}}}},
                                   "responses": {"200": {"description": "Logged in", "content": ok_obj},
                                                 "401": {"description": "Wrong card or PIN (same answer for both)", "content": err},
                                                 "429": {"description": "Too many attempts", "content": err}}}},
        "/api/v1/logout": {"post": {"summary": "Log out (the session ends on the server); with logout_token (the "
                                               "opac_patron cookie of a logout queued offline) only that session ends",
                                    "operationId": "logout", "parameters": [csrf],
                                    "requestBody": {"required": False, "content": {"application/json": {"schema": {
                                        "type": "object", "properties": {"logout_token": {"type": "string"}}}}}},
                                    "responses": {"200": {"description": "Logged out", "content": ok_obj}}}},
        "/api/v1/me": get("The logged-in patron", "me", {"type": "object"}),
        "/api/v1/loans": get("My loans, with whether each can be renewed and why not", "loans",
                             {"type": "object", "properties": {"loans": {"type": "array", "items": {"$ref": "#/components/schemas/Loan"}}}}),
        "/api/v1/loans/{loan_id}/renew": post("Renew one loan", "renew", path_param="loan_id"),
        "/api/v1/loans/renew-all": {
            **get("What renewing all would do: per loan, renew (new due date, whether it is the last renewal) "
                  "or skip with the reason", "renewAllPreview", {
                      "type": "object", "required": ["plan"], "properties": {
                          "plan": {"type": "array", "items": {"$ref": "#/components/schemas/RenewPlanEntry"}},
                          "include_renewed_today": {"type": "boolean"}}},
                  params=[include_param]),
            **post("Renew every loan that can be renewed (loans renewed today only with include_renewed_today); "
                   "a result per loan", "renewAll", body={
                       "type": "object", "properties": {"include_renewed_today": {"type": "boolean", "default": False}}},
                   body_required=False)},
        "/api/v1/holds": {**get("My holds with queue position", "holds", {"type": "object", "properties": {
            "holds": {"type": "array", "items": {"$ref": "#/components/schemas/Hold"}}}}),
            **post("Place a title-level hold", "placeHold", body={
                "type": "object", "required": ["record_id", "pickup_location_id"],
                "properties": {"record_id": {"type": "integer"}, "pickup_location_id": {"type": "integer"},
                               "not_needed_after": {"type": "string", "format": "date"}}})},
        "/api/v1/holds/{hold_id}/cancel": post("Cancel a hold", "cancelHold", path_param="hold_id"),
        "/api/v1/holds/{hold_id}/suspend": post("Suspend a hold until a date", "suspendHold", path_param="hold_id",
                                                body={"type": "object", "required": ["until"],
                                                      "properties": {"until": {"type": "string", "format": "date"}}}),
        "/api/v1/holds/{hold_id}/resume": post("Resume a suspended hold", "resumeHold", path_param="hold_id"),
        "/api/v1/notifications": get("My notifications", "notifications", {"type": "object"}),
        "/api/v1/card": get("My library card (barcode and QR as SVG)", "card", {"type": "object"}),
    }
    return paths, {"Loan": loan, "Hold": hold, "RenewPlanEntry": plan_entry}
