"""Joining the library online (/register, on when SELF_REGISTRATION is true) and the staff page of
sign-ups waiting for approval."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..db import begin_write
from ..errors import DomainError
from ..extensions import db
from . import registration
from .permissions import staff_required

bp = Blueprint("registration", __name__)


def _on() -> None:
    if not current_app.config["SELF_REGISTRATION"]:
        abort(404)


def _ip() -> str:
    from .views import client_ip

    return client_ip()


def _language() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "id")[:2]


@bp.route("/register", methods=["GET", "POST"])
def register():
    _on()
    if request.method == "GET":
        return render_template("accounts/register.html", form={})
    form = request.form
    begin_write()
    try:
        registration.register(form.get("name", ""), form.get("email", ""), form.get("whatsapp", ""),
                              form.get("pin", ""), form.get("confirm", ""), "consent" in form, ip=_ip(),
                              language=_language())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        status = 429 if exc.reason == "throttled" else 400
        keep = {k: form.get(k, "")[:254] for k in ("name", "email", "whatsapp")}
        return render_template("accounts/register.html", form=keep, error=exc.message), status
    return render_template("accounts/register_sent.html", email=form.get("email", "").strip()[:254])


@bp.get("/register/verify/<token>")
def verify(token: str):
    """Shows a button: opening the link (a mail scanner may do it) changes nothing."""
    _on()
    row = registration.registration_for_token(token)
    if row is None:
        return render_template("accounts/register_done.html", error=registration.RegistrationError("bad_token").message), 400
    return render_template("accounts/register_verify.html", token=token, name=row.name)


@bp.post("/register/verify/<token>")
def confirm(token: str):
    _on()
    begin_write()
    try:
        row = registration.verify_registration(token)
        patron = None
        if row.patron_id:
            from .models import Patron
            from .views import log_in

            patron = db.session.get(Patron, row.patron_id)
            log_in(patron)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return render_template("accounts/register_done.html", error=exc.message), 400
    if patron is None:
        return render_template("accounts/register_done.html", pending=True)
    from .views import set_patron_flag

    flash(_("Welcome! Your card number is %(card)s. Log in with it and your PIN next time.", card=patron.card_number),
          "success")
    resp = redirect(url_for("accounts.card"), code=303)
    set_patron_flag(resp)
    return resp


# ----------------------------------------------------------------------------- JSON API


def _json_error(exc: DomainError, status: int = 400):
    return jsonify(ok=False, error=exc.reason, message=exc.message), (429 if exc.reason == "throttled" else status)


@bp.post("/api/v1/register")
def api_register():
    _on()
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    begin_write()
    try:
        registration.register(str(data.get("name") or ""), str(data.get("email") or ""),
                              str(data.get("whatsapp") or ""), str(data.get("pin") or ""),
                              str(data.get("confirm") or data.get("pin") or ""), data.get("consent") is True,
                              ip=_ip(), language=_language())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _json_error(exc)
    return jsonify(ok=True, message=_("Check your e-mail: we sent a link to finish joining."))


@bp.post("/api/v1/register/verify")
def api_verify():
    _on()
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    begin_write()
    try:
        row = registration.verify_registration(str(data.get("token") or ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _json_error(exc)
    card = row.patron.card_number if row.patron_id else None
    return jsonify(ok=True, status=row.status, card_number=card)


# ----------------------------------------------------------------------------- staff


@bp.get("/staff/registrations")
@staff_required("patrons")
def pending():
    return render_template("staff/registrations.html", rows=registration.pending_registrations())


@bp.post("/staff/registrations/<id:registration_id>/<any(approve, reject):decision>")
@staff_required("patrons")
def decide(registration_id: int, decision: str):
    begin_write()
    try:
        if decision == "approve":
            patron = registration.approve_registration(registration_id)
            msg = _("Approved: card %(card)s for %(name)s.", card=patron.card_number, name=patron.name)
        else:
            registration.reject_registration(registration_id)
            msg = _("The sign-up is rejected.")
        db.session.commit()
        flash(msg, "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("registration.pending"), code=303)


def openapi_paths() -> tuple[dict, dict]:
    """Joining online, for the OpenAPI document (404 when SELF_REGISTRATION is off)."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    ok = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}, "message": {"type": "string"},
                                                                  "status": {"type": "string"},
                                                                  "card_number": {"type": ["string", "null"]}}}
    common = {"400": {"description": "Invalid input, CSRF token missing or link not valid", "content": err},
              "404": {"description": "Joining online is off", "content": err}}
    return {
        "/api/v1/register": {"post": {
            "summary": "Join the library: a confirmation link is e-mailed (the answer is the same for addresses "
                       "that already belong to a member)", "operationId": "register", "parameters": [csrf],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "email", "pin", "consent"],
                "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"},
                               "whatsapp": {"type": "string"}, "pin": {"type": "string"}, "confirm": {"type": "string"},
                               "consent": {"type": "boolean", "description": "Accepts the privacy notice"}}}}}},
            "responses": {"200": {"description": "Link sent", "content": {"application/json": {"schema": ok}}},
                          "429": {"description": "Too many sign-ups from this address", "content": err}, **common}}},
        "/api/v1/register/verify": {"post": {
            "summary": "Confirm the e-mail with the link's token: a card number now, or pending staff approval",
            "operationId": "registerVerify", "parameters": [csrf],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}}}},
            "responses": {"200": {"description": "Confirmed", "content": {"application/json": {"schema": ok}}}, **common}}},
    }, {}
