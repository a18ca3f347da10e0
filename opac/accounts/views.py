"""Patron log in/out, account settings, password change and reset, library card, history."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..catalog.models import Location
from ..db import reads_first
from ..errors import DomainError
from ..extensions import db, login_manager
from ..i18n import LANG_COOKIE
from . import services
from .barcode import code128_svg, qr_svg
from .permissions import is_patron, patron_required

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(token: str):
    return services.load_session_user(token)


def client_ip() -> str:
    """The client address. Behind reverse proxies set OPAC_PROXY_COUNT: ProxyFix then takes the
    address the nearest trusted proxy saw, never one a client wrote into X-Forwarded-For."""
    return (request.remote_addr or "unknown")[:64]


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect after login).

    Read as a browser reads a Location: tabs and line breaks are dropped first (a tab between two
    slashes makes a scheme-relative URL), then scheme-relative forms, backslashes, other control
    characters and anything with a scheme or host are refused.
    """
    if not target:
        return default
    target = re.sub(r"[\t\r\n]", "", target).strip(" ")
    if (not target.startswith("/") or target[1:2] in ("/", "\\") or "\\" in target
            or re.search(r"[\x00-\x1f\x7f]", target)):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def log_in(user, *, remember: bool = False) -> None:
    """Fresh session (no fixation), server-side session row, Flask-Login user.

    Only a patron who ticked "keep me signed in on this device" gets a persistent cookie; every
    other login lives in a browser-session cookie (no Max-Age) and ends when the browser does.
    """
    if hasattr(user, "_get_current_object"):  # current_user: Flask-Login must get the object, not the proxy
        user = user._get_current_object()
    session.clear()
    services.start_session(user, remember=remember)
    login_user(user, remember=False)
    session.permanent = bool(user.auth_remember)
    after_login(user)


def after_login(user) -> None:
    """Describe the new session (browser, address prefix) and notice a login from a new browser."""
    from flask import after_this_request

    from . import devices

    devices.describe_session(devices.session_key(user.auth_session_id), request.headers.get("User-Agent"),
                             client_ip())
    token = request.cookies.get(devices.DEVICE_COOKIE, "")
    if not devices.valid_device_token(token):
        token = devices.new_device_token()

        @after_this_request
        def _set_device_cookie(resp):
            resp.set_cookie(devices.DEVICE_COOKIE, token, max_age=devices.DEVICE_COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
            return resp

    if devices.remember_device(user, token):
        session_row = db.session.get(devices.AuthSession, devices.session_key(user.auth_session_id))
        devices.notify_new_sign_in(user, session_row.device if session_row else "?",
                                   session_row.ip_prefix if session_row else "?")


def log_out() -> None:
    token = current_user.get_id() if current_user.is_authenticated else None
    if token:
        services.end_session(token)
    logout_user()
    session.clear()


PATRON_FLAG = "opac_patron"


def set_patron_flag(resp, remember: bool = False) -> None:
    """A cookie telling the app script a patron is logged in (to keep the offline snapshot); it lasts
    as long as the session cookie. Its value is the session's logout token (no personal data): a logout
    made offline is queued with it and ends this session, and no later one, when the phone is back online."""
    value = services.logout_token(current_user) if current_user.is_authenticated else None
    max_age = current_app.config["PERMANENT_SESSION_LIFETIME"] if remember else None
    resp.set_cookie(PATRON_FLAG, value or "1", max_age=max_age, samesite="Lax",
                    secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=False)


def clear_patron_traces(resp):
    """After logout: the browser drops cached pages; the service worker and app script erase what
    the patron left on the device (snapshot, saved list, visited records and search pages, storage)
    when the patron flag goes. ``"storage"`` is not sent: it would also unregister the service
    worker, and the app would no longer open offline."""
    resp.headers["Clear-Site-Data"] = '"cache"'
    resp.delete_cookie(PATRON_FLAG)
    return resp


#: Answers that never check the session for a stale patron flag: static files and cover images
#: (a page shows many; the page itself and the app's API calls do the check).
_NO_FLAG_CHECK = frozenset({"static", "catalog.cover"})


@bp.after_app_request
def _drop_stale_patron_flag(resp):
    """A patron flag whose session is over (it ran out, or was ended from another device) goes with
    the next page or API answer, so the app erases what the patron left on this device at once."""
    if (request.endpoint not in _NO_FLAG_CHECK and request.cookies.get(PATRON_FLAG) and not is_patron()
            and not any(c.startswith(PATRON_FLAG + "=") for c in resp.headers.getlist("Set-Cookie"))):
        resp.delete_cookie(PATRON_FLAG)
    return resp


def logout_response(target: str):
    return clear_patron_traces(redirect(target, code=303))


@bp.route("/login", methods=["GET", "POST"])
@reads_first
def login():
    target = safe_next(request.values.get("next"), url_for("circulation.my_loans"))
    if request.method == "GET":
        if is_patron():
            return redirect(target)
        return render_template("accounts/login.html", next=target)
    card = request.form.get("card", "")
    try:
        patron = services.authenticate(card, request.form.get("pin", ""), client_ip())
        log_in(patron, remember="remember" in request.form)
        db.session.commit()
    except services.AccountError as exc:
        services.commit_counted_attempt()  # a refused login still counts
        status = 429 if exc.reason == "throttled" else 400
        return render_template("accounts/login.html", next=target, error=exc.message, card=card[:32],
                               remember="remember" in request.form), status
    resp = redirect(target, code=303)
    resp.set_cookie(LANG_COOKIE, patron.language, max_age=365 * 86400, samesite="Lax",
                    secure=current_app.config["SESSION_COOKIE_SECURE"])
    set_patron_flag(resp, patron.auth_remember)
    return resp


@bp.post("/logout")
def logout():
    log_out()
    db.session.commit()
    return logout_response(url_for("catalog.home"))


@bp.route("/account", methods=["GET", "POST"])
@patron_required
def account():
    patron = current_user
    if request.method == "POST":
        try:
            services.update_profile(
                patron, email=request.form.get("email", "").strip() or None,
                whatsapp=request.form.get("whatsapp", "").strip() or None,
                language=request.form.get("language", "id"),
                notify_email="notify_email" in request.form, notify_whatsapp="notify_whatsapp" in request.form,
                notify_days_before=request.form.get("notify_days_before", type=int) or 0,
                keep_history="keep_history" in request.form)
            db.session.commit()
            flash(_("Your settings are saved."), "success")
            resp = redirect(url_for("accounts.account"), code=303)
            resp.set_cookie(LANG_COOKIE, patron.language, max_age=365 * 86400, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
            return resp
        except DomainError as exc:
            db.session.rollback()
            return render_template("accounts/account.html", patron=patron, error=exc.message), 400
    return render_template("accounts/account.html", patron=patron)


@bp.post("/account/password")
@patron_required
def change_password():
    patron = current_user
    try:
        services.change_password(patron, request.form.get("current", ""), request.form.get("new", ""),
                                 request.form.get("confirm", ""), ip=client_ip())
        log_in(patron, remember=patron.auth_remember)  # the fresh session keeps the device's choice
        db.session.commit()
    except DomainError as exc:
        if exc.reason in ("wrong_password", "throttled"):
            services.commit_counted_attempt()  # a wrong current PIN still counts (nothing else was written)
        else:
            db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("accounts.account"), code=303)
    flash(_("Your PIN is changed. Other devices have been logged out."), "success")
    return redirect(url_for("accounts.account"), code=303)


@bp.route("/password-reset", methods=["GET", "POST"])
def request_reset():
    if request.method == "POST":
        from ..db import begin_write

        begin_write()
        try:
            services.request_password_reset(request.form.get("card_or_email", ""), ip=client_ip())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            return render_template("accounts/reset_request.html", error=exc.message), 429
        flash(_("If the card has an e-mail address, a reset link is on its way."), "success")
        return redirect(url_for("accounts.login"), code=303)
    return render_template("accounts/reset_request.html")


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if request.method == "POST":
        try:
            services.reset_password(token, request.form.get("new", ""), request.form.get("confirm", ""))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            return render_template("accounts/reset_form.html", token=token, error=exc.message), 400
        flash(_("Your new PIN is set. Please log in."), "success")
        return redirect(url_for("accounts.login"), code=303)
    return render_template("accounts/reset_form.html", token=token)


@bp.get("/card")
@patron_required
def card():
    patron = current_user
    return render_template("accounts/card.html", patron=patron,
                           barcode=code128_svg(patron.card_number, label=patron.card_number),
                           qr=qr_svg(patron.card_number))


@bp.get("/account/history")
@patron_required
def history():
    from ..circulation.models import Loan
    from ..circulation.services import patron_loans

    loans = []
    if current_user.keep_history:
        loans = db.session.scalars(patron_loans(current_user, open_only=False)
                                   .order_by(Loan.checked_out_at.desc())).all()
    return render_template("accounts/history.html", loans=loans, patron=current_user)


def _history_rows(patron):
    from ..circulation.models import Loan
    from ..circulation.services import patron_loans

    for loan in db.session.scalars(patron_loans(patron, open_only=False).order_by(Loan.checked_out_at)).all():
        rec = loan.item.record
        yield {"title": rec.title, "authors": "; ".join(rec.author_names), "barcode": loan.item.barcode,
               "borrowed": loan.checked_out_at.date().isoformat(), "due": loan.due_date.isoformat(),
               "returned": loan.returned_at.date().isoformat() if loan.returned_at else None, "renewals": loan.renewals}


@bp.get("/account/history.<fmt>")
@patron_required
def history_download(fmt: str):
    if fmt == "ris":  # for reference managers (Zotero, Mendeley, EndNote): each title once
        from ..patron_services.history import history_ris

        resp = Response(history_ris(current_user), mimetype="application/x-research-info-systems")
        resp.headers["Content-Disposition"] = 'attachment; filename="loan-history.ris"'
        return resp
    rows = list(_history_rows(current_user))
    if fmt == "json":
        resp = Response(json.dumps(rows, ensure_ascii=False, indent=1), mimetype="application/json")
    elif fmt == "csv":
        from ..exports import csv_text

        resp = Response(csv_text(rows, ["title", "authors", "barcode", "borrowed", "due", "returned", "renewals"]),
                        mimetype="text/csv")
    else:
        return redirect(url_for("accounts.history"))
    resp.headers["Content-Disposition"] = f'attachment; filename="loan-history.{fmt}"'
    return resp


@bp.post("/account/history/delete")
@patron_required
def history_delete():
    from ..circulation.services import delete_history

    n = delete_history(current_user)
    db.session.commit()
    flash(_("%(n)s returned loans were removed from your history.", n=n), "success")
    return redirect(url_for("accounts.history"), code=303)


@bp.get("/account/notifications")
@patron_required
def notifications():
    from ..notifications.models import Notification

    notes = db.session.scalars(select(Notification).where(Notification.patron_id == current_user.id)
                               .order_by(Notification.created_at.desc()).limit(100)).all()
    return render_template("accounts/notifications.html", notes=notes)


@bp.post("/account/notifications/read")
@patron_required
def notifications_read():
    from ..catalog.models import utcnow
    from ..notifications.models import Notification

    db.session.execute(Notification.__table__.update().where(
        Notification.patron_id == current_user.id, Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(url_for("accounts.notifications"), code=303)


def pickup_locations():
    return db.session.scalars(select(Location).where(Location.is_pickup.is_(True)).order_by(Location.position,
                                                                                          Location.name)).all()



# ----------------------------------------------------------------------------- signed-in devices


def _current_session_id() -> str | None:
    from .devices import session_key

    token = current_user.get_id() if current_user.is_authenticated else None
    return session_key(token) if token else None


def devices_page(layout: str, prefix: str):
    """The signed-in devices of the current user (patron or staff)."""
    from .devices import user_sessions

    return render_template("accounts/devices.html", layout=layout, prefix=prefix, rows=user_sessions(current_user),
                           current_id=_current_session_id())


def revoke_device(session_id: str, prefix: str):
    """Sign out one of the current user's own sessions; another person's id is a 404."""
    from flask import abort

    from .devices import AuthSession, end_session_by_ref

    row = db.session.scalar(select(AuthSession).where(AuthSession.ref == session_id[:24],
                                                      AuthSession.kind == current_user.kind,
                                                      AuthSession.user_id == current_user.id))
    if row is None:
        abort(404)
    is_current = row.id == _current_session_id()
    end_session_by_ref(current_user, session_id)
    db.session.commit()
    if is_current:
        logout_user()
        session.clear()
        return logout_response(url_for("staff.login" if prefix == "staff" else "accounts.login"))
    flash(_("That device is signed out."), "success")
    return redirect(url_for(f"{prefix}.devices"), code=303)


def revoke_other_devices(prefix: str):
    from .devices import end_other_sessions

    n = end_other_sessions(current_user, _current_session_id())
    db.session.commit()
    flash(_("%(n)s other devices are signed out.", n=n), "success")
    return redirect(url_for(f"{prefix}.devices"), code=303)


@bp.get("/account/devices")
@patron_required
def devices():
    return devices_page("base.html", "accounts")


@bp.post("/account/devices/<session_id>/revoke")
@patron_required
def device_revoke(session_id: str):
    return revoke_device(session_id, "accounts")


@bp.post("/account/devices/revoke-others")
@patron_required
def devices_revoke_others():
    return revoke_other_devices("accounts")
