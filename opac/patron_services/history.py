"""A patron's loan history as RIS, for reference managers (the CSV and JSON live in accounts)."""

from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import Patron
from ..catalog import citation
from ..catalog.models import Item, Record
from ..circulation.services import patron_loans
from ..extensions import db
from ..urls import absolute_url


def history_ris(patron: Patron) -> str:
    """One RIS entry per title the patron borrowed, most recent first (nothing when history is off
    and no loan is open: the loans of a patron who keeps no history are anonymised on return)."""
    loans = patron_loans(patron, open_only=False).subquery()
    rows = db.session.execute(select(Record, loans.c.checked_out_at).join(Item, Item.record_id == Record.id)
                              .join(loans, loans.c.item_id == Item.id)
                              .order_by(loans.c.checked_out_at.desc())).all()
    seen, parts = set(), []
    for record, _when in rows:
        if record.id not in seen:
            seen.add(record.id)
            parts.append(citation.ris(record, absolute_url("catalog.record", record_id=record.id)))
    return "".join(parts)
