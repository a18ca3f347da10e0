"""Purchase suggestions, lists and course reading lists, the shelf beside a record: pages for
patrons and staff, and the patron JSON API (documented in ``openapi_paths``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.permissions import can, is_patron, patron_required, staff_required
from ..catalog.models import Item, Record
from ..catalog.views import find_record
from ..db import begin_write
from ..errors import DomainError
from ..extensions import db
from ..params import arg_int, form_int
from ..web import public_page
from . import services, shelf
from .models import SUGGESTION_STATUSES, SUGGESTION_STEPS, ClearanceLetter, PurchaseSuggestion, ReadingList

bp = Blueprint("patron_services", __name__)


def _own_list(list_id: int) -> ReadingList:
    """One of the logged-in patron's lists; anyone else's is a 404."""
    rl = db.session.scalar(services.patron_lists(current_user).where(ReadingList.id == list_id))
    if rl is None:
        abort(404)
    return rl


def _body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _int(value) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if 0 < n < 2**31 else None


def _refused_json(exc: DomainError):
    db.session.rollback()
    return jsonify(error=exc.reason, message=exc.message), 409


# ----------------------------------------------------------------------------- purchase suggestions


@bp.get("/suggestions")
@patron_required
def my_suggestions():
    rows = db.session.scalars(services.patron_suggestions(current_user)
                              .order_by(PurchaseSuggestion.created_at.desc()).limit(200)).all()
    return render_template("patron_services/suggestions.html", rows=rows, labels=services.STATUS_LABELS,
                           values={}, locations=_pickups(),
                           left=_left_this_month())


def _pickups():
    from ..accounts.views import pickup_locations

    return pickup_locations()


def _left_this_month() -> int:
    from flask import current_app

    return max(0, int(current_app.config["SUGGESTIONS_PER_MONTH"]) - services.suggestions_this_month(current_user.id))


def _suggest(data: dict) -> PurchaseSuggestion:
    begin_write()
    s = services.suggest_purchase(current_user, title=data.get("title"), author=data.get("author"),
                                  isbn=data.get("isbn"), reason=data.get("reason"),
                                  pickup_location_id=_int(data.get("pickup_location_id")))
    db.session.commit()
    return s


@bp.post("/suggestions")
@patron_required
def suggest():
    values = request.form.to_dict()
    try:
        _suggest(values)
    except DomainError as exc:
        db.session.rollback()
        rows = db.session.scalars(services.patron_suggestions(current_user)
                                  .order_by(PurchaseSuggestion.created_at.desc()).limit(200)).all()
        return render_template("patron_services/suggestions.html", rows=rows, labels=services.STATUS_LABELS,
                               values=values, error=exc.message, locations=_pickups(),
                               left=_left_this_month()), 409 if exc.reason == "monthly_limit" else 400
    flash(_("Thank you: your suggestion is sent to the library."), "success")
    return redirect(url_for("patron_services.my_suggestions"), code=303)


@bp.get("/staff/suggestions")
@staff_required("suggestions")
def staff_suggestions():
    status = request.args.get("status", "submitted")
    q = select(PurchaseSuggestion).order_by(PurchaseSuggestion.created_at)
    if status in SUGGESTION_STATUSES:
        q = q.where(PurchaseSuggestion.status == status)
    else:
        status = "all"
    rows = db.session.scalars(q.limit(300)).all()
    from ..accounts.models import Patron

    patrons = {p.id: p for p in db.session.scalars(select(Patron).where(Patron.id.in_({r.patron_id for r in rows})))}
    return render_template("patron_services/staff_suggestions.html", rows=rows, patrons=patrons, status=status,
                           statuses=SUGGESTION_STATUSES, steps=SUGGESTION_STEPS, labels=services.STATUS_LABELS)


@bp.post("/staff/suggestions/<id:suggestion_id>/step")
@staff_required("suggestions")
def staff_suggestion_step(suggestion_id: int):
    target = request.form.get("target", "")
    begin_write()
    try:
        s, hold_problem = services.advance_suggestion(
            suggestion_id, target, by=current_user, reason=request.form.get("reason"),
            record_id=form_int("record_id", low=1))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("patron_services.staff_suggestions", status=request.form.get("back") or "submitted"),
                        code=303)
    flash(_("%(title)s: %(status)s. The patron is told.", title=s.title, status=services.STATUS_LABELS[s.status]),
          "success")
    if hold_problem:
        flash(_("No hold could be placed for the patron: %(reason)s", reason=hold_problem), "error")
    return redirect(url_for("patron_services.staff_suggestions", status=request.form.get("back") or "submitted"),
                    code=303)


# ----------------------------------------------------------------------------- a patron's lists


@bp.get("/lists")
@patron_required
def my_lists():
    rows = db.session.scalars(services.patron_lists(current_user).order_by(ReadingList.name)).all()
    return render_template("patron_services/my_lists.html", rows=rows, lecturer=services.is_lecturer(current_user))


@bp.post("/lists")
@patron_required
def create_list():
    f = request.form
    begin_write()
    try:
        rl = services.create_list(name=f.get("name"), patron=current_user, kind=f.get("kind", "personal"),
                                  description=f.get("description"), course_code=f.get("course_code"),
                                  course_name=f.get("course_name"))
        record_id = form_int("record_id", low=1)
        if record_id:
            services.add_entry(rl, record_id)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("patron_services.my_lists"), code=303)
    flash(_("List %(name)s is made.", name=rl.name), "success")
    if record_id:
        return redirect(url_for("patron_services.record_lists", record_id=record_id), code=303)
    return redirect(url_for("patron_services.my_list", list_id=rl.id), code=303)


@bp.get("/lists/<id:list_id>")
@patron_required
def my_list(list_id: int):
    rl = _own_list(list_id)
    return render_template("patron_services/list.html", rl=rl, entries=services.entries_with_availability(rl),
                           owner=True)


@bp.post("/lists/<id:list_id>/share")
@patron_required
def share_list(list_id: int):
    begin_write()
    rl = _own_list(list_id)
    services.set_sharing(rl, request.form.get("shared") == "1")
    db.session.commit()
    flash(_("Anyone with the link can now read this list.") if rl.share_token else _("The list is private again."),
          "success")
    return redirect(url_for("patron_services.my_list", list_id=rl.id), code=303)


@bp.post("/lists/<id:list_id>/delete")
@patron_required
def delete_list(list_id: int):
    begin_write()
    rl = _own_list(list_id)
    db.session.delete(rl)
    db.session.commit()
    flash(_("The list is deleted."), "success")
    return redirect(url_for("patron_services.my_lists"), code=303)


@bp.post("/lists/<id:list_id>/remove")
@patron_required
def remove_from_list(list_id: int):
    begin_write()
    rl = _own_list(list_id)
    services.remove_entry(rl, form_int("record_id", low=1) or 0)
    db.session.commit()
    if request.form.get("back") == "record" and form_int("record_id", low=1):
        return redirect(url_for("patron_services.record_lists", record_id=form_int("record_id", low=1)), code=303)
    return redirect(url_for("patron_services.my_list", list_id=rl.id), code=303)


@bp.post("/record/<id:record_id>/lists")
@patron_required
def add_to_list(record_id: int):
    list_id = form_int("list_id", low=1)
    begin_write()
    rl = _own_list(list_id) if list_id else None
    if rl is None:
        abort(404)
    try:
        services.add_entry(rl, record_id, request.form.get("note"))
        db.session.commit()
        flash(_("Added to %(name)s.", name=rl.name), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("patron_services.record_lists", record_id=record_id), code=303)


@bp.get("/lists/shared/<token>")
@public_page
def shared_list(token: str):
    rl = db.session.scalar(select(ReadingList).where(ReadingList.share_token == token[:64])) if token else None
    if rl is None:
        abort(404)
    return render_template("patron_services/list.html", rl=rl, entries=services.entries_with_availability(rl),
                           owner=False)


# ----------------------------------------------------------------------------- course reading lists


@bp.get("/reading-lists")
@public_page
def reading_lists():
    q = (request.args.get("q") or "").strip()[:100]
    query = select(ReadingList).where(ReadingList.kind == "course").order_by(ReadingList.course_code, ReadingList.name)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(ReadingList.course_code.ilike(like) | ReadingList.course_name.ilike(like)
                            | ReadingList.name.ilike(like))
    return render_template("patron_services/reading_lists.html", rows=db.session.scalars(query.limit(500)).all(), q=q)


@bp.get("/reading-lists/<id:list_id>")
@public_page
def reading_list(list_id: int):
    rl = db.session.scalar(select(ReadingList).where(ReadingList.id == list_id, ReadingList.kind == "course"))
    if rl is None:
        abort(404)
    owner = (is_patron() and rl.patron_id == current_user.id) or can("course_lists")
    return render_template("patron_services/list.html", rl=rl, entries=services.entries_with_availability(rl),
                           owner=False, staff_edit=can("course_lists"), lecturer_owner=owner and is_patron())


@bp.route("/staff/reading-lists", methods=["GET", "POST"])
@staff_required("course_lists")
def staff_reading_lists():
    if request.method == "POST":
        f = request.form
        begin_write()
        try:
            rl = services.create_list(name=f.get("name") or f.get("course_name"), staff=current_user, kind="course",
                                      description=f.get("description"), course_code=f.get("course_code"),
                                      course_name=f.get("course_name"))
            db.session.commit()
            flash(_("List %(name)s is made.", name=rl.name), "success")
            return redirect(url_for("patron_services.reading_list", list_id=rl.id), code=303)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("patron_services.staff_reading_lists"), code=303)
    rows = db.session.scalars(select(ReadingList).where(ReadingList.kind == "course")
                              .order_by(ReadingList.course_code)).all()
    return render_template("patron_services/staff_reading_lists.html", rows=rows)


@bp.post("/staff/reading-lists/<id:list_id>/entries")
@staff_required("course_lists")
def staff_reading_list_entry(list_id: int):
    begin_write()
    rl = db.session.scalar(select(ReadingList).where(ReadingList.id == list_id, ReadingList.kind == "course"))
    if rl is None:
        abort(404)
    record_id = form_int("record_id", low=1) or 0
    try:
        if request.form.get("action") == "remove":
            services.remove_entry(rl, record_id)
        else:
            services.add_entry(rl, record_id, request.form.get("note"))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("patron_services.reading_list", list_id=rl.id), code=303)


# ----------------------------------------------------------------------------- nearby on the shelf


def _shelf(record_id: int):
    record = find_record(record_id)
    if record is None:
        abort(404)
    direction = request.args.get("dir")
    from_id = arg_int("from", low=1)
    from_item = None
    if direction in ("prev", "next") and from_id:
        from_item = db.session.get(Item, from_id)
        if from_item is None or from_item.shelf_key is None:
            abort(404)
    return record, shelf.shelf_view(record, direction=direction if from_item else None, from_item=from_item)


@bp.get("/record/<id:record_id>/shelf")
@public_page
def record_shelf(record_id: int):
    record, view = _shelf(record_id)
    return render_template("patron_services/shelf.html", record=record, view=view)


@bp.get("/api/v1/records/<id:record_id>/shelf")
def api_record_shelf(record_id: int):
    record, view = _shelf(record_id)

    def row(x):
        return {"record_id": x["record"].id, "title": x["record"].full_title, "author": x["record"].main_author,
                "call_number": x["call_number"], "item_id": x["item_id"]}

    if view is None:
        return jsonify(record_id=record.id, left=[], right=[], prev_from=None, next_from=None)
    return jsonify(record_id=record.id, left=[row(x) for x in view["left"]], right=[row(x) for x in view["right"]],
                   prev_from=(view["left"][0]["item_id"] if view["left"] else view["anchor"].id),
                   next_from=(view["right"][-1]["item_id"] if view["right"] else view["anchor"].id))


def record_panel(record: Record) -> dict:
    """What the (public, shared-cache) record page shows from this package: the shelf around it.
    Nothing of the patron's: their lists are on their own page, ``/record/<id>/lists``."""
    return {"shelf": shelf.shelf_view(record)}


@bp.get("/record/<id:record_id>/lists")
@patron_required
def record_lists(record_id: int):
    """Add the record to one of my lists or take it off (the private side of the record page)."""
    record = find_record(record_id)
    if record is None:
        abort(404)
    from .models import ReadingListEntry

    lists = db.session.scalars(services.patron_lists(current_user).order_by(ReadingList.name).limit(100)).all()
    on = set(db.session.scalars(select(ReadingListEntry.list_id).where(
        ReadingListEntry.record_id == record.id, ReadingListEntry.list_id.in_([x.id for x in lists])))) if lists else set()
    return render_template("patron_services/record_lists.html", record=record, lists=lists, on_lists=on)


# ----------------------------------------------------------------------------- clearance letters


@bp.get("/account/clearance")
@patron_required
def my_clearance():
    letters = db.session.scalars(select(ClearanceLetter).where(ClearanceLetter.patron_id == current_user.id)
                                 .order_by(ClearanceLetter.issued_at.desc())).all()
    problem = services.clearance_problem(current_user)
    message = services.PatronServiceRefused(problem[0], **problem[1]).message if problem else None
    return render_template("patron_services/clearance.html", letters=letters, problem=message)


@bp.post("/account/clearance")
@patron_required
def request_clearance():
    begin_write()
    try:
        letter = services.issue_clearance(current_user)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("patron_services.my_clearance"), code=303)
    return redirect(url_for("patron_services.clearance_letter", letter_id=letter.id), code=303)


@bp.get("/account/clearance/<id:letter_id>")
@patron_required
def clearance_letter(letter_id: int):
    letter = db.session.scalar(select(ClearanceLetter).where(ClearanceLetter.id == letter_id,
                                                             ClearanceLetter.patron_id == current_user.id))
    if letter is None:
        abort(404)
    from ..accounts.barcode import qr_svg
    from ..urls import absolute_url

    url = absolute_url("patron_services.verify_clearance", token=letter.token)
    return render_template("patron_services/clearance_letter.html", letter=letter, url=url,
                           qr=qr_svg(url, label=_("Check this letter")))


@bp.get("/clearance/<token>")
@public_page
def verify_clearance(token: str):
    letter = db.session.scalar(select(ClearanceLetter).where(ClearanceLetter.token == token[:64])) if token else None
    if letter is None:
        abort(404)
    return render_template("patron_services/clearance_verify.html", letter=letter)


@bp.get("/staff/clearances")
@staff_required("patrons")
def staff_clearances():
    q = (request.args.get("q") or "").strip()[:64]
    query = select(ClearanceLetter).order_by(ClearanceLetter.issued_at.desc())
    if q:
        query = query.where(ClearanceLetter.card_number == q)
    return render_template("patron_services/staff_clearances.html", letters=db.session.scalars(query.limit(200)).all(),
                           q=q)


@bp.post("/staff/clearances/<id:letter_id>/revoke")
@staff_required("patrons")
def revoke_clearance(letter_id: int):
    begin_write()
    try:
        services.revoke_clearance(letter_id, by=current_user, reason=request.form.get("reason"))
        db.session.commit()
        flash(_("The letter is revoked."), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("patron_services.staff_clearances"), code=303)


# ----------------------------------------------------------------------------- JSON API


@bp.get("/api/v1/suggestions")
@patron_required
def api_suggestions():
    rows = db.session.scalars(services.patron_suggestions(current_user)
                              .order_by(PurchaseSuggestion.created_at.desc()).limit(200)).all()
    return jsonify(suggestions=[services.suggestion_json(s) for s in rows], left_this_month=_left_this_month())


@bp.post("/api/v1/suggestions")
@patron_required
def api_suggest():
    try:
        s = _suggest(_body())
    except DomainError as exc:
        return _refused_json(exc)
    return jsonify(ok=True, suggestion=services.suggestion_json(s)), 201


@bp.get("/api/v1/lists")
@patron_required
def api_lists():
    rows = db.session.scalars(services.patron_lists(current_user).order_by(ReadingList.name)).all()
    return jsonify(lists=[services.list_json(x, with_entries=False) for x in rows])


@bp.post("/api/v1/lists")
@patron_required
def api_create_list():
    data = _body()
    begin_write()
    try:
        rl = services.create_list(name=data.get("name"), patron=current_user, kind=str(data.get("kind") or "personal"),
                                  description=data.get("description"), course_code=data.get("course_code"),
                                  course_name=data.get("course_name"))
        db.session.commit()
    except DomainError as exc:
        return _refused_json(exc)
    return jsonify(ok=True, list=services.list_json(rl)), 201


@bp.get("/api/v1/lists/<id:list_id>")
@patron_required
def api_list(list_id: int):
    return jsonify(services.list_json(_own_list(list_id)))


@bp.post("/api/v1/lists/<id:list_id>/entries")
@patron_required
def api_add_entry(list_id: int):
    data = _body()
    begin_write()
    rl = _own_list(list_id)
    try:
        services.add_entry(rl, _int(data.get("record_id")) or 0, data.get("note"))
        db.session.commit()
    except DomainError as exc:
        return _refused_json(exc)
    return jsonify(ok=True, list=services.list_json(rl))


@bp.post("/api/v1/lists/<id:list_id>/entries/<id:record_id>/remove")
@patron_required
def api_remove_entry(list_id: int, record_id: int):
    begin_write()
    rl = _own_list(list_id)
    removed = services.remove_entry(rl, record_id)
    db.session.commit()
    return jsonify(ok=True, removed=removed, list=services.list_json(rl))


def openapi_paths() -> tuple[dict, dict]:
    """The endpoints of this package for the OpenAPI document."""
    err = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    csrf = {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "From GET /api/v1/session"}
    sec = [{"session": []}]

    def pid(name):
        return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1,
                                                                          "maximum": 2**31 - 1}}

    def js(schema):
        return {"application/json": {"schema": schema}}

    suggestion = {"type": "object", "required": ["id", "title", "status"], "properties": {
        "id": {"type": "integer"}, "title": {"type": "string"}, "author": {"type": ["string", "null"]},
        "isbn": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": list(SUGGESTION_STATUSES)}, "status_label": {"type": "string"},
        "staff_reason": {"type": ["string", "null"]}, "record_id": {"type": ["integer", "null"]},
        "hold_id": {"type": ["integer", "null"]}, "created_at": {"type": "string"}}}
    rlist = {"type": "object", "required": ["id", "kind", "name"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["personal", "course"]}, "name": {"type": "string"},
        "description": {"type": ["string", "null"]}, "course_code": {"type": ["string", "null"]},
        "course_name": {"type": ["string", "null"]}, "share_url": {"type": ["string", "null"]},
        "entries": {"type": "array", "items": {"type": "object", "required": ["record_id", "title"], "properties": {
            "record_id": {"type": "integer"}, "title": {"type": "string"}, "author": {"type": ["string", "null"]},
            "note": {"type": ["string", "null"]}, "available": {"type": "integer"}, "total": {"type": "integer"}}}}}}
    shelf_row = {"type": "object", "required": ["record_id", "title", "item_id"], "properties": {
        "record_id": {"type": "integer"}, "title": {"type": "string"}, "author": {"type": ["string", "null"]},
        "call_number": {"type": ["string", "null"]}, "item_id": {"type": "integer"}}}
    refused = {"description": "Refused; the message says why", "content": err}
    login = {"description": "Not logged in", "content": err}
    list_ref = {"$ref": "#/components/schemas/ReadingList"}
    paths = {
        "/api/v1/suggestions": {
            "get": {"summary": "My purchase suggestions and how many I may still send this month",
                    "operationId": "suggestions", "security": sec, "responses": {
                        "200": {"description": "OK", "content": js({"type": "object", "required": ["suggestions"],
                                "properties": {"suggestions": {"type": "array", "items": {
                                    "$ref": "#/components/schemas/PurchaseSuggestion"}},
                                    "left_this_month": {"type": "integer"}}})}, "401": login}},
            "post": {"summary": "Suggest that the library buy a title", "operationId": "suggestPurchase",
                     "security": sec, "parameters": [csrf],
                     "requestBody": {"required": True, "content": js({"type": "object", "required": ["title"],
                                     "properties": {"title": {"type": "string", "maxLength": 300},
                                                    "author": {"type": "string", "maxLength": 200},
                                                    "isbn": {"type": "string"}, "reason": {"type": "string"},
                                                    "pickup_location_id": {"type": "integer"}}})},
                     "responses": {"201": {"description": "Sent", "content": js({"type": "object"})},
                                   "400": {"description": "CSRF token missing", "content": err}, "401": login,
                                   "409": refused}}},
        "/api/v1/lists": {
            "get": {"summary": "My lists", "operationId": "lists", "security": sec, "responses": {
                "200": {"description": "OK", "content": js({"type": "object", "required": ["lists"], "properties": {
                    "lists": {"type": "array", "items": list_ref}}})}, "401": login}},
            "post": {"summary": "Make a list (kind course: lecturers only, with course code and name)",
                     "operationId": "createList", "security": sec, "parameters": [csrf],
                     "requestBody": {"required": True, "content": js({"type": "object", "required": ["name"],
                                     "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                    "description": {"type": "string"},
                                                    "course_code": {"type": "string"},
                                                    "course_name": {"type": "string"}}})},
                     "responses": {"201": {"description": "Made", "content": js({"type": "object"})},
                                   "400": {"description": "CSRF token missing", "content": err}, "401": login,
                                   "409": refused}}},
        "/api/v1/lists/{list_id}": {"get": {
            "summary": "One of my lists with each title's availability", "operationId": "list", "security": sec,
            "parameters": [pid("list_id")], "responses": {
                "200": {"description": "OK", "content": js(list_ref)}, "401": login,
                "404": {"description": "No such list of mine"}}}},
        "/api/v1/lists/{list_id}/entries": {"post": {
            "summary": "Add a record to one of my lists", "operationId": "addToList", "security": sec,
            "parameters": [pid("list_id"), csrf],
            "requestBody": {"required": True, "content": js({"type": "object", "required": ["record_id"], "properties": {
                "record_id": {"type": "integer"}, "note": {"type": "string", "maxLength": 500}}})},
            "responses": {"200": {"description": "Added", "content": js({"type": "object"})},
                          "400": {"description": "CSRF token missing", "content": err}, "401": login,
                          "404": {"description": "No such list of mine"}, "409": refused}}},
        "/api/v1/lists/{list_id}/entries/{record_id}/remove": {"post": {
            "summary": "Remove a record from one of my lists", "operationId": "removeFromList", "security": sec,
            "parameters": [pid("list_id"), pid("record_id"), csrf],
            "responses": {"200": {"description": "Removed", "content": js({"type": "object"})},
                          "400": {"description": "CSRF token missing", "content": err}, "401": login,
                          "404": {"description": "No such list of mine"}}}},
        "/api/v1/records/{record_id}/shelf": {"get": {
            "summary": "Records beside this one on the shelf, by call number; page on with dir and from",
            "operationId": "recordShelf", "parameters": [
                pid("record_id"),
                {"name": "dir", "in": "query", "required": False, "schema": {"type": "string", "enum": ["prev", "next"]}},
                {"name": "from", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                 "description": "item_id to page on from (prev_from / next_from of the last answer)"}],
            "responses": {"200": {"description": "OK", "content": js({"type": "object", "required": ["left", "right"],
                          "properties": {"record_id": {"type": "integer"},
                                         "left": {"type": "array", "items": shelf_row},
                                         "right": {"type": "array", "items": shelf_row},
                                         "prev_from": {"type": ["integer", "null"]},
                                         "next_from": {"type": ["integer", "null"]}}})},
                          "404": {"description": "No such record or item"}}}},
    }
    return paths, {"PurchaseSuggestion": suggestion, "ReadingList": rlist}


def install(app) -> None:
    """Register the blueprint, its API document, the shelf-key listener and the record-page hook."""
    from . import alert_views

    app.register_blueprint(bp)
    app.extensions.setdefault("opac_openapi", []).append(openapi_paths)
    alert_views.install(app)
    app.jinja_env.globals["patron_services_panel"] = record_panel
    shelf.install()
