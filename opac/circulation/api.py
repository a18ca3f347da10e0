"""The patron JSON API used by the PWA: session + CSRF (X-CSRFToken header), idempotency keys
(Idempotency-Key header) on every state change."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from ..accounts import services as account_services
from ..accounts.barcode import code128_svg, qr_svg
from ..accounts.permissions import is_patron, patron_required
from ..errors import DomainError
from ..extensions import db
from . import actions, rules, services
from .models import Hold, Loan, Notification

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
    return {"id": p.id, "name": p.name, "card_number": p.card_number, "category": p.category.name,
            "expires_on": p.expires_on.isoformat() if p.expires_on else None, "email": p.email,
            "whatsapp": p.whatsapp, "language": p.language, "keep_history": p.keep_history}


@bp.get("/session")
def session_info():
    """The CSRF token for state-changing calls, and who is logged in (if anyone)."""
    user = patron_json(current_user) if is_patron() else None
    return jsonify(csrf_token=generate_csrf(), authenticated=user is not None, patron=user)


@bp.post("/login")
def login():
    from ..accounts.views import client_ip, log_in

    data = _body()
    try:
        patron = account_services.authenticate(str(data.get("card", "")), str(data.get("pin", "")), client_ip())
        log_in(patron)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return jsonify(error=exc.reason, message=exc.message), (429 if exc.reason == "throttled" else 401)
    return jsonify(ok=True, patron=patron_json(patron), csrf_token=generate_csrf())


@bp.post("/logout")
def logout():
    from ..accounts.views import log_out

    log_out()
    db.session.commit()
    resp = jsonify(ok=True)
    resp.headers["Clear-Site-Data"] = '"cache"'
    return resp


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


@bp.post("/loans/renew-all")
@patron_required
def renew_all():
    return _out(actions.renew_all(current_user.id, _key()))


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
    except (TypeError, ValueError):
        return jsonify(error="bad_request", message="record_id and pickup_location_id must be numbers"), 400
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
