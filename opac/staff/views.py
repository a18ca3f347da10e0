"""Staff screens composed from the domains' services: desk, holds shelf, outbox, import, patrons."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..accounts import services as account_services
from ..accounts.models import Patron, PatronCategory
from ..accounts.permissions import can, staff_required
from ..catalog.models import Location, utcnow
from ..circulation import actions, rules
from ..circulation.models import Hold
from ..db import reads_first
from ..errors import DomainError
from ..extensions import db
from ..mail import OutboxEmail, whatsapp_link
from ..web import large_upload
from .blueprint import bp


@bp.app_context_processor
def _staff_globals():
    return {"can": can}


@bp.route("/login", methods=["GET", "POST"])
@reads_first
def login():
    from ..accounts.views import client_ip, log_in, safe_next
    from .security import start_second_step

    target = safe_next(request.values.get("next"), url_for("staff.dashboard"))
    if request.method == "GET":
        return render_template("staff/login.html", next=target)
    try:
        staff = account_services.authenticate_staff(request.form.get("username", ""), request.form.get("password", ""),
                                                    client_ip())
        second_step = start_second_step(staff, target)  # two-factor: no session until the code passes
        if second_step is None:
            log_in(staff)
        db.session.commit()
    except DomainError as exc:
        account_services.commit_counted_attempt()  # a refused login still counts
        return render_template("staff/login.html", next=target, error=exc.message), (
            429 if exc.reason == "throttled" else 400)
    return second_step or redirect(target, code=303)


@bp.post("/logout")
def logout():
    from ..accounts.views import log_out, logout_response

    log_out()
    db.session.commit()
    return logout_response(url_for("staff.login"))


@bp.get("/")
@staff_required("desk")
def dashboard():
    from flask_babel import format_timedelta
    from flask_login import current_user

    from .dashboard import desk_counts

    counts = desk_counts(current_user)
    oldest = counts["oldest_question"]
    wait = format_timedelta(utcnow() - oldest, threshold=1.0) if oldest else None
    return render_template("staff/dashboard.html", counts=counts, oldest_wait=wait)


def _desk_location():
    loc_id = session.get("desk_location_id")
    return db.session.get(Location, loc_id) if isinstance(loc_id, int) and 0 < loc_id < 2**31 else None


DESK_MODES = ("checkout", "checkin")


def _desk_mode() -> str:
    """The desk's mode: the form just posted, else the link followed, else the one last used here."""
    for mode in (request.form.get("action"), request.args.get("mode"), session.get("desk_mode")):
        if mode in DESK_MODES:
            return mode
    return "checkout"


@bp.route("/desk", methods=["GET", "POST"])
@staff_required("desk")
def desk():
    result = None
    if request.method == "POST":
        action = request.form.get("action")
        loc = _desk_location()
        if action == "location":
            session["desk_location_id"] = request.form.get("location_id", type=int)
            return redirect(url_for("staff.desk"), code=303)
        if action in DESK_MODES:
            session["desk_mode"] = action  # sticky: the next visit opens where the librarian left off
        if action == "checkout":
            result = actions.checkout(request.form.get("card", ""), request.form.get("barcode", ""),
                                      loc.id if loc else None)
            result["action"] = "checkout"
        elif action == "checkin":
            result = actions.checkin(request.form.get("barcode", ""), loc.id if loc else None)
            result["action"] = "checkin"
    locations = db.session.scalars(select(Location).order_by(Location.position, Location.name)).all()
    status = 200 if result is None or result.get("ok") else 409
    return render_template("staff/desk.html", result=result, locations=locations, desk_location=_desk_location(),
                           mode=_desk_mode(), card=request.form.get("card", "").strip()[:64],
                           barcode=request.form.get("barcode", "").strip()[:64] if result and not result.get("ok")
                           else ""), status


@bp.get("/holds")
@staff_required("holds_shelf")
def holds_shelf():
    from .dashboard import holds_to_pull

    today = rules.today()
    ready = db.session.scalars(select(Hold).where(Hold.status == "ready").order_by(Hold.pickup_by)).all()
    transit = db.session.scalars(select(Hold).where(Hold.status == "in_transit").order_by(Hold.placed_at)).all()
    to_pull = holds_to_pull(today)
    patrons = {p.id: p for p in db.session.scalars(select(Patron).where(
        Patron.id.in_({h.patron_id for h in ready + transit + [x for x, _c in to_pull]} or {0}))).all()}
    return render_template("staff/holds.html", ready=ready, transit=transit, to_pull=to_pull, patrons=patrons,
                           today=today)


@bp.get("/overdue")
@staff_required("desk")
def overdue():
    from .dashboard import overdue_loans

    today = rules.today()
    rows = overdue_loans(today)
    patrons = {p.id: p for p in db.session.scalars(select(Patron).where(
        Patron.id.in_({loan.patron_id for loan in rows if loan.patron_id} or {0}))).all()}
    return render_template("staff/overdue.html", rows=rows, patrons=patrons, today=today)


def _stats_days() -> int:
    from .statistics import MAX_DAYS

    days = request.args.get("days", type=int) or 30
    return max(1, min(days, MAX_DAYS))


@bp.get("/statistics")
@staff_required("statistics")
def statistics():
    from . import statistics as stats

    days = _stats_days()
    day_list = stats.day_range(days)
    series = stats.all_series(day_list)
    charts = {key: stats.bar_chart(s) for key, s in series.items()}
    visits = {"visits": stats.visit_counts(day_list), "visits_by_hour": stats.visits_by_hour(day_list)}
    return render_template("staff/statistics.html", series=series, charts=charts, days=days, visits=visits,
                           visit_charts={key: stats.bar_chart(s) for key, s in visits.items()},
                           **stats.search_misses(day_list))


def _csv_download(name: str, make):
    """A statistics CSV over the chosen period: ``make(days)`` writes it, the file is named after it."""
    from flask import Response

    from . import statistics as stats

    day_list = stats.day_range(_stats_days())
    return Response(make(day_list), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}-{day_list[0]}-{day_list[-1]}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/statistics/<series>.csv")
@staff_required("statistics")
def statistics_csv(series: str):
    from flask import abort

    from . import statistics as stats

    if series not in (*stats.SERIES, "first_answer"):
        abort(404)
    return _csv_download(series, lambda days: stats.series_csv(
        stats.first_answer_hours(days) if series == "first_answer" else stats.daily_counts(series, days)))


@bp.get("/statistics/visits.csv")
@staff_required("statistics")
def statistics_visits_csv():
    """Entrance check-ins per day and hour (no patron in them): for accreditation reports."""
    from . import statistics as stats

    return _csv_download("visits", stats.visits_csv)


@bp.get("/statistics/search_misses.csv")
@staff_required("statistics")
def statistics_search_misses_csv():
    """Searches without results per day and query (no patron, session or address in them)."""
    from . import statistics as stats

    return _csv_download("search_misses", stats.search_misses_csv)


@bp.post("/holds/expire")
@staff_required("holds_shelf")
def expire_holds():
    from ..circulation.services import expire_holds as expire
    from ..db import begin_write

    begin_write()
    n = expire()
    db.session.commit()
    flash(_("%(n)s uncollected holds expired; their copies went to the next patron or back to the shelf.", n=n),
          "success")
    return redirect(url_for("staff.holds_shelf"), code=303)


@bp.get("/outbox")
@staff_required("outbox")
def outbox():
    from ..accounts.secrets import redact_secrets

    rows = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(200)).all()
    # staff never see the secret links (reset, private threads) that the real mail carries
    bodies = {r.id: redact_secrets(r.body) for r in rows}
    return render_template("staff/outbox.html", rows=rows, bodies=bodies,
                           wa={r.id: whatsapp_link(r.whatsapp, f"{r.subject}\n{bodies[r.id]}") for r in rows if r.whatsapp})


#: Outbound queues staff can inspect: channel name -> model (e-mail, Web Push).
def _queues() -> dict:
    from ..push import PushMessage

    return {"mail": OutboxEmail, "push": PushMessage}


@bp.get("/dead-letters")
@staff_required("outbox")
def dead_letters():
    """Messages the worker gave up on after their last attempt, with the last error."""
    rows = []
    for channel, model in _queues().items():
        for r in db.session.scalars(select(model).where(model.status == "dead").order_by(model.id.desc()).limit(200)):
            rows.append({"channel": channel, "id": r.id, "created_at": r.created_at, "attempts": r.attempts,
                         "error": r.error, "to": r.to if channel == "mail" else None,
                         "subject": r.subject if channel == "mail" else (r.payload or {}).get("title", r.kind)})
    rows.sort(key=lambda r: r["created_at"], reverse=True)
    return render_template("staff/dead_letters.html", rows=rows)


@bp.post("/dead-letters/retry")
@staff_required("outbox")
def retry_dead_letter():
    from .. import outbound
    from ..db import begin_write

    model = _queues().get(request.form.get("channel", ""))
    row_id = request.form.get("id", type=int)
    begin_write()
    if model is None or row_id is None or not 0 < row_id < 2**31 or not outbound.retry(model, row_id):
        db.session.rollback()
        flash(_("This message is not a dead letter (any more); nothing was changed."), "error")
        return redirect(url_for("staff.dead_letters"), code=303)
    db.session.commit()
    flash(_("The message is queued again; the worker will send it shortly."), "success")
    return redirect(url_for("staff.dead_letters"), code=303)


@bp.route("/import", methods=["GET", "POST"])
@large_upload
@staff_required("catalog_import")
def catalog_import():
    from ..catalog.services import ImportReport, import_data

    report = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Choose a file to import."), "error")
        else:
            data = upload.read()
            report = ImportReport()
            import_data(data, name=upload.filename, source=upload.filename[:64], report=report,
                        commit=db.session.commit)
    return render_template("staff/import.html", report=report)


@bp.route("/patrons", methods=["GET", "POST"])
@staff_required("patrons")
def patrons():
    error = None
    if request.method == "POST":
        try:
            expires = request.form.get("expires_on")
            account_services.create_patron(
                request.form.get("card", ""), request.form.get("pin", ""), request.form.get("name", ""),
                request.form.get("category", ""), email=request.form.get("email") or None,
                whatsapp=request.form.get("whatsapp") or None,
                expires_on=date.fromisoformat(expires) if expires else None)
            db.session.commit()
            flash(_("Patron created."), "success")
            return redirect(url_for("staff.patrons"), code=303)
        except (DomainError, ValueError) as exc:
            db.session.rollback()
            error = exc.message if isinstance(exc, DomainError) else str(exc)
    q = (request.args.get("q") or "").strip()
    query = select(Patron).order_by(Patron.name).limit(50)
    if q:
        query = query.where((Patron.card_number == q) | Patron.name.ilike(f"%{q}%"))
    rows = db.session.scalars(query).all()
    categories = db.session.scalars(select(PatronCategory).order_by(PatronCategory.id)).all()
    return render_template("staff/patrons.html", rows=rows, categories=categories, error=error, q=q), (
        400 if error else 200)



from . import records as _records  # noqa: E402,F401  (record and copy editing)
from . import security as _security  # noqa: E402,F401  (second login step, 2FA, devices, staff accounts)
