"""Catalogue services: upserting records and items, importing files, exporting MARC.

Services flush and never commit; the CLI and views commit (per batch for imports).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from ..errors import DomainError
from ..extensions import db
from .importers import detect_format, read_records
from .marc import fields_to_marc, from_iso2709, to_iso2709
from .models import ITEM_STATUSES, Item, Location, Record, RecordTombstone, utcnow

RECORD_FIELDS = (
    "title", "subtitle", "responsibility", "edition", "publisher", "place", "year", "material_type",
    "call_number", "summary", "physical", "authors", "subjects", "languages", "isbns", "issns", "series",
    "notes", "links",
)


log = logging.getLogger(__name__)


class CatalogError(DomainError):
    messages = {
        "in_circulation": _l("This record cannot be deleted: a copy is on loan, waiting on the hold shelf or in "
                             "transit, or a hold is waiting for it."),
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
        marc = to_iso2709(fields_to_marc(fields, items))
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


def import_data(data: bytes, *, name: str = "", fmt: str | None = None, source: str | None = None,
                report: ImportReport | None = None, commit_every: int = 200, commit_seconds: float = 0.1,
                commit: Callable[[], None] | None = None,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import every readable record of ``data``; each record in its own savepoint.

    ``commit`` is called every ``commit_every`` records or ``commit_seconds``, whichever comes
    first, and at the end (the edge decides what committing means); without it the caller commits.
    Short batches keep the write lock free for the desk: on SQLite a checkout waits for at most
    the batch in progress.
    """
    report = report or ImportReport()
    fmt = fmt or detect_format(name, data[:64])
    locations = LocationCache()
    since_commit = 0
    batch_started = time.monotonic()
    for number, fields, notes, marc in read_records(data, fmt):
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
        if commit and (since_commit >= commit_every or time.monotonic() - batch_started >= commit_seconds):
            commit()
            locations = LocationCache()
            since_commit = 0
            batch_started = time.monotonic()
    if commit:
        commit()
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


def delete_record(record: Record) -> RecordTombstone:
    """Delete a record and its copies, leaving a tombstone for harvesters in the same transaction.

    Refused while a copy circulates or a hold waits for the record (their history would go with it).
    """
    from ..circulation.models import Hold, Loan

    busy = {"on_loan", "on_hold_shelf", "in_transit"}
    item_ids = [i.id for i in record.items]
    open_loan = item_ids and db.session.scalar(
        select(Loan.id).where(Loan.item_id.in_(item_ids), Loan.returned_at.is_(None)).limit(1))
    waiting = db.session.scalar(
        select(Hold.id).where(Hold.record_id == record.id, Hold.status.in_(("waiting", "in_transit", "ready")))
        .limit(1))
    if any(i.status in busy for i in record.items) or open_loan or waiting:
        raise CatalogError("in_circulation")
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
