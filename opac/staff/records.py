"""Staff catalogue: find a record, edit its fields and copies, withdraw, reinstate or delete it.

Every change goes through catalog.services (which write the edit log); the flush writes the index
change feed, so each node's search index follows after the commit here.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import selectinload

from ..accounts.models import StaffUser
from ..accounts.permissions import staff_required
from ..catalog import services as catalog
from ..catalog.isbn import normalize_isbn
from ..catalog.material_types import MATERIAL_TYPES
from ..catalog.models import EDITABLE_ITEM_STATUSES, Item, Location, Record, RecordEdit
from ..errors import DomainError
from ..extensions import db
from .blueprint import bp

#: list fields typed one value a line (languages, ISBNs and ISSNs also by commas)
_LINES = ("authors", "subjects", "series", "notes")
_CODES = ("languages", "isbns", "issns")


def fields_from_form(form) -> dict:
    """The record fields of the edit form, lists split into values (validation is the service's)."""
    fields = {}
    for key in catalog.EDITABLE_FIELDS:
        if key not in form:
            continue
        raw = form.get(key, "")
        if key in _LINES:
            fields[key] = [v.strip() for v in raw.splitlines() if v.strip()][:200]
        elif key in _CODES:
            fields[key] = [v.strip() for v in re.split(r"[\n,;]+", raw) if v.strip()][:50]
        else:
            fields[key] = raw
    return fields


def _load(record_id: int, *, lock: bool = False) -> Record:
    """The record with its copies; on PostgreSQL locked for the edit (circulation locks the same rows)."""
    from ..circulation.services import lock as lock_row

    record = lock_row(Record, record_id) if lock else db.session.scalar(
        select(Record).where(Record.id == record_id).options(selectinload(Record.items)))
    if record is None:
        abort(404)
    return record


def _form_values(record: Record) -> dict:
    values = {k: getattr(record, k) for k in catalog.EDITABLE_FIELDS}
    values["authors"] = record.author_names
    for key in (*_LINES, *_CODES):
        if key != "authors":
            values[key] = list(values[key] or [])
    return {k: "\n".join(v) if isinstance(v, list) else ("" if v is None else v) for k, v in values.items()}


def _page(record: Record, *, form: dict | None = None, error: str | None = None, status: int = 200):
    edits = catalog.record_edits(record.id)
    staff = {s.id: s for s in db.session.scalars(select(StaffUser).where(
        StaffUser.id.in_({e.staff_id for e in edits if e.staff_id} or {0})))}
    locations = db.session.scalars(select(Location).order_by(Location.position, Location.name)).all()
    return render_template("staff/record_edit.html", record=record, values=form or _form_values(record),
                           error=error, edits=edits, staff=staff, locations=locations,
                           material_types=MATERIAL_TYPES, editable_statuses=EDITABLE_ITEM_STATUSES), status


def _back(record_id: int, anchor: str = ""):
    return redirect(url_for("staff.record_edit", record_id=record_id) + anchor, code=303)


@bp.get("/records")
@staff_required("catalog_edit")
def records():
    """Find a record by title, control number, ISBN or a copy's barcode (withdrawn ones included)."""
    q = (request.args.get("q") or "").strip()[:200]
    rows, recent = [], []
    if q:
        conds = [Record.control_number == q, Record.id.in_(select(Item.record_id).where(Item.barcode == q)),
                 func.lower(Record.title).contains(q.lower(), autoescape=True)]
        isbn = normalize_isbn(q)
        if isbn:
            conds.append(cast(Record.isbns, Text).contains(isbn))
        rows = db.session.scalars(select(Record).where(or_(*conds)).options(selectinload(Record.items))
                                  .order_by(Record.title, Record.id).limit(50)).all()
    else:
        recent = db.session.execute(select(RecordEdit, StaffUser.name).outerjoin(
            StaffUser, StaffUser.id == RecordEdit.staff_id).order_by(RecordEdit.at.desc(), RecordEdit.id.desc())
            .limit(20)).all()
    return render_template("staff/records.html", q=q, rows=rows, recent=recent)


@bp.get("/records/<id:record_id>")
@staff_required("catalog_edit")
def record_edit(record_id: int):
    return _page(_load(record_id))


@bp.post("/records/<id:record_id>")
@staff_required("catalog_edit")
def record_save(record_id: int):
    record = _load(record_id, lock=True)
    try:
        changed = catalog.edit_record(record, fields_from_form(request.form), by=current_user)
    except DomainError as exc:
        db.session.rollback()
        return _page(_load(record_id), form=request.form.to_dict(), error=exc.message, status=400)
    db.session.commit()
    flash(_("Saved: %(n)s fields changed.", n=len(changed)) if changed else _("Nothing was changed."), "success")
    return _back(record_id)


def _item_action(record_id: int, action, anchor: str):
    """Run one change to a record or its copies; the edge commits it or shows why not."""
    record = _load(record_id, lock=True)
    try:
        message = action(record)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(record_id, anchor)
    db.session.commit()
    flash(message, "success")
    return _back(record_id, anchor)


@bp.post("/records/<id:record_id>/copies")
@staff_required("catalog_edit")
def record_add_copy(record_id: int):
    def add(record):
        item = catalog.add_item(record, request.form.get("barcode", ""), by=current_user,
                                location_id=request.form.get("location_id"),
                                call_number=request.form.get("call_number"),
                                status=request.form.get("status") or "available")
        return _("Copy %(barcode)s added.", barcode=item.barcode)

    return _item_action(record_id, add, "#copies")


@bp.post("/records/<id:record_id>/copies/<id:item_id>")
@staff_required("catalog_edit")
def record_edit_copy(record_id: int, item_id: int):
    def edit(record):
        from ..circulation.services import lock as lock_row

        item = lock_row(Item, item_id)
        if item is None or item.record_id != record.id:
            abort(404)
        changed = catalog.edit_item(item, by=current_user, status=request.form.get("status"),
                                    location_id=request.form.get("location_id"),
                                    call_number=request.form.get("call_number"))
        return _("Copy %(barcode)s saved.", barcode=item.barcode) if changed else _("Nothing was changed.")

    return _item_action(record_id, edit, "#copies")


@bp.post("/records/<id:record_id>/withdraw")
@staff_required("catalog_edit")
def record_withdraw(record_id: int):
    """Withdraw a record: the same service as `flask --app opac withdraw-record`."""
    def withdraw(record):
        catalog.withdraw_record(record, by=current_user, reason=request.form.get("reason"))
        return _("The record is withdrawn: patrons no longer find it, and harvesters see it as deleted.")

    return _item_action(record_id, withdraw, "#withdraw")


@bp.post("/records/<id:record_id>/reinstate")
@staff_required("catalog_edit")
def record_reinstate(record_id: int):
    """Bring a withdrawn record back: the same service as `flask --app opac reinstate-record`."""
    def reinstate(record):
        catalog.reinstate_record(record, by=current_user)
        return _("The record is back in the catalogue; its withdrawn copies are available again.")

    return _item_action(record_id, reinstate, "#withdraw")


@bp.post("/records/<id:record_id>/delete")
@staff_required("delete_records")
def record_delete(record_id: int):
    """Delete for good (admins): the same service as `flask --app opac delete-record`."""
    record = _load(record_id, lock=True)
    if not request.form.get("confirm"):
        db.session.rollback()
        flash(_("Tick the box to confirm the deletion."), "error")
        return _back(record_id, "#withdraw")
    try:
        catalog.delete_record(record, by=current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(record_id, "#withdraw")
    db.session.commit()
    flash(_("The record and its copies are deleted; harvesters see it as deleted."), "success")
    return redirect(url_for("staff.records"), code=303)
