"""Self-checkout pages and API: the patron scans a copy's barcode (or types it) and borrows it;
staff see the self-checkouts and show the desk's changing QR code."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.barcode import qr_svg
from ..accounts.permissions import patron_required, staff_required
from ..errors import DomainError
from ..extensions import db
from ..urls import absolute_url
from . import actions, selfcheck
from .models import Loan

bp = Blueprint("selfcheck", __name__)


def _ip() -> str:
    from ..accounts.views import client_ip

    return client_ip()


def _status() -> dict:
    problem = selfcheck.access_problem(_ip())
    until = selfcheck.grant_until()
    return {"allowed": problem is None, "mode": selfcheck.mode(),
            "reason": problem, "message": selfcheck.SelfcheckRefused(problem).message if problem else None,
            "allowed_until": datetime.fromtimestamp(until, UTC).isoformat() if until else None}


def _page(status: int = 200, **values):
    return render_template("circulation/selfcheck.html", status=_status(), new_key=secrets.token_urlsafe(16),
                           code=selfcheck.code_from_scan(request.values.get("code", "")), **values), status


# ----------------------------------------------------------------------------- HTML (works without JS)


@bp.get("/selfcheck")
@patron_required
def page():
    return _page()


@bp.post("/selfcheck")
@patron_required
def borrow():
    barcode = request.form.get("barcode", "").strip()[:64]
    try:
        selfcheck.check_access(_ip())
    except DomainError as exc:
        return _page(403, error=exc.message)
    if not barcode:
        return _page(400, error=_("Scan or type the barcode of the copy."))
    result = actions.self_checkout(current_user.id, barcode, request.form.get("idempotency_key", "")[:100] or None)
    if not result.get("ok"):
        return _page(409, error=result["message"], barcode=barcode)
    return render_template("circulation/selfcheck_receipt.html", result=result)


@bp.post("/selfcheck/desk-code")
@patron_required
def desk_code():
    try:
        selfcheck.redeem_desk_code(request.form.get("code", ""))
    except DomainError as exc:
        return _page(403, error=exc.message)
    return redirect(url_for("selfcheck.page"), code=303)


# ----------------------------------------------------------------------------- JSON API


def _refusal(exc: DomainError):
    return jsonify(ok=False, error=exc.reason, message=exc.message), exc.status_code


@bp.get("/api/v1/selfcheck")
@patron_required
def api_status():
    return jsonify(_status())


@bp.post("/api/v1/selfcheck")
@patron_required
def api_borrow():
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else request.form.to_dict()
    barcode = data.get("barcode")
    if not isinstance(barcode, str) or not barcode.strip():
        return jsonify(ok=False, error="bad_request", message=_("Scan or type the barcode of the copy.")), 400
    try:
        selfcheck.check_access(_ip())
    except DomainError as exc:
        return _refusal(exc)
    key = (request.headers.get("Idempotency-Key") or str(data.get("idempotency_key") or ""))[:100] or None
    result = actions.self_checkout(current_user.id, barcode.strip()[:64], key)
    return jsonify(result), (200 if result.get("ok") else 409)


@bp.post("/api/v1/selfcheck/desk-code")
@patron_required
def api_desk_code():
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    try:
        selfcheck.redeem_desk_code(str(data.get("code") or ""))
    except DomainError as exc:
        return _refusal(exc)
    return jsonify({"ok": True, **_status()})


# ----------------------------------------------------------------------------- staff


@bp.get("/staff/selfcheck")
@staff_required("desk")
def staff_list():
    from ..accounts.models import Patron

    rows = db.session.execute(
        select(Loan, Patron).outerjoin(Patron, Patron.id == Loan.patron_id).where(Loan.channel == "self")
        .order_by(Loan.checked_out_at.desc(), Loan.id.desc()).limit(200)).all()
    return render_template("staff/selfcheck.html", rows=rows)


@bp.get("/staff/selfcheck/desk-code")
@staff_required("desk")
def staff_desk_code():
    code = selfcheck.desk_code()
    url = absolute_url("selfcheck.page", code=code)
    return render_template("staff/selfcheck_desk_code.html", code=code, qr=qr_svg(url), url=url,
                           desk_mode=selfcheck.mode() == "desk_code")


def openapi_paths() -> tuple[dict, dict]:
    """The self-checkout endpoints for the OpenAPI document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    idem = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100},
            "description": "Repeat a request with the same key to get the first answer instead of borrowing twice."}
    status = {"type": "object", "required": ["allowed", "mode"],
              "properties": {"allowed": {"type": "boolean"}, "mode": {"type": "string", "enum": ["network", "desk_code"]},
                             "reason": {"type": ["string", "null"]}, "message": {"type": ["string", "null"]},
                             "allowed_until": {"type": ["string", "null"]}}}
    receipt = {"type": "object", "required": ["ok", "loan", "due_date", "title", "barcode"],
               "properties": {"ok": {"type": "boolean"}, "loan": {"$ref": "#/components/schemas/Loan"},
                              "loan_id": {"type": "integer"}, "due_date": {"type": "string", "format": "date"},
                              "title": {"type": "string"}, "barcode": {"type": "string"},
                              "replayed": {"type": "boolean"}}}
    sec = [{"session": []}]
    paths = {
        "/api/v1/selfcheck": {
            "get": {"summary": "Whether self-checkout is allowed here and now (library network or desk code)",
                    "operationId": "selfcheckStatus", "security": sec, "responses": {
                        "200": {"description": "OK", "content": {"application/json": {"schema": {
                            "$ref": "#/components/schemas/SelfcheckStatus"}}}},
                        "401": {"description": "Not logged in", "content": err}}},
            "post": {"summary": "Borrow a copy by its barcode with the phone (the desk's rules apply)",
                     "operationId": "selfcheck", "security": sec, "parameters": [csrf, idem],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["barcode"],
                         "properties": {"barcode": {"type": "string", "maxLength": 64}}}}}},
                     "responses": {
                         "200": {"description": "Borrowed: the loan and its due date",
                                 "content": {"application/json": {"schema": receipt}}},
                         "400": {"description": "Bad request or CSRF token missing", "content": err},
                         "401": {"description": "Not logged in", "content": err},
                         "403": {"description": "Not inside the library / desk code needed", "content": err},
                         "409": {"description": "Refused by the library's rules; the message says why", "content": err}}}},
        "/api/v1/selfcheck/desk-code": {
            "post": {"summary": "Redeem the QR code shown at the desk: self-checkout allowed for a while",
                     "operationId": "selfcheckDeskCode", "security": sec, "parameters": [csrf],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}}}},
                     "responses": {
                         "200": {"description": "Allowed", "content": {"application/json": {"schema": {
                             "$ref": "#/components/schemas/SelfcheckStatus"}}}},
                         "400": {"description": "CSRF token missing", "content": err},
                         "401": {"description": "Not logged in", "content": err},
                         "403": {"description": "Wrong or expired code", "content": err}}}},
    }
    return paths, {"SelfcheckStatus": status}
