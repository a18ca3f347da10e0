"""Nearby on the shelf: a record's neighbours by call number, read as an index range scan over
``item.shelf_key`` (kept up to date here, before every flush)."""

from __future__ import annotations

from sqlalchemy import and_, event, select, tuple_
from sqlalchemy.orm import Session

from ..catalog.models import Item, Record
from ..extensions import db
from .callnumber import call_number_key

#: How many neighbours each side of the record (and per page when browsing).
SIDE = 5


def _sync_shelf_keys(session: Session, _context, _instances) -> None:
    """Set ``shelf_key`` of new and changed items, and of a changed record's items."""
    with session.no_autoflush:
        for obj in list(session.new) + list(session.dirty):
            if isinstance(obj, Item):
                record = obj.record
                key = call_number_key(obj.call_number or (record.call_number if record is not None else None))
                if obj.shelf_key != key:
                    obj.shelf_key = key
            elif isinstance(obj, Record) and obj in session.dirty:
                for item in obj.items:
                    key = call_number_key(item.call_number or obj.call_number)
                    if item.shelf_key != key:
                        item.shelf_key = key


def install() -> None:
    if not event.contains(Session, "before_flush", _sync_shelf_keys):
        event.listen(Session, "before_flush", _sync_shelf_keys)


def _item_rows(where, order, limit: int):
    """Copies in shelf order, of records patrons may reach (``Record.is_public``) only."""
    q = (select(Item.id, Item.record_id, Item.shelf_key, Item.call_number).join(Record, Record.id == Item.record_id)
         .where(Item.shelf_key.is_not(None), Record.is_public, where))
    return db.session.execute(q.order_by(*order).limit(limit)).all()


def neighbours(anchor: Item, direction: str, *, exclude_record: int | None = None, size: int = SIDE) -> list:
    """Up to ``size`` distinct records beside ``anchor`` in shelf order (nearest first for
    "prev"), each as (item_id, record_id, call number). Reads a few index pages at most."""
    after = tuple_(Item.shelf_key, Item.id) > tuple_(anchor.shelf_key, anchor.id)
    before = tuple_(Item.shelf_key, Item.id) < tuple_(anchor.shelf_key, anchor.id)
    where, order = ((after, (Item.shelf_key, Item.id)) if direction == "next"
                    else (before, (Item.shelf_key.desc(), Item.id.desc())))
    seen: set[int] = {exclude_record} if exclude_record else set()
    found = []
    cursor = None
    for _round in range(4):  # copies of one record sit together: a few pages give ``size`` records
        cond = where if cursor is None else and_(where, cursor)
        rows = _item_rows(cond, order, size * 4)
        for row in rows:
            if row.record_id not in seen:
                seen.add(row.record_id)
                found.append(row)
                if len(found) == size:
                    return found
        if len(rows) < size * 4:
            break
        last = rows[-1]
        cursor = (tuple_(Item.shelf_key, Item.id) > tuple_(last.shelf_key, last.id) if direction == "next"
                  else tuple_(Item.shelf_key, Item.id) < tuple_(last.shelf_key, last.id))
    return found


def shelf_anchor(record: Record) -> Item | None:
    """The record's first copy in shelf order (the place it stands on the shelf)."""
    return db.session.scalar(select(Item).where(Item.record_id == record.id, Item.shelf_key.is_not(None))
                             .order_by(Item.shelf_key, Item.id).limit(1))


def shelf_view(record: Record, *, direction: str | None = None, from_item: Item | None = None) -> dict | None:
    """Records left and right of ``record`` (or one page further from ``from_item``)."""
    anchor = from_item or shelf_anchor(record)
    if anchor is None:
        return None
    if direction in ("prev", "next"):
        rows = neighbours(anchor, direction, exclude_record=anchor.record_id, size=SIDE * 2)
        left, right = (list(reversed(rows)), []) if direction == "prev" else ([], rows)
    else:
        left = list(reversed(neighbours(anchor, "prev", exclude_record=record.id)))
        right = neighbours(anchor, "next", exclude_record=record.id)
    ids = {r.record_id for r in left + right}
    records = {r.id: r for r in db.session.scalars(select(Record).where(Record.id.in_(ids)))} if ids else {}

    def shown(rows):
        return [{"record": records[r.record_id], "item_id": r.id, "call_number": r.call_number
                 or records[r.record_id].call_number} for r in rows if r.record_id in records]

    return {"anchor": anchor, "left": shown(left), "right": shown(right),
            "first_item": (left or right or [None])[0], "last_item": (right or left or [None])[-1]}
