"""Catalogue services: upserting records and items, importing files, exporting MARC.

Services flush and never commit; the CLI and views commit (per batch for imports).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..db import request_waiting
from ..errors import DomainError
from ..extensions import db
from .importers import detect_format, read_records
from .isbn import normalize_isbn, normalize_issn
from .marc import fields_to_marc, from_iso2709, language_code, to_iso2709
from .material_types import MATERIAL_TYPES
from .models import (
    EDITABLE_ITEM_STATUSES,
    ITEM_STATUSES,
    Item,
    Location,
    Record,
    RecordEdit,
    RecordTombstone,
    utcnow,
)

RECORD_FIELDS = (
    "title", "subtitle", "responsibility", "edition", "publisher", "place", "year", "material_type",
    "call_number", "summary", "physical", "authors", "subjects", "languages", "isbns", "issns", "series",
    "notes", "links",
)


log = logging.getLogger(__name__)


class CatalogError(DomainError):
    messages = {
        "copies_on_loan": _l("Not possible while copies are on loan (%(barcodes)s): check them in first."),
        "copies_set_aside": _l("Not possible while copies are on the holds shelf or in transit (%(barcodes)s): "
                               "check them in or cancel their holds first."),
        "holds_open": _l("Not possible while %(n)s holds wait for this record: cancel them first."),
        "title_required": _l("A record needs a title."),
        "bad_year": _l("The year must be a number between 1 and 2999."),
        "bad_material_type": _l("Choose a material type from the list."),
        "bad_isbn": _l("Not a valid ISBN: %(value)s."),
        "bad_issn": _l("Not a valid ISSN: %(value)s."),
        "bad_language": _l("Not a language code: %(value)s (use MARC codes such as ind or eng)."),
        "barcode_required": _l("A copy needs a barcode."),
        "duplicate_barcode": _l("The barcode %(barcode)s already belongs to a copy of “%(title)s”."),
        "bad_status": _l("Staff cannot set this status by hand; circulation sets it."),
        "bad_location": _l("Choose a location from the list."),
        "copy_circulating": _l("This copy circulates (%(status)s): check it in before changing its status."),
        "withdrawn": _l("This record is withdrawn: reinstate it before adding or changing copies."),
        "not_withdrawn": _l("This record is not withdrawn."),
    }


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    items_added: int = 0
    items_updated: int = 0

    @property
    def read(self) -> int:
        return self.imported + self.updated + self.unchanged + len(self.skipped)


class LocationCache:
    """Locations by code for one import, created on first use."""

    def __init__(self):
        self._by_code: dict[str, Location] = {}

    def get(self, code: str | None) -> Location | None:
        if not code:
            return None
        code = code.strip()[:32]
        loc = self._by_code.get(code)
        if loc is None:
            loc = db.session.scalar(select(Location).where(Location.code == code))
            if loc is None:
                loc = Location(code=code, name=code)
                db.session.add(loc)
                db.session.flush()
            self._by_code[code] = loc
        return loc


def built_marc(fields: dict) -> bytes:
    """The MARC (ISO 2709) of a record read without one (CSV, JSON): made from its fields and copies."""
    return to_iso2709(fields_to_marc(fields, fields.get("items") or []))


def upsert_record(fields: dict, *, marc: bytes | None = None, source: str | None = None,
                  locations: LocationCache | None = None) -> tuple[Record, str, list[str], tuple[int, int]]:
    """Create or update the record with ``fields["control_number"]``.

    Returns (record, outcome, notes, (items added, items updated)).

    Outcome is ``imported``, ``updated`` or ``unchanged``. Items are matched by barcode: a barcode
    that belongs to another record's copy is reported and left alone, never moved.
    """
    notes: list[str] = []
    locations = locations or LocationCache()
    control = fields["control_number"]
    record = db.session.scalar(select(Record).where(Record.control_number == control))
    items = fields.get("items") or []
    if marc is None:
        marc = built_marc(fields)
    if record is None:
        record = Record(control_number=control, marc=marc, source=source,
                        **{k: fields.get(k) for k in RECORD_FIELDS})
        record.authors = record.authors or []
        db.session.add(record)
        # a control number that comes back is no longer deleted for harvesters
        db.session.execute(delete(RecordTombstone).where(RecordTombstone.control_number == control))
        db.session.flush()
        outcome = "imported"
    else:
        changed = False
        for k in RECORD_FIELDS:
            new = fields.get(k)
            if new is None and k in ("authors", "subjects", "languages", "isbns", "issns", "series", "notes", "links"):
                new = []
            if getattr(record, k) != new:
                setattr(record, k, new)
                changed = True
        if record.marc != marc:
            record.marc = marc
            changed = True
        outcome = "updated" if changed else "unchanged"
    added = updated = 0
    for it in items:
        barcode = it["barcode"].strip()
        item = db.session.scalar(select(Item).where(Item.barcode == barcode))
        loc = locations.get(it.get("location"))
        if item is None:
            status = it.get("status") or "available"
            db.session.add(Item(record=record, barcode=barcode, call_number=it.get("call_number"),
                                location=loc, collection=it.get("collection"), copy_number=it.get("copy_number"),
                                status=status if status in ITEM_STATUSES else "available"))
            added += 1
        elif item.record_id != record.id:
            other = db.session.get(Record, item.record_id)
            notes.append(f"barcode {barcode} already belongs to record {other.control_number if other else item.record_id}; "
                         "copy not imported")
        else:
            changes = {"call_number": it.get("call_number"), "location_id": loc.id if loc else None,
                       "collection": it.get("collection"), "copy_number": it.get("copy_number")}
            dirty = False
            for k, v in changes.items():
                if getattr(item, k) != v:
                    setattr(item, k, v)
                    dirty = True
            updated += dirty
    if (added or updated) and outcome == "unchanged":
        outcome = "updated"
    if outcome == "updated" and (added or updated):
        record.updated_at = utcnow()  # copies' shelving changes the record's OAI sets
    db.session.flush()
    return record, outcome, notes, (added, updated)


def _prepared(records, chunk: int):
    """Lists of up to ``chunk`` read records, each with its MARC made: the parsing and MARC
    building of a batch happen before its write transaction begins, not while it holds the lock."""
    batch = []
    for number, fields, notes, marc in records:
        if fields is not None and marc is None:
            marc = built_marc(fields)
        batch.append((number, fields, notes, marc))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def import_data(data: bytes, *, name: str = "", fmt: str | None = None, source: str | None = None,
                report: ImportReport | None = None, commit_every: int = 200, commit_seconds: float | None = None,
                commit: Callable[[], None] | None = None,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import every readable record of ``data``; each record in its own savepoint.

    ``commit`` is called every ``commit_every`` records or after ``commit_seconds`` of writing,
    whichever comes first, and after the last record (the edge decides what committing means);
    without it the caller commits. Short write transactions keep the write lock free for the desk: on SQLite a
    checkout waits for at most the batch in progress, so a batch is a record or two (5 ms; with
    20 ms batches a checkout's p95 during an import was 2.3x its p95 alone), and ends at the record
    in hand when a request is waiting for the write lock (``opac.db.request_waiting``). PostgreSQL has no database-wide lock and
    each batch waits for a quiet moment at the desk (``opac.db.yield_to_requests``): 50 ms there.
    Records are read and their MARC built before a batch's transaction begins.
    """
    report = report or ImportReport()
    if commit_seconds is None:
        commit_seconds = 0.005 if db.engine.dialect.name == "sqlite" else 0.05
    fmt = fmt or detect_format(name, data[:64])
    locations = LocationCache()
    for batch in _prepared(read_records(data, fmt), commit_every):
        since_commit = 0
        batch_started = time.monotonic()
        for number, fields, notes, marc in batch:
            if fields is None:
                report.skipped.append((number, str(notes)))
            else:
                for note in notes:
                    report.warnings.append((number, note))
                try:
                    with db.session.begin_nested():
                        _rec, outcome, more, (added, updated) = upsert_record(
                            fields, marc=marc, source=source or fmt, locations=locations)
                except Exception as exc:  # noqa: BLE001 - reported per record, the batch goes on
                    db.session.expire_all()
                    locations = LocationCache()
                    report.skipped.append((number, f"could not be saved ({type(exc).__name__}: {str(exc)[:160]})"))
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    report.items_added += added
                    report.items_updated += updated
                    for note in more:
                        report.warnings.append((number, note))
            since_commit += 1
            if progress:
                progress(number)
            if commit and (time.monotonic() - batch_started >= commit_seconds or request_waiting()):
                commit()
                locations = LocationCache()
                since_commit = 0
                batch_started = time.monotonic()
        if commit and since_commit:
            commit()  # before the next batch is read
            locations = LocationCache()
    return report


def record_set_specs(record: Record) -> list[str]:
    """The OAI-PMH sets of a record: ``type:<material type>``, ``location:<code>``, ``collection:<code>``."""
    specs = [f"type:{record.material_type}"]
    for item in record.items:
        if item.location is not None and f"location:{item.location.code}" not in specs:
            specs.append(f"location:{item.location.code}")
    for item in record.items:
        if item.collection and f"collection:{item.collection}" not in specs:
            specs.append(f"collection:{item.collection}")
    return specs


def check_out_of_circulation(record: Record) -> None:
    """Refuse (CatalogError with the reason) while a copy is on loan or set aside, or a hold waits.

    Deleting or withdrawing such a record would lose a patron's loan or hold.
    """
    from ..circulation.models import ACTIVE_HOLD, Hold, Loan

    item_ids = [i.id for i in record.items]
    loaned = set(db.session.scalars(
        select(Item.barcode).join(Loan, Loan.item_id == Item.id)
        .where(Item.id.in_(item_ids), Loan.returned_at.is_(None)))) if item_ids else set()
    loaned |= {i.barcode for i in record.items if i.status == "on_loan"}
    if loaned:
        raise CatalogError("copies_on_loan", barcodes=", ".join(sorted(loaned)[:10]))
    aside = sorted(i.barcode for i in record.items if i.status in ("on_hold_shelf", "in_transit"))
    if aside:
        raise CatalogError("copies_set_aside", barcodes=", ".join(aside[:10]))
    holds = db.session.scalar(select(func.count(Hold.id)).where(Hold.record_id == record.id,
                                                                 Hold.status.in_(ACTIVE_HOLD))) or 0
    if holds:
        raise CatalogError("holds_open", n=holds)


def delete_record(record: Record, *, by=None) -> RecordTombstone:
    """Delete a record and its copies, leaving a tombstone for harvesters in the same transaction.

    Refused while a copy circulates or a hold waits for the record (their history would go with it).
    ``by`` (a staff member) is written to the record's edit log; the CLI passes none.
    """
    check_out_of_circulation(record)
    log_record_edit(record, "delete", [], by=by)
    sets = " " + " ".join(record_set_specs(record)) + " "
    tomb = db.session.scalar(select(RecordTombstone).where(RecordTombstone.control_number == record.control_number))
    if tomb is None:
        tomb = RecordTombstone(control_number=record.control_number)
        db.session.add(tomb)
    tomb.deleted_at = utcnow()
    tomb.sets = sets
    db.session.delete(record)
    db.session.flush()
    return tomb


def record_marc(record: Record):
    """The pymarc record of a catalogue record: its kept source MARC, or generated from fields."""
    if record.marc:
        try:
            return from_iso2709(record.marc)
        except Exception:  # noqa: BLE001 - fall back to the fields
            log.warning("stored MARC of record %s unreadable; exporting from fields", record.id)
    items = [{"barcode": i.barcode, "call_number": i.call_number, "location": i.location.code if i.location else None,
              "collection": i.collection, "copy_number": i.copy_number} for i in record.items]
    fields = {k: getattr(record, k) for k in RECORD_FIELDS}
    fields["control_number"] = record.control_number
    return fields_to_marc(fields, items)


def iter_export(batch: int = 500):
    """pymarc records of the whole catalogue in id order."""
    last = 0
    while True:
        recs = db.session.scalars(select(Record).where(Record.id > last).order_by(Record.id).limit(batch)).all()
        if not recs:
            return
        for r in recs:
            yield record_marc(r)
        last = recs[-1].id
        db.session.expunge_all()


# ----------------------------------------------------------------------------- staff editing

#: Record fields staff edit on the record page (the list fields as one value a line).
EDITABLE_FIELDS = (
    "title", "subtitle", "responsibility", "edition", "publisher", "place", "year", "material_type",
    "call_number", "summary", "physical", "authors", "subjects", "languages", "isbns", "issns", "series", "notes",
)
#: Column sizes of the short text fields (longer input is cut, as the importers do).
_MAX_LEN = {"edition": 200, "place": 200, "call_number": 128, "physical": 300}


def log_record_edit(record: Record, action: str, changed: list[str], *, by=None) -> RecordEdit:
    """Write one line of the record's edit log (who, when, which fields) in the current transaction."""
    entry = RecordEdit(record_id=record.id, control_number=record.control_number, action=action,
                       staff_id=getattr(by, "id", None), summary=", ".join(changed)[:2000], at=utcnow())
    db.session.add(entry)
    return entry


def record_edits(record_id: int, limit: int = 50) -> list[RecordEdit]:
    """The newest lines of a record's edit log."""
    return list(db.session.scalars(select(RecordEdit).where(RecordEdit.record_id == record_id)
                                   .order_by(RecordEdit.at.desc(), RecordEdit.id.desc()).limit(limit)))


def _clean_fields(fields: dict, record: Record) -> dict:
    """Validated, normalised values of the edited fields (raises CatalogError on the first bad one)."""
    out = {}
    for key in EDITABLE_FIELDS:
        if key not in fields:
            continue
        value = fields[key]
        if isinstance(value, str):
            value = value.strip()[:_MAX_LEN.get(key, 10_000)] or None
        if key == "title" and not value:
            raise CatalogError("title_required")
        if key == "year" and value is not None:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise CatalogError("bad_year") from None
            if not 0 < value < 3000:
                raise CatalogError("bad_year")
        if key == "material_type" and value not in MATERIAL_TYPES:
            raise CatalogError("bad_material_type")
        if key == "isbns":
            value = [_checked(normalize_isbn, v, "bad_isbn") for v in value or []]
        if key == "issns":
            value = [_checked(normalize_issn, v, "bad_issn") for v in value or []]
        if key == "languages":
            value = [_checked(language_code, v, "bad_language") for v in value or []]
        if isinstance(value, list):
            value = list(dict.fromkeys(v for v in value if v))
        if key == "authors":
            # a name kept keeps its role and kind; a new one is a personal author
            known = {a["name"]: a for a in record.authors or []}
            value = [known.get(n) or {"name": n, "role": "author", "kind": "person"} for n in value or []]
        out[key] = value
    return out


def _checked(normalize, raw: str, reason: str) -> str:
    value = normalize(raw)
    if value is None:
        raise CatalogError(reason, value=raw[:40])
    return value


def edit_record(record: Record, fields: dict, *, by) -> list[str]:
    """Change a record's fields (``EDITABLE_FIELDS``; lists as lists of strings); returns the names changed.

    The stored source MARC is dropped once fields change, so that exports and OAI-PMH are generated
    from the edited fields. The change feed (search.sync) sees the flush; the edit log gets a line.
    """
    changed = []
    for key, value in _clean_fields(fields, record).items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed.append(key)
    if changed:
        record.marc = None
        record.updated_at = utcnow()
        log_record_edit(record, "edit", changed, by=by)
        db.session.flush()
    return changed


def _location(location_id) -> Location | None:
    if location_id in (None, ""):
        return None
    loc = db.session.get(Location, int(location_id)) if str(location_id).isdigit() and int(location_id) < 2**31 \
        else None
    if loc is None:
        raise CatalogError("bad_location")
    return loc


def add_item(record: Record, barcode: str, *, by, location_id=None, call_number: str | None = None,
             status: str = "available") -> Item:
    """Add a copy to a record. Barcodes are unique (the database enforces it; this says whose it is)."""
    if record.withdrawn_at is not None:
        raise CatalogError("withdrawn")
    barcode = (barcode or "").strip()[:64]
    if not barcode:
        raise CatalogError("barcode_required")
    if status not in EDITABLE_ITEM_STATUSES or status == "withdrawn":
        raise CatalogError("bad_status")
    other = db.session.scalar(select(Item).where(Item.barcode == barcode))
    if other is not None:
        raise CatalogError("duplicate_barcode", barcode=barcode, title=other.record.title[:80])
    item = Item(record=record, barcode=barcode, location=_location(location_id),
                call_number=(call_number or "").strip()[:128] or None, status=status)
    db.session.add(item)
    try:
        with db.session.begin_nested():  # the same barcode added at the same moment elsewhere
            db.session.flush()
    except IntegrityError:
        raise CatalogError("duplicate_barcode", barcode=barcode, title="?") from None
    log_record_edit(record, "add_copy", [barcode], by=by)
    return item


def edit_item(item: Item, *, by, status: str | None = None, location_id=None,
              call_number: str | None = None) -> list[str]:
    """Change a copy's status (only the ones staff set by hand), location and call number."""
    if item.record.withdrawn_at is not None:
        raise CatalogError("withdrawn")
    changed = []
    if status is not None and status != item.status:
        if status not in EDITABLE_ITEM_STATUSES:
            raise CatalogError("bad_status")
        if item.status not in EDITABLE_ITEM_STATUSES:
            raise CatalogError("copy_circulating", status=item.status)
        item.status = status
        changed.append("status")
    loc = _location(location_id)
    if loc != item.location:
        item.location = loc
        changed.append("location")
    call_number = (call_number or "").strip()[:128] or None
    if call_number != item.call_number:
        item.call_number = call_number
        changed.append("call_number")
    if changed:
        log_record_edit(item.record, "edit_copy", [f"{item.barcode}: {', '.join(changed)}"], by=by)
        db.session.flush()
    return changed


def withdraw_record(record: Record, *, by, reason: str | None = None) -> None:
    """Withdraw a record from the catalogue: its copies are withdrawn, it leaves the search index,
    and harvesters see it as deleted. Refused while it circulates (as deletion is); reversible.
    ``reason`` (optional) goes to the edit log; ``by`` is None from the command line."""
    if record.withdrawn_at is not None:
        return
    check_out_of_circulation(record)
    for item in record.items:
        item.status = "withdrawn"
    record.withdrawn_at = record.updated_at = utcnow()
    reason = " ".join((reason or "").split())[:500]
    log_record_edit(record, "withdraw", [reason] if reason else [], by=by)
    db.session.flush()


def reinstate_record(record: Record, *, by) -> None:
    """Undo a withdrawal: the record is searchable and harvested again, its copies are available."""
    if record.withdrawn_at is None:
        raise CatalogError("not_withdrawn")
    for item in record.items:
        if item.status == "withdrawn":
            item.status = "available"
    record.withdrawn_at = None
    record.updated_at = utcnow()
    log_record_edit(record, "reinstate", [], by=by)
    db.session.flush()
