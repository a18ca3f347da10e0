"""Ask a librarian pages, the FAQ, library information, the staff reference queue, and the API."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.permissions import is_patron, patron_required, staff_required
from ..catalog.models import Location, utcnow
from ..errors import DomainError
from ..extensions import db
from ..params import arg_int
from ..web import public_page
from . import services
from .models import CATEGORIES, CannedReply, FaqEntry, Question

bp = Blueprint("reference", __name__)


def _client_ip() -> str:
    from ..accounts.views import client_ip

    return client_ip()


def _ask_form_values() -> dict:
    f = request.form
    return {"text": f.get("question", ""), "category": f.get("category", "other"), "name": f.get("name"),
            "email": f.get("email"), "whatsapp": f.get("whatsapp"), "channel": f.get("channel", "app")}


def _ask_owner() -> str:
    """Whose idempotency keys these are: the logged-in patron, or else this browser session (an
    HMAC of the session's CSRF secret), so another client sending the same key never gets this
    client's thread link."""
    if is_patron():
        return f"ask:patron:{current_user.id}"
    client = session.get("csrf_token") or session.get("ask_client")
    if not client:
        client = session["ask_client"] = secrets.token_urlsafe(24)
    digest = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), str(client).encode(), hashlib.sha256)
    return "ask:s:" + digest.hexdigest()[:32]


def _create_question(values: dict, honeypot: str | None, stamp: str | None, key: str | None = None):
    """Returns (answer | None, error | None): the answer is {"ok", "message", "thread_url"} and
    "replayed" when the key was already answered. Spam gets a silent (None, None).

    The question, its e-mail, the spam counts and the idempotency key commit in one write
    transaction; the key is unique per owner, so concurrent resends make exactly one question and
    the others get its answer."""
    from sqlalchemy.exc import IntegrityError

    from ..circulation.services import idempotent_response, remember_response
    from ..db import begin_write

    owner = _ask_owner() if key else None
    if key:
        stored = idempotent_response(owner, key)
        if stored is not None:
            return {**stored, "replayed": True}, None
    if services.looks_like_spam(honeypot, stamp):
        return None, None
    begin_write()
    try:
        if key:  # another worker may have answered it while we waited for the write lock
            stored = idempotent_response(owner, key)
            if stored is not None:
                db.session.rollback()
                return {**stored, "replayed": True}, None
        q = services.ask(values["text"], category=values["category"], name=values.get("name"), email=values.get("email"),
                         whatsapp=values.get("whatsapp"), channel=values.get("channel", "app"),
                         patron=current_user if is_patron() else None, ip=_client_ip(), language=str(get_locale()))
        answer = {"ok": True, "message": _("Your question was received."), "thread_url": services.thread_url(q)}
        remember_response(owner, key, answer)
        db.session.commit()
        return answer, None
    except DomainError as exc:
        db.session.rollback()
        return None, exc
    except IntegrityError:
        db.session.rollback()
        stored = idempotent_response(owner, key) if key else None
        if stored is None:
            raise
        return {**stored, "replayed": True}, None


def _form_key() -> str | None:
    return (request.form.get("idempotency_key") or request.headers.get("Idempotency-Key") or "").strip()[:100] or None


@bp.route("/ask", methods=["GET", "POST"])
def ask():
    patron = current_user if is_patron() else None
    if request.method == "POST":
        values = _ask_form_values()
        key = _form_key()
        answer, error = _create_question(values, request.form.get("website"), request.form.get("ts"), key)
        if error is not None:
            return render_template("reference/ask.html", values=values, error=error.message, stamp=services.form_stamp(),
                                   categories=CATEGORIES, labels=services.CATEGORY_LABELS, patron=patron,
                                   idem=key or uuid.uuid4().hex), (429 if error.reason == "rate_limited" else 400)
        if answer is None:  # spam: looks like success, stores nothing
            return render_template("reference/sent.html", question=None)
        return render_template("reference/sent.html", question=True, url=answer["thread_url"])
    values = {"text": request.args.get("q", "")[:500], "category": "finding" if request.args.get("q") else "other",
              "name": patron.name if patron else "", "email": patron.email if patron else "",
              "whatsapp": patron.whatsapp if patron else "", "channel": "app" if patron else "email"}
    return render_template("reference/ask.html", values=values, stamp=services.form_stamp(), categories=CATEGORIES,
                           labels=services.CATEGORY_LABELS, patron=patron, idem=uuid.uuid4().hex)


def _thread_page(q: Question, post_url: str):
    if request.method == "POST":
        try:
            services.follow_up(q, request.form.get("message", ""))
            if is_patron() and q.patron_id == current_user.id:
                services.mark_answers_read(current_user, q)  # they are answering it: they have read it
            db.session.commit()
            flash(_("Your message is sent."), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(post_url, code=303)
    messages = [m for m in q.messages if not m.internal]
    mine = is_patron() and q.patron_id == current_user.id
    unread = mine and bool(services.unread_question_ids(current_user, [q]))
    return render_template("reference/thread.html", q=q, messages=messages, post_url=post_url, unread=unread,
                           labels=services.CATEGORY_LABELS, status_labels=services.STATUS_LABELS,
                           safe_html=services.safe_html)


@bp.route("/ask/t/<token>", methods=["GET", "POST"])
def thread(token: str):
    q = services.question_by_token(token)
    if q is None:
        abort(404)
    return _thread_page(q, url_for("reference.thread", token=token))


@bp.get("/account/questions")
@patron_required
def my_questions():
    rows = db.session.scalars(services.patron_questions(current_user).order_by(Question.updated_at.desc())).all()
    return render_template("reference/my_questions.html", rows=rows, labels=services.CATEGORY_LABELS,
                           status_labels=services.STATUS_LABELS, unread=services.unread_question_ids(current_user, rows))


@bp.route("/account/questions/<id:question_id>", methods=["GET", "POST"])
@patron_required
def my_question(question_id: int):
    q = db.session.scalar(services.patron_questions(current_user).where(Question.id == question_id))
    if q is None:
        abort(404)
    return _thread_page(q, url_for("reference.my_question", question_id=q.id))


@bp.post("/account/questions/<id:question_id>/read")
@patron_required
def my_question_read(question_id: int):
    """The patron has opened the answer (sent by the thread page's script, or its button without
    script): the answer no longer counts in the badge."""
    q = db.session.scalar(services.patron_questions(current_user).where(Question.id == question_id))
    if q is None:
        abort(404)
    services.mark_answers_read(current_user, q)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=True, unread_answers=services.unread_answers(current_user))
    return redirect(url_for("reference.my_question", question_id=q.id), code=303)


@bp.get("/api/v1/ask/unread")
@patron_required
def unread_api():
    """The badge: how many of my questions have an answer I have not opened."""
    return jsonify(unread_answers=services.unread_answers(current_user))


@bp.app_context_processor
def _unread_answers():
    """``unread_answers()`` for the Ask tab's badge, on private pages only: public pages are
    cached and carry no patron data (the app script fills the badge in there)."""

    def count() -> int:
        if g.get("public_page") or not is_patron():
            return 0
        return services.unread_answers(current_user)

    return {"unread_answers": count}


@bp.get("/faq")
@public_page
def faq():
    query = request.args.get("q", "").strip()[:200]
    if query:
        entries = [e for e, _s in services.faq_matcher().match(query, limit=10, min_score=0.5)]
    else:
        entries = db.session.scalars(select(FaqEntry).where(FaqEntry.published.is_(True))
                                     .order_by(FaqEntry.category, FaqEntry.position, FaqEntry.id)).all()
    groups: dict[str, list] = {}
    for e in entries:
        groups.setdefault(e.category, []).append(e)
    return render_template("reference/faq.html", groups=groups, query=query, labels=services.CATEGORY_LABELS,
                           safe_html=services.safe_html)


@bp.post("/faq/<id:faq_id>/helpful")
def faq_helpful(faq_id: int):
    ok = services.mark_helpful(faq_id)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify(ok=ok)
    flash(_("Thank you — glad it helped."), "success")
    from urllib.parse import urlsplit

    from ..accounts.views import safe_next

    back = urlsplit(request.referrer or "")
    same_site = back.netloc == request.host and back.scheme in ("http", "https")
    target = back.path + (f"?{back.query}" if back.query else "") if same_site else None
    return redirect(safe_next(target, url_for("reference.faq")), code=303)


def opening_status(now: datetime | None = None) -> dict:
    """Opening hours per weekday from settings, and whether the library is open right now."""
    from ..circulation.rules import Calendar

    cfg = current_app.config
    tz = ZoneInfo(cfg["BABEL_DEFAULT_TIMEZONE"])
    now = now or datetime.now(tz)
    hours = {int(k): v for k, v in (cfg["OPENING_HOURS"] or {}).items()}
    today = now.date()
    cal = Calendar(today)
    span = hours.get(today.weekday()) if cal.is_open(today) else None
    open_now = False
    if span:
        start, _sep, end = span.partition("-")
        open_now = start.strip() <= now.strftime("%H:%M") < end.strip()
    week = []
    for i in range(7):
        day = today + timedelta(days=i)
        week.append({"day": day, "hours": hours.get(day.weekday()) if cal.is_open(day) else None,
                     "holiday": day.weekday() in hours and not cal.is_open(day)})
    return {"open_now": open_now, "today_hours": span, "week": week}


#: How the services spell their own names (``SOCIAL_LINKS`` keys are lower case).
SERVICE_NAMES = {"youtube": "YouTube", "whatsapp": "WhatsApp", "tiktok": "TikTok", "linkedin": "LinkedIn", "x": "X"}


def service_name(key: str) -> str:
    """The name of a social service as it spells it.

    >>> [service_name(k) for k in ("youtube", "whatsapp", "instagram", "Mastodon")]
    ['YouTube', 'WhatsApp', 'Instagram', 'Mastodon']
    """
    return SERVICE_NAMES.get(key.lower(), key if key != key.lower() else key.capitalize())


@bp.get("/info")
@public_page
def info():
    cfg = current_app.config
    locations = db.session.scalars(select(Location).order_by(Location.position, Location.name)).all()
    social = {service_name(k): v for k, v in (cfg["SOCIAL_LINKS"] or {}).items()}
    return render_template("reference/info.html", status=opening_status(), locations=locations, social=social,
                           phone=cfg["CONTACT_PHONE"], email=cfg["CONTACT_EMAIL"], whatsapp=cfg["CONTACT_WHATSAPP"],
                           address=cfg["LIBRARY_ADDRESS"])


# ----------------------------------------------------------------------------- API


@bp.get("/api/v1/ask/suggest")
@public_page
def suggest_api():
    return jsonify(services.suggest(request.args.get("q", "")))


@bp.post("/api/v1/ask")
def ask_api():
    """Ask from the app (also the offline queue): an Idempotency-Key makes a resend harmless."""
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}
    key = (request.headers.get("Idempotency-Key") or str(data.get("idempotency_key") or "")).strip()[:100] or None
    def text(name):
        value = data.get(name)
        return None if value is None else str(value)

    values = {"text": text("question") or "", "category": text("category") or "other", "name": text("name"),
              "email": text("email"), "whatsapp": text("whatsapp"), "channel": text("channel") or "app"}
    answer, error = _create_question(values, text("website"), text("ts"), key)
    if error is not None:
        return jsonify(error=error.reason, message=error.message), (429 if error.reason == "rate_limited" else 400)
    if answer is None:
        return jsonify(ok=True, message=_("Your question was received."))
    return jsonify(answer)


def _thread_json(q: Question) -> dict:
    return {"status": q.status, "category": q.category, "messages": [
        {"from": m.author_kind, "body": m.body if m.author_kind == "staff" else str(services.escape(m.body)),
         "created_at": m.created_at.isoformat()} for m in q.messages if not m.internal]}


@bp.get("/api/v1/ask/t/<token>")
def thread_api(token: str):
    q = services.question_by_token(token)
    if q is None:
        return jsonify(error="not_found", message="No such question."), 404
    return jsonify(_thread_json(q))


@bp.post("/api/v1/ask/t/<token>")
def reply_api(token: str):
    q = services.question_by_token(token)
    if q is None:
        return jsonify(error="not_found", message="No such question."), 404
    try:
        services.follow_up(q, str((request.get_json(silent=True) or {}).get("message", "")))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return jsonify(error=exc.reason, message=exc.message), 409
    return jsonify(_thread_json(q))


# ----------------------------------------------------------------------------- staff


@bp.get("/staff/questions")
@staff_required("reference")
def queue():
    status = request.args.get("status", "open")
    category = request.args.get("category", "")
    assignee = request.args.get("assignee", "")
    age = request.args.get("age", "")
    query = select(Question).where(Question.purged_at.is_(None))
    if status == "open":
        query = query.where(Question.status != "closed")
    elif status in services.STATUS_LABELS:
        query = query.where(Question.status == status)
    if category in CATEGORIES:
        query = query.where(Question.category == category)
    if assignee == "me":
        query = query.where(Question.assignee_id == current_user.id)
    elif assignee == "none":
        query = query.where(Question.assignee_id.is_(None))
    age_days = arg_int("age", high=36500)  # a century at most: larger values are ignored, never a 500
    if age_days is not None:
        query = query.where(Question.created_at < utcnow() - timedelta(days=age_days))
    rows = db.session.scalars(query.order_by(Question.created_at).limit(200)).all()
    return render_template("reference/queue.html", rows=rows, labels=services.CATEGORY_LABELS,
                           status_labels=services.STATUS_LABELS, filters={"status": status, "category": category,
                                                                           "assignee": assignee, "age": age},
                           categories=CATEGORIES, now=utcnow())


@bp.route("/staff/questions/<id:question_id>", methods=["GET", "POST"])
@staff_required("reference")
def staff_thread(question_id: int):
    q = db.session.get(Question, question_id)
    if q is None or q.purged_at is not None:
        abort(404)
    wa_link = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action in ("reply", "note"):
                m = services.reply(q, current_user, request.form.get("body", ""), internal=action == "note")
                if action == "reply":
                    wa_link = services.whatsapp_reply_link(q, m)
            elif action == "claim":
                services.claim(q, current_user)
            elif action == "close":
                services.close(q)
            elif action == "reopen":
                services.reopen(q)
            elif action == "faq":
                entry = services.faq_from_question(q)
                db.session.commit()
                flash(_("A draft FAQ entry was made from this answer. Edit and publish it."), "success")
                return redirect(url_for("reference.faq_edit", faq_id=entry.id), code=303)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        if not wa_link:
            return redirect(url_for("reference.staff_thread", question_id=q.id), code=303)
    canned = services.canned_replies()
    prefill = ""
    canned_id = arg_int("canned", low=1)
    if canned_id is not None:
        c = db.session.get(CannedReply, canned_id)
        prefill = c.body if c else ""
    return render_template("reference/staff_thread.html", q=q, wa_link=wa_link, canned=canned, prefill=prefill,
                           channel_labels=services.CHANNEL_LABELS,
                           labels=services.CATEGORY_LABELS, status_labels=services.STATUS_LABELS,
                           safe_html=services.safe_html)


@bp.get("/staff/reference/stats")
@staff_required("reference")
def reference_stats():
    return render_template("reference/stats.html", s=services.stats(), labels=services.CATEGORY_LABELS)


@bp.get("/staff/faq")
@staff_required("faq")
def faq_admin():
    rows = db.session.scalars(select(FaqEntry).order_by(FaqEntry.category, FaqEntry.position, FaqEntry.id)).all()
    return render_template("reference/faq_admin.html", rows=rows, labels=services.CATEGORY_LABELS)


@bp.route("/staff/faq/new", methods=["GET", "POST"], defaults={"faq_id": None})
@bp.route("/staff/faq/<id:faq_id>", methods=["GET", "POST"])
@staff_required("faq")
def faq_edit(faq_id):
    entry = db.session.get(FaqEntry, faq_id) if faq_id else FaqEntry(category="other", question="", answer="")
    if faq_id and entry is None:
        abort(404)
    if request.method == "POST":
        entry.category = request.form.get("category") if request.form.get("category") in CATEGORIES else "other"
        entry.question = request.form.get("question", "").strip()[:500]
        entry.answer = services.sanitize_html(request.form.get("answer", ""))
        entry.keywords = request.form.get("keywords", "").strip()[:500] or None
        entry.published = "published" in request.form
        if not entry.question or not services.plain_text(entry.answer):
            flash(_("An FAQ entry needs a question and an answer."), "error")
            return render_template("reference/faq_edit.html", entry=entry, categories=CATEGORIES,
                                   labels=services.CATEGORY_LABELS), 400
        if entry.id is None:
            from sqlalchemy import func

            entry.position = (db.session.scalar(select(func.max(FaqEntry.position))) or 0) + 1
            db.session.add(entry)
        db.session.commit()
        flash(_("FAQ entry saved."), "success")
        return redirect(url_for("reference.faq_admin"), code=303)
    return render_template("reference/faq_edit.html", entry=entry, categories=CATEGORIES, labels=services.CATEGORY_LABELS)


@bp.post("/staff/faq/<id:faq_id>/move")
@staff_required("faq")
def faq_move(faq_id: int):
    entry = db.session.get(FaqEntry, faq_id) or abort(404)
    siblings = db.session.scalars(select(FaqEntry).where(FaqEntry.category == entry.category)
                                  .order_by(FaqEntry.position, FaqEntry.id)).all()
    i = siblings.index(entry)
    j = i - 1 if request.form.get("direction") == "up" else i + 1
    if 0 <= j < len(siblings):
        siblings[i], siblings[j] = siblings[j], siblings[i]
        for pos, e in enumerate(siblings):
            e.position = pos
        db.session.commit()
    return redirect(url_for("reference.faq_admin"), code=303)


@bp.route("/staff/canned", methods=["GET", "POST"])
@staff_required("reference")
def canned():
    if request.method == "POST":
        title = request.form.get("title", "").strip()[:200]
        body = request.form.get("body", "").strip()
        if title and body:
            db.session.add(CannedReply(title=title, body=body))
            db.session.commit()
        return redirect(url_for("reference.canned"), code=303)
    return render_template("reference/canned.html", rows=services.canned_replies())


def openapi_paths() -> tuple[dict, dict]:
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"}}
    idem = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 100}}
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
    thread = {"type": "object", "required": ["status", "messages"], "properties": {
        "status": {"type": "string", "enum": ["received", "answered", "closed"]}, "category": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "object", "properties": {
            "from": {"type": "string", "enum": ["patron", "staff"]}, "body": {"type": "string"},
            "created_at": {"type": "string"}}}}}}
    paths = {
        "/api/v1/ask/unread": {"get": {
            "summary": "How many of my questions have an answer I have not opened (the Ask tab's badge)",
            "operationId": "askUnread", "security": [{"session": []}],
            "responses": {"200": {"description": "The count", "content": {"application/json": {"schema": {
                "type": "object", "required": ["unread_answers"],
                "properties": {"unread_answers": {"type": "integer", "minimum": 0}}}}}},
                          "401": {"description": "Not logged in", "content": err}}}},
        "/api/v1/ask/suggest": {"get": {
            "summary": "FAQ answers and catalogue records for a question being typed", "operationId": "askSuggest",
            "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 10000}}],
            "responses": {"200": {"description": "Suggestions", "content": {"application/json": {"schema": {
                "type": "object", "required": ["faqs", "records"],
                "properties": {"faqs": {"type": "array", "items": {"type": "object"}},
                               "records": {"type": "array", "items": {"type": "object"}}}}}}}}}},
        "/api/v1/ask": {"post": {
            "summary": "Ask a librarian (private thread; the answer includes its link)", "operationId": "ask",
            "parameters": [csrf, idem],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["question", "ts"],
                "properties": {"question": {"type": "string", "minLength": 10, "maxLength": 4000},
                               "category": {"type": "string", "enum": ["finding", "research", "account", "facilities", "other"]},
                               "name": {"type": "string"}, "email": {"type": "string"}, "whatsapp": {"type": "string"},
                               "channel": {"type": "string", "enum": ["app", "email", "whatsapp"]},
                               "ts": {"type": "string", "description": "The form's signed time stamp"},
                               "idempotency_key": {"type": "string", "maxLength": 100,
                                                   "description": "As the Idempotency-Key header (the header wins)"}}}}}},
            "responses": {"200": {"description": "Received", "content": {"application/json": {"schema": {"type": "object"}}}},
                          "400": {"description": "Not valid; the message says why", "content": err},
                          "429": {"description": "Too many questions from this address or contact", "content": err}}}},
        "/api/v1/ask/t/{token}": {
            "get": {"summary": "A question thread (for the holder of its link)", "operationId": "askThread",
                    "parameters": [token], "responses": {
                        "200": {"description": "The thread", "content": {"application/json": {"schema": thread}}},
                        "404": {"description": "No such thread", "content": err}}},
            "post": {"summary": "Add a follow-up message", "operationId": "askFollowUp", "parameters": [token, csrf],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}}}},
                     "responses": {"200": {"description": "The thread", "content": {"application/json": {"schema": thread}}},
                                   "404": {"description": "No such thread", "content": err},
                                   "409": {"description": "Closed or empty", "content": err}}}},
    }
    return paths, {}
