"""The edge of circulation shared by HTML views, the JSON API and the CLI: begin the write
transaction, lock the patron first, answer a repeated idempotency key from the stored answer,
call one service, commit once (or roll back and report the reason)."""

from __future__ import annotations

from datetime import date

from flask import url_for

from ..accounts.models import Patron
from ..db import begin_write, end_write
from ..errors import DomainError
from ..extensions import db
from . import services
from .services import CirculationRefused, lock


def _refused(exc: DomainError) -> dict:
    return {"ok": False, "error": exc.reason, "message": exc.message}


def _in_write_transaction(work) -> dict:
    """Begin the write transaction, do ``work()``, commit; a refusal rolls back and says why.
    What the request does afterwards (the page or the answer) only reads (``end_write``)."""
    begin_write()
    try:
        result = work()
        db.session.commit()
        return result
    except DomainError as exc:
        db.session.rollback()
        return _refused(exc)
    except BaseException:
        db.session.rollback()
        raise
    finally:
        end_write()


def _run(patron_id: int, key: str | None, action):
    """A patron's action: the patron row locked first, a repeated idempotency key answered from storage."""

    def work():
        patron = lock(Patron, patron_id)
        owner = f"patron:{patron_id}"
        stored = services.idempotent_response(owner, key)
        if stored is not None:
            return {**stored, "replayed": True}
        result = action(patron)
        if result.get("ok"):
            services.remember_response(owner, key, result)
        return result

    return _in_write_transaction(work)


def loan_json(loan, today: date | None = None) -> dict:
    from . import rules

    today = today or rules.today()
    rec = loan.item.record
    patron = db.session.get(Patron, loan.patron_id) if loan.patron_id else None
    problem = services.renewal_problem(loan, patron, today) if patron and loan.returned_at is None else None
    policy = rules.policy_for(patron.category_id if patron else None, rec.material_type)
    days_left = (loan.due_date - today).days
    reason = None
    if problem:
        reason = {"code": problem[0], "message": CirculationRefused(problem[0], **problem[1]).message}
    return {
        "id": loan.id, "record_id": rec.id, "title": rec.title, "authors": rec.author_names,
        "barcode": loan.item.barcode, "call_number": loan.item.call_number or rec.call_number,
        "checked_out": loan.checked_out_at.date().isoformat(), "due_date": loan.due_date.isoformat(),
        "days_left": days_left, "overdue": loan.is_overdue(today), "renewals": loan.renewals,
        "renewals_left": max(policy.max_renewals - loan.renewals, 0),
        "renewed_today": loan.returned_at is None and services.renewed_today(loan, today), "can_renew": problem is None and loan.returned_at is None,
        "renew_refusal": reason, "returned": loan.returned_at.isoformat() if loan.returned_at else None,
        "url": url_for("catalog.record", record_id=rec.id),
    }


def hold_json(hold, today: date | None = None) -> dict:
    from . import rules

    today = today or rules.today()
    position, total = services.queue_position(hold) if hold.status == "waiting" else (0, 0)
    return {
        "id": hold.id, "record_id": hold.record_id, "title": hold.record.title, "authors": hold.record.author_names,
        "status": hold.status, "pickup_location": hold.pickup_location.name, "pickup_location_id": hold.pickup_location_id,
        "placed_at": hold.placed_at.isoformat(), "position": position, "queue_length": total,
        "estimated_wait_days": services.estimated_wait_days(hold, today) if hold.status == "waiting" else None,
        "suspended_until": hold.suspended_until.isoformat() if hold.suspended_until else None,
        "suspended": hold.is_suspended(today),
        "not_needed_after": hold.not_needed_after.isoformat() if hold.not_needed_after else None,
        "pickup_by": hold.pickup_by.isoformat() if hold.pickup_by else None,
        "url": url_for("catalog.record", record_id=hold.record_id),
    }


def renew(patron_id: int, loan_id: int, key: str | None = None) -> dict:
    def action(patron):
        loan = services.renew_loan(loan_id, patron)
        return {"ok": True, "loan_id": loan.id, "due_date": loan.due_date.isoformat(), "renewals": loan.renewals,
                "title": loan.item.record.title}

    return _run(patron_id, key, action)


def renew_all(patron_id: int, key: str | None = None, *, include_renewed_today: bool = False) -> dict:
    def action(patron):
        results = services.renew_all(patron, include_renewed_today=include_renewed_today)
        return {"ok": True, "results": results, "renewed": sum(r["renewed"] for r in results)}

    return _run(patron_id, key, action)


def place_hold(patron_id: int, record_id: int, pickup_location_id: int | None, not_needed_after: date | None = None,
               key: str | None = None) -> dict:
    def action(patron):
        hold = services.place_hold(record_id, patron, pickup_location_id=pickup_location_id,
                                   not_needed_after=not_needed_after)
        return {"ok": True, "hold": hold_json(hold)}

    return _run(patron_id, key, action)


def cancel_hold(patron_id: int, hold_id: int, key: str | None = None) -> dict:
    return _run(patron_id, key, lambda p: {"ok": True, "hold": hold_json(services.cancel_hold(hold_id, p))})


def suspend_hold(patron_id: int, hold_id: int, until: date | None, key: str | None = None) -> dict:
    return _run(patron_id, key, lambda p: {"ok": True, "hold": hold_json(services.suspend_hold(hold_id, p, until))})


def resume_hold(patron_id: int, hold_id: int, key: str | None = None) -> dict:
    return _run(patron_id, key, lambda p: {"ok": True, "hold": hold_json(services.resume_hold(hold_id, p))})


def not_needed_after(patron_id: int, hold_id: int, day: date | None, key: str | None = None) -> dict:
    return _run(patron_id, key,
                lambda p: {"ok": True, "hold": hold_json(services.set_not_needed_after(hold_id, p, day))})


def self_checkout(patron_id: int, barcode: str, key: str | None = None) -> dict:
    """The patron borrows a copy with the phone: the desk's checkout and rules, marked channel "self"."""

    def action(patron):
        item = services.item_by_barcode(barcode)
        loan = services.checkout(item, patron, channel="self")
        return {"ok": True, "loan": loan_json(loan), "loan_id": loan.id, "due_date": loan.due_date.isoformat(),
                "title": item.record.title, "barcode": item.barcode}

    return _run(patron_id, key, action)


# ----------------------------------------------------------------------------- desk (staff)


def _location(location_id: int | None):
    from ..catalog.models import Location

    return db.session.get(Location, location_id) if location_id and 0 < location_id < 2**31 else None


def checkout(card: str, barcode: str, location_id: int | None = None) -> dict:
    def work():
        patron = services.patron_by_card(card)
        item = services.item_by_barcode(barcode)
        loan = services.checkout(item, patron, location=_location(location_id))
        return {"ok": True, "loan_id": loan.id, "due_date": loan.due_date.isoformat(), "title": item.record.title,
                "barcode": item.barcode, "patron": patron.name}

    return _in_write_transaction(work)


def checkin(barcode: str, location_id: int | None = None) -> dict:
    def work():
        item = services.item_by_barcode(barcode)
        res = services.checkin(item, location=_location(location_id))
        late = (res.loan.returned_at.date() - res.loan.due_date).days if res.loan else 0
        result = {"ok": True, "barcode": item.barcode, "title": item.record.title, "status": item.status,
                  "was_on_loan": res.loan is not None, "fine": res.fine, "overdue_days": max(late, 0)}
        if res.hold is not None:
            holder = db.session.get(Patron, res.hold.patron_id)
            result["hold"] = {"status": res.hold.status, "patron": holder.name, "card": holder.card_number,
                              "pickup_location": res.hold.pickup_location.name,
                              "pickup_by": res.hold.pickup_by.isoformat() if res.hold.pickup_by else None}
        return result

    return _in_write_transaction(work)
