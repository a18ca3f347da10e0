"""Staff account security: the second login step (TOTP or recovery code), two-factor enrolment,
signed-in devices and security notices, and the admins' staff-accounts page.

A password that is right but still needs a second factor leaves only a signed, short-lived mark
in the cookie session (which staff member, bound to their password hash): no login session
exists until the code passes, so nothing else can be reached in between.
"""

from __future__ import annotations

import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts import services as account_services
from ..accounts import twofa
from ..accounts.barcode import qr_svg
from ..accounts.models import StaffNotice, StaffUser
from ..accounts.permissions import is_staff, staff_required
from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from .blueprint import bp

PENDING_KEY = "staff_2fa"
PENDING_SECONDS = 600


def start_second_step(staff: StaffUser, target: str):
    """After a right password: a redirect to the code or enrolment step, or None when the
    staff member has no second factor and needs none (log in at once)."""
    enabled = twofa.is_enabled(staff)
    if not enabled and not twofa.required_for(staff):
        return None
    session.clear()
    session[PENDING_KEY] = {"id": staff.id, "d": twofa.pending_login_digest(staff), "at": int(time.time()),
                            "next": target, "enrol": not enabled}
    return redirect(url_for("staff.login_code" if enabled else "staff.twofa_setup"), code=303)


def pending_staff(*, enrol: bool | None = None) -> StaffUser | None:
    """The staff member whose password was accepted in this browser within the last minutes."""
    state = session.get(PENDING_KEY)
    if not isinstance(state, dict) or not isinstance(state.get("id"), int):
        return None
    if not 0 <= time.time() - int(state.get("at", 0)) <= PENDING_SECONDS:
        return None
    if enrol is not None and bool(state.get("enrol")) != enrol:
        return None
    staff = db.session.get(StaffUser, state["id"])
    if staff is None or not staff.active or state.get("d") != twofa.pending_login_digest(staff):
        return None
    return staff


def _finish_login(staff: StaffUser):
    from ..accounts.views import log_in, safe_next

    target = safe_next((session.get(PENDING_KEY) or {}).get("next"), url_for("staff.dashboard"))
    log_in(staff)  # clears the pending mark with the rest of the cookie session
    return target


def _throttle_keys(staff: StaffUser) -> list[str]:
    from ..accounts.views import client_ip

    return account_services.throttle_keys(staff.username, client_ip(), "staff2fa")


def _check_code(staff: StaffUser, check):
    """Run ``check`` (a code verification) under the login throttle; returns its result."""
    keys = _throttle_keys(staff)
    account_services.reserve_attempt(keys)  # counted in this transaction: the edge commits it, refused or not
    result = check()
    account_services.release_attempt(keys)
    return result


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    staff = pending_staff(enrol=False)
    if staff is None:
        return redirect(url_for("staff.login"))
    if request.method == "GET":
        return render_template("staff/login_code.html")
    try:
        _check_code(staff, lambda: twofa.verify_second_factor(staff, request.form.get("code", "")))
        target = _finish_login(staff)
        db.session.commit()
    except DomainError as exc:
        account_services.commit_counted_attempt()  # a refused code still counts (nothing else was written)
        return render_template("staff/login_code.html", error=exc.message), 429 if exc.reason == "throttled" else 400
    return redirect(target, code=303)


def _enrolling_staff() -> tuple[StaffUser | None, bool]:
    """(staff member, still logging in): the logged-in staff member or one sent to enrol at login."""
    if is_staff():
        return current_user, False
    return pending_staff(enrol=True), True


@bp.get("/2fa")
def twofa_setup():
    staff, logging_in = _enrolling_staff()
    if staff is None:
        return redirect(url_for("staff.login"))
    return render_template("staff/twofa.html", staff=staff, logging_in=logging_in, enabled=twofa.is_enabled(staff),
                           required=twofa.required_for(staff), codes_left=twofa.recovery_codes_left(staff))


@bp.post("/2fa/start")
def twofa_start():
    staff, _logging_in = _enrolling_staff()
    if staff is None:
        return redirect(url_for("staff.login"))
    try:
        twofa.begin_enrolment(staff)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("staff.twofa_setup"), code=303)
    return redirect(url_for("staff.twofa_enrol"), code=303)


@bp.route("/2fa/enrol", methods=["GET", "POST"])
def twofa_enrol():
    staff, logging_in = _enrolling_staff()
    if staff is None:
        return redirect(url_for("staff.login"))
    secret = twofa.pending_secret(staff)
    if secret is None:
        return redirect(url_for("staff.twofa_setup"), code=303)
    error, status = None, 200
    if request.method == "POST":
        try:
            codes = _check_code(staff, lambda: twofa.confirm_enrolment(staff, request.form.get("code", "")))
            target = _finish_login(staff) if logging_in else url_for("staff.dashboard")
            db.session.commit()
            return render_template("staff/recovery_codes.html", codes=codes, target=target)
        except DomainError as exc:
            account_services.commit_counted_attempt()  # a wrong code still counts
            error, status = exc.message, 429 if exc.reason == "throttled" else 400
    uri = twofa.provisioning_uri(staff, secret)
    return render_template("staff/twofa_enrol.html", qr=qr_svg(uri, label=_("QR code for your authenticator app")),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), error=error,
                           logging_in=logging_in), status


@bp.post("/2fa/disable")
@staff_required("own_account")
def twofa_disable():
    try:
        _check_code(current_user, lambda: twofa.disable(current_user, request.form.get("password", ""),
                                                         request.form.get("code", "")))
        db.session.commit()
    except DomainError as exc:
        account_services.commit_counted_attempt()  # a wrong code still counts
        flash(exc.message, "error")
        return redirect(url_for("staff.twofa_setup"), code=303)
    flash(_("Two-step verification is off."), "success")
    return redirect(url_for("staff.twofa_setup"), code=303)


@bp.post("/2fa/recovery-codes")
@staff_required("own_account")
def twofa_recovery_codes():
    try:
        codes = _check_code(current_user, lambda: twofa.regenerate_recovery_codes(
            current_user, request.form.get("password", ""), request.form.get("code", "")))
        db.session.commit()
    except DomainError as exc:
        account_services.commit_counted_attempt()  # a wrong code still counts
        flash(exc.message, "error")
        return redirect(url_for("staff.twofa_setup"), code=303)
    return render_template("staff/recovery_codes.html", codes=codes, target=url_for("staff.twofa_setup"))


# ----------------------------------------------------------------------------- devices and notices


def _notices():
    return db.session.scalars(select(StaffNotice).where(StaffNotice.staff_id == current_user.id)
                              .order_by(StaffNotice.created_at.desc()).limit(20)).all()


@bp.get("/devices")
@staff_required("own_account")
def devices():
    from ..accounts.devices import user_sessions
    from ..accounts.views import _current_session_id

    return render_template("accounts/devices.html", layout="staff/base.html", prefix="staff",
                           rows=user_sessions(current_user), current_id=_current_session_id(), notices=_notices())


@bp.post("/devices/<session_id>/revoke")
@staff_required("own_account")
def device_revoke(session_id: str):
    from ..accounts.views import revoke_device

    return revoke_device(session_id, "staff")


@bp.post("/devices/revoke-others")
@staff_required("own_account")
def devices_revoke_others():
    from ..accounts.views import revoke_other_devices

    return revoke_other_devices("staff")


@bp.post("/notices/read")
@staff_required("own_account")
def notices_read():
    db.session.execute(StaffNotice.__table__.update().where(
        StaffNotice.staff_id == current_user.id, StaffNotice.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(url_for("staff.devices"), code=303)


# ----------------------------------------------------------------------------- staff accounts (admins)


@bp.route("/accounts", methods=["GET", "POST"])
@staff_required("staff_accounts")
def staff_accounts():
    error = None
    if request.method == "POST":
        try:
            account_services.create_staff_account(
                request.form.get("username", ""), request.form.get("password", ""), request.form.get("name", ""),
                request.form.get("role", "librarian"), request.form.get("email") or None)
            db.session.commit()
            flash(_("Staff account created."), "success")
            return redirect(url_for("staff.staff_accounts"), code=303)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    rows = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    enabled = {r.staff_id for r in db.session.scalars(select(twofa.StaffTwoFactor).where(
        twofa.StaffTwoFactor.confirmed_at.is_not(None))).all()}
    return render_template("staff/accounts.html", rows=rows, enabled=enabled, error=error,
                           form=request.form if error else {}), 400 if error else 200


@bp.post("/accounts/<id:staff_id>/disable")
@staff_required("staff_accounts")
def staff_account_disable(staff_id: int):
    try:
        account_services.disable_staff_account(staff_id, by=current_user)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("staff.staff_accounts"), code=303)
    flash(_("The staff account is disabled and signed out everywhere."), "success")
    return redirect(url_for("staff.staff_accounts"), code=303)
