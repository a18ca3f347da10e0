"""Patron pages: my loans (renew one or all, with the reason when not), my holds, place a hold."""

from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.permissions import is_patron, patron_required
from ..catalog.views import find_record
from ..dates import format_date
from ..extensions import db
from . import actions, rules, services
from .models import Hold, Loan

bp = Blueprint("circulation", __name__)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _key() -> str | None:
    return (request.form.get("idempotency_key") or request.headers.get("Idempotency-Key") or "")[:100] or None


@bp.get("/account/loans")
@patron_required
def my_loans():
    today = rules.today()
    loans = db.session.scalars(services.patron_loans(current_user).order_by(Loan.due_date, Loan.id)).all()
    return render_template("circulation/loans.html", loans=[actions.loan_json(x, today) for x in loans],
                           plan=services.renew_all_plan(current_user, today=today), idem=uuid.uuid4().hex,
                           fetched_at=today)


@bp.post("/account/loans/<id:loan_id>/renew")
@patron_required
def renew(loan_id: int):
    result = actions.renew(current_user.id, loan_id, _key())
    if result["ok"]:
        flash(_("Renewed: %(title)s, now due %(date)s.", title=result["title"], date=format_date(result["due_date"])), "success")
    else:
        flash(_("Not renewed: %(reason)s", reason=result["message"]), "error")
    return redirect(url_for("circulation.my_loans"), code=303)


@bp.post("/account/loans/renew-all")
@patron_required
def renew_all():
    result = actions.renew_all(current_user.id, _key(),
                               include_renewed_today=request.form.get("include_renewed_today") == "1")
    if not result["ok"]:
        flash(result["message"], "error")
        return redirect(url_for("circulation.my_loans"), code=303)
    return render_template("circulation/renew_all.html", results=result["results"])


@bp.get("/account/holds")
@patron_required
def my_holds():
    today = rules.today()
    holds = db.session.scalars(services.patron_holds(current_user).order_by(Hold.placed_at)).all()
    return render_template("circulation/holds.html", holds=[actions.hold_json(h, today) for h in holds],
                           idem=uuid.uuid4().hex, today=today)


@bp.route("/record/<id:record_id>/hold", methods=["GET", "POST"])
def place_hold(record_id: int):
    if not is_patron():
        return redirect(url_for("accounts.login", next=url_for("circulation.place_hold", record_id=record_id)))
    record = find_record(record_id)
    if record is None:
        return render_template("error.html", status=404, message=_("This page does not exist.")), 404
    from ..accounts.views import pickup_locations

    if request.method == "POST":
        result = actions.place_hold(current_user.id, record_id, request.form.get("pickup_location_id", type=int),
                                    _date(request.form.get("not_needed_after")), _key())
        if result["ok"]:
            h = result["hold"]
            flash(_("Hold placed: you are number %(pos)s of %(total)s for %(title)s.", pos=h["position"],
                    total=h["queue_length"], title=h["title"]), "success")
            return redirect(url_for("circulation.my_holds"), code=303)
        return render_template("circulation/place_hold.html", record=record, locations=pickup_locations(),
                               error=result["message"], idem=uuid.uuid4().hex), 409
    problem = services.hold_problem(record, current_user, rules.today())
    message = services.CirculationRefused(problem[0], **problem[1]).message if problem else None
    return render_template("circulation/place_hold.html", record=record, locations=pickup_locations(),
                           problem=message, idem=uuid.uuid4().hex)


def _hold_redirect(result):
    if result["ok"]:
        flash(_("Your hold is updated."), "success")
    else:
        flash(result["message"], "error")
    return redirect(url_for("circulation.my_holds"), code=303)


@bp.post("/account/holds/<id:hold_id>/cancel")
@patron_required
def cancel_hold(hold_id: int):
    return _hold_redirect(actions.cancel_hold(current_user.id, hold_id, _key()))


@bp.post("/account/holds/<id:hold_id>/suspend")
@patron_required
def suspend_hold(hold_id: int):
    return _hold_redirect(actions.suspend_hold(current_user.id, hold_id, _date(request.form.get("until")), _key()))


@bp.post("/account/holds/<id:hold_id>/resume")
@patron_required
def resume_hold(hold_id: int):
    return _hold_redirect(actions.resume_hold(current_user.id, hold_id, _key()))


@bp.post("/account/holds/<id:hold_id>/not-needed-after")
@patron_required
def hold_not_needed_after(hold_id: int):
    return _hold_redirect(actions.not_needed_after(current_user.id, hold_id,
                                                   _date(request.form.get("not_needed_after")), _key()))


def due_dates(items) -> dict:
    """Due dates of items on loan (record page)."""
    ids = [i.id for i in items if i.status == "on_loan"]
    if not ids:
        return {}
    return dict(db.session.execute(select(Loan.item_id, Loan.due_date).where(
        Loan.item_id.in_(ids), Loan.returned_at.is_(None))).all())
