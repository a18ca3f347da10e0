"""Circulation services: check out, check in, renew, holds. They flush and never commit.

Callers begin a write transaction first (``db.begin_write``): on SQLite that takes the write
lock (BEGIN IMMEDIATE); on PostgreSQL the services lock the rows they change with
``SELECT … FOR UPDATE``, always in the order patron → record → item → loan, so two requests
never wait on each other in a circle. A refused action raises before changing anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..accounts.models import Patron
from ..catalog.models import HOLDABLE_STATUSES, Item, Location, Record, utcnow
from ..errors import DomainError
from ..extensions import db
from ..notifications.events import Notice, emit
from . import rules
from .models import ACTIVE_HOLD, Fine, Hold, IdempotencyKey, Loan, Renewal


class CirculationRefused(DomainError):
    status_code = 409
    messages = {
        "item_not_found": _l("No copy has the barcode %(barcode)s."),
        "patron_not_found": _l("No patron has the card number %(card)s."),
        "card_expired": _l("The library card expired on %(date)s. Please renew your membership at the desk."),
        "blocked": _l("The account is blocked: %(note)s"),
        "fines": _l("Unpaid fines of %(amount)s are over the limit of %(limit)s."),
        "already_on_loan": _l("This copy is already on loan (due %(date)s)."),
        "not_loanable": _l("This copy cannot be borrowed (%(status)s)."),
        "held_for_other": _l("This copy is set aside for another patron's hold."),
        "too_many_loans": _l("The loan limit of %(max)s items is reached."),
        "not_on_loan": _l("This copy is not on loan."),
        "on_hold": _l("Another patron is waiting for this title and no other copy is free."),
        "too_many_renewals": _l("The renewal limit is reached (%(max)s renewals)."),
        "too_soon": _l("Too early: renewals open %(days)s days before the due date, on %(date)s."),
        "overdue": _l("Overdue loans cannot be renewed; please return the item."),
        "card_expires": _l("Your card expires on %(date)s, so the due date cannot be extended."),
        "not_yours": _l("This is not your loan or hold."),
        "already_holding": _l("You already have a hold on this title."),
        "already_borrowed": _l("You have this title on loan."),
        "too_many_holds": _l("The hold limit of %(max)s is reached."),
        "not_holdable": _l("No copy of this title can be placed on hold."),
        "bad_pickup": _l("Choose one of the pickup locations."),
        "hold_not_active": _l("This hold is no longer active."),
        "bad_date": _l("Choose a date in the future."),
        "not_waiting": _l("Only a waiting hold can be suspended."),
        "renewed_today": _l("Already renewed today: renewed again only if you ask for it."),
    }


@dataclass
class CheckinResult:
    item: Item
    loan: Loan | None
    hold: Hold | None
    fine: int = 0


# ----------------------------------------------------------------------------- helpers


def lock(model, obj_id):
    """Load a row locked for update (PostgreSQL) and refreshed from the database."""
    return db.session.execute(
        select(model).where(model.id == obj_id)
        # FOR NO KEY UPDATE OF <table>: inserts referencing the row (a notice for this patron) still pass
        .with_for_update(of=model, key_share=True)
        .execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()


def patron_loans(patron: Patron, *, open_only: bool = True):
    """A patron's own loans: every patron-facing query starts here, never from a bare id."""
    q = select(Loan).where(Loan.patron_id == patron.id)
    if open_only:
        q = q.where(Loan.returned_at.is_(None))
    return q


def patron_holds(patron: Patron, *, active_only: bool = True):
    q = select(Hold).where(Hold.patron_id == patron.id)
    if active_only:
        q = q.where(Hold.status.in_(ACTIVE_HOLD))
    return q


def outstanding_fines(patron: Patron) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(Fine.amount), 0)).where(
        Fine.patron_id == patron.id, Fine.paid_at.is_(None))) or 0


def account_problem(patron: Patron, today: date) -> tuple[str, dict] | None:
    """Why this patron cannot borrow, renew or place holds right now (None if nothing)."""
    if patron.card_expired(today):
        return "card_expired", {"date": patron.expires_on}
    if patron.blocked:
        return "blocked", {"note": patron.block_note or "-"}
    cfg = current_app.config
    if cfg["FINES_ENABLED"]:
        owed = outstanding_fines(patron)
        if owed > cfg["FINES_BLOCK_THRESHOLD"]:
            return "fines", {"amount": owed, "limit": cfg["FINES_BLOCK_THRESHOLD"]}
    return None


def _raise_account_problem(patron: Patron, today: date) -> None:
    problem = account_problem(patron, today)
    if problem:
        raise CirculationRefused(problem[0], **problem[1])


def open_loan_for(item: Item) -> Loan | None:
    return db.session.scalar(select(Loan).where(Loan.item_id == item.id, Loan.returned_at.is_(None)))


def item_by_barcode(barcode: str) -> Item:
    item = db.session.scalar(select(Item).where(Item.barcode == (barcode or "").strip()))
    if item is None:
        raise CirculationRefused("item_not_found", barcode=(barcode or "").strip()[:64])
    return item


def patron_by_card(card: str) -> Patron:
    patron = db.session.scalar(select(Patron).where(Patron.card_number == (card or "").strip()))
    if patron is None:
        raise CirculationRefused("patron_not_found", card=(card or "").strip()[:32])
    return patron


# ----------------------------------------------------------------------------- idempotency


def idempotent_response(owner: str, key: str | None) -> dict | None:
    """The stored answer of an already-processed request key (call after taking the locks)."""
    if not key:
        return None
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key[:100]))
    return row.response if row else None


def remember_response(owner: str, key: str | None, response: dict) -> None:
    if key:
        db.session.add(IdempotencyKey(owner=owner, key=key[:100], response=response))
        db.session.flush()


# ----------------------------------------------------------------------------- loans


def checkout(item: Item, patron: Patron, *, location: Location | None = None, today: date | None = None,
             channel: str = "desk") -> Loan:
    """Lend ``item`` to ``patron`` under the patron's category rules (``channel``: "desk" or "self")."""
    today = today or rules.today()
    patron = lock(Patron, patron.id)
    lock(Record, item.record_id)
    item = lock(Item, item.id)
    _raise_account_problem(patron, today)
    current = open_loan_for(item)
    if current is not None:
        raise CirculationRefused("already_on_loan", date=current.due_date)
    hold_to_fill = None
    if item.status == "on_hold_shelf" or item.status == "in_transit":
        set_aside = db.session.scalar(select(Hold).where(Hold.item_id == item.id, Hold.status.in_(("ready", "in_transit"))))
        if set_aside is not None and set_aside.patron_id != patron.id:
            raise CirculationRefused("held_for_other")
        hold_to_fill = set_aside
    elif item.status != "available":
        raise CirculationRefused("not_loanable", status=item.status)
    record = db.session.get(Record, item.record_id)
    policy = rules.policy_for(patron.category_id, record.material_type)
    count = db.session.scalar(select(func.count()).select_from(Loan).where(
        Loan.patron_id == patron.id, Loan.returned_at.is_(None)))
    if count >= policy.max_loans:
        raise CirculationRefused("too_many_loans", max=policy.max_loans)
    if hold_to_fill is None:
        hold_to_fill = db.session.scalar(select(Hold).where(
            Hold.patron_id == patron.id, Hold.record_id == record.id, Hold.status.in_(ACTIVE_HOLD)))
        if hold_to_fill is not None and hold_to_fill.item_id and hold_to_fill.status in ("ready", "in_transit"):
            # the patron took another copy: the one set aside for them goes to the next hold
            _release(hold_to_fill, "fulfilled", today)
            hold_to_fill = None
    if hold_to_fill is not None:
        hold_to_fill.status = "fulfilled"
        hold_to_fill.closed_at = utcnow()
        hold_to_fill.item_id = item.id
    due = rules.due_date(today, policy.loan_days, patron.expires_on)
    loan = Loan(item_id=item.id, record_id=record.id, patron_id=patron.id, due_date=due,
                location_id=location.id if location else item.location_id, channel=channel)
    item.status = "on_loan"
    db.session.add(loan)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # the database saw a concurrent checkout of the same copy first
        raise CirculationRefused("already_on_loan", date="?") from None
    return loan


def checkin(item: Item, *, location: Location | None = None, today: date | None = None) -> CheckinResult:
    """Return a copy; if someone waits for the title, set it aside for the first eligible hold."""
    today = today or rules.today()
    lock(Record, item.record_id)
    item = lock(Item, item.id)
    loan = open_loan_for(item)
    fine = 0
    if loan is not None:
        loan = lock(Loan, loan.id)
        loan.returned_at = utcnow()
        cfg = current_app.config
        if cfg["FINES_ENABLED"] and loan.due_date < today and loan.patron_id:
            patron = db.session.get(Patron, loan.patron_id)
            policy = rules.policy_for(patron.category_id, item.record.material_type)
            fine = (today - loan.due_date).days * policy.fine_per_day
            if fine:
                db.session.add(Fine(patron_id=patron.id, loan_id=loan.id, amount=fine,
                                    reason=f"overdue {(today - loan.due_date).days} days"))
    hold = None
    if item.status in ("on_loan", "available", "in_transit", "on_hold_shelf", "missing"):
        in_transit = db.session.scalar(select(Hold).where(Hold.item_id == item.id, Hold.status == "in_transit"))
        if in_transit is not None:
            hold = _make_ready(in_transit, item, location, today)
        elif item.status == "on_hold_shelf":
            hold = db.session.scalar(select(Hold).where(Hold.item_id == item.id, Hold.status == "ready"))
        else:
            hold = trap_hold(item, location, today)
            if hold is None:
                item.status = "available"
    db.session.flush()
    return CheckinResult(item=item, loan=loan, hold=hold, fine=fine)


def next_eligible_hold(record_id: int, today: date) -> Hold | None:
    """The first waiting hold in queue order that can take a copy today."""
    holds = db.session.scalars(select(Hold).where(Hold.record_id == record_id, Hold.status == "waiting")
                               .order_by(Hold.placed_at, Hold.id)).all()
    for h in holds:
        if h.is_suspended(today):
            continue
        if h.not_needed_after is not None and h.not_needed_after < today:
            h.status = "expired"
            h.closed_at = utcnow()
            continue
        patron = db.session.get(Patron, h.patron_id)
        if patron is None or account_problem(patron, today):
            continue
        return h
    return None


def trap_hold(item: Item, location: Location | None, today: date) -> Hold | None:
    """Set ``item`` aside for the next eligible hold on its title (or return None)."""
    hold = next_eligible_hold(item.record_id, today)
    if hold is None:
        return None
    hold.item_id = item.id
    here = location.id if location else item.location_id
    if here is not None and hold.pickup_location_id != here:
        hold.status = "in_transit"
        item.status = "in_transit"
        return hold
    return _make_ready(hold, item, location, today)


def _make_ready(hold: Hold, item: Item, location: Location | None, today: date) -> Hold:
    patron = db.session.get(Patron, hold.patron_id)
    policy = rules.policy_for(patron.category_id, item.record.material_type)
    hold.status = "ready"
    hold.item_id = item.id
    hold.ready_at = utcnow()
    hold.pickup_by = rules.pickup_deadline(today, policy.pickup_days)
    item.status = "on_hold_shelf"
    db.session.flush()
    emit(Notice("hold_ready", patron.id, {"title": item.record.title, "location": hold.pickup_location.name,
                                          "date": hold.pickup_by}, endpoint="circulation.my_holds"))
    return hold


# ----------------------------------------------------------------------------- renewals


def _free_copies(record_id: int, exclude_item: int | None = None) -> int:
    q = select(func.count()).select_from(Item).where(Item.record_id == record_id, Item.status == "available")
    if exclude_item:
        q = q.where(Item.id != exclude_item)
    return db.session.scalar(q) or 0


def _waiting_for_others(record_id: int, patron_id: int, today: date) -> int:
    holds = db.session.scalars(select(Hold).where(Hold.record_id == record_id, Hold.status == "waiting",
                                                  Hold.patron_id != patron_id)).all()
    return sum(1 for h in holds if not h.is_suspended(today)
               and (h.not_needed_after is None or h.not_needed_after >= today))


def renewal_problem(loan: Loan, patron: Patron, today: date) -> tuple[str, dict] | None:
    """Why ``loan`` cannot be renewed today, in the order a librarian would explain it."""
    problem = account_problem(patron, today)
    if problem:
        return problem
    record = db.session.get(Record, loan.item.record_id)
    policy = rules.policy_for(patron.category_id, record.material_type)
    if loan.renewals >= policy.max_renewals:
        return "too_many_renewals", {"max": policy.max_renewals}
    if loan.due_date < today and not policy.renew_overdue:
        return "overdue", {}
    if policy.renew_window_days is not None and loan.due_date - today > timedelta(days=policy.renew_window_days):
        opens = loan.due_date - timedelta(days=policy.renew_window_days)
        return "too_soon", {"days": policy.renew_window_days, "date": opens}
    waiting = _waiting_for_others(record.id, patron.id, today)
    if waiting:
        allow_other = current_app.config["RENEW_IF_OTHER_ITEMS_AVAILABLE"]
        if not allow_other or _free_copies(record.id, loan.item_id) < waiting:
            return "on_hold", {}
    new_due = _renewed_due(loan, patron, policy, today)
    if new_due <= loan.due_date:
        return "card_expires", {"date": patron.expires_on or "?"}
    return None


def _renewed_due(loan: Loan, patron: Patron, policy, today: date) -> date:
    base = loan.due_date if policy.renew_from == "due_date" and loan.due_date >= today else today
    return rules.due_date(base, policy.loan_days, patron.expires_on)


def renew_loan(loan_id: int, patron: Patron, *, by: str = "patron", today: date | None = None) -> Loan:
    """Renew one of ``patron``'s loans (raises CirculationRefused with the reason)."""
    today = today or rules.today()
    patron = lock(Patron, patron.id)
    loan = db.session.scalar(patron_loans(patron).where(Loan.id == loan_id))
    if loan is None:
        raise CirculationRefused("not_yours")
    lock(Record, loan.item.record_id)
    loan = lock(Loan, loan.id)
    if loan.returned_at is not None:
        raise CirculationRefused("not_yours")
    problem = renewal_problem(loan, patron, today)
    if problem:
        raise CirculationRefused(problem[0], **problem[1])
    policy = rules.policy_for(patron.category_id, loan.item.record.material_type)
    new_due = _renewed_due(loan, patron, policy, today)
    db.session.add(Renewal(loan_id=loan.id, old_due=loan.due_date, new_due=new_due, by=by))
    loan.due_date = new_due
    loan.renewals += 1
    loan.due_notice_for = None
    db.session.flush()
    return loan


def renewed_today(loan: Loan, today: date) -> bool:
    """Whether ``loan`` was renewed earlier on the library's ``today`` ("Renew all" skips it)."""
    return bool(db.session.scalar(select(func.count()).select_from(Renewal).where(
        Renewal.loan_id == loan.id, Renewal.renewed_at >= clock.start_of_day(today))))


def renew_all_plan(patron: Patron, *, today: date | None = None, include_renewed_today: bool = False) -> list[dict]:
    """What "Renew all" will do, loan by loan, before it does it: ``renew`` (with the new due date
    and whether it spends the last renewal) or ``skip`` with the reason (renewed today, no
    renewals left, someone waits for it, …). ``renew_all`` follows the same plan."""
    today = today or rules.today()
    plan = []
    for loan in db.session.scalars(patron_loans(patron).order_by(Loan.due_date, Loan.id)).all():
        policy = rules.policy_for(patron.category_id, loan.item.record.material_type)
        entry = {"loan_id": loan.id, "title": loan.item.record.title, "due_date": loan.due_date.isoformat(),
                 "renewed_today": renewed_today(loan, today)}
        problem = renewal_problem(loan, patron, today)
        if problem is None and entry["renewed_today"] and not include_renewed_today:
            problem = ("renewed_today", {})
        if problem is None:
            entry.update(action="renew", new_due_date=_renewed_due(loan, patron, policy, today).isoformat(),
                         last_renewal=loan.renewals + 1 >= policy.max_renewals)
        else:
            entry.update(action="skip", reason=problem[0],
                         message=CirculationRefused(problem[0], **problem[1]).message, last_renewal=False)
        plan.append(entry)
    return plan


def renew_all(patron: Patron, *, today: date | None = None, include_renewed_today: bool = False) -> list[dict]:
    """Carry out ``renew_all_plan``: one result (renewed with the new due date, or the reason) per loan."""
    today = today or rules.today()
    results = []
    patron = lock(Patron, patron.id)
    for entry in renew_all_plan(patron, today=today, include_renewed_today=include_renewed_today):
        base = {"loan_id": entry["loan_id"], "title": entry["title"]}
        if entry["action"] == "skip":
            results.append({**base, "renewed": False, "reason": entry["reason"], "message": entry["message"]})
            continue
        try:
            with db.session.begin_nested():
                renewed = renew_loan(entry["loan_id"], patron, today=today)
            results.append({**base, "renewed": True, "due_date": renewed.due_date.isoformat(),
                            "last_renewal": entry["last_renewal"]})
        except CirculationRefused as exc:
            results.append({**base, "renewed": False, "reason": exc.reason, "message": exc.message})
    return results


# ----------------------------------------------------------------------------- holds


def holdable_items(record_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Item).where(
        Item.record_id == record_id, Item.status.in_(HOLDABLE_STATUSES))) or 0


def hold_problem(record: Record, patron: Patron, today: date) -> tuple[str, dict] | None:
    problem = account_problem(patron, today)
    if problem:
        return problem
    if not holdable_items(record.id):
        return "not_holdable", {}
    on_loan = db.session.scalar(select(func.count()).select_from(Loan).join(Item, Item.id == Loan.item_id).where(
        Loan.patron_id == patron.id, Loan.returned_at.is_(None), Item.record_id == record.id))
    if on_loan:
        return "already_borrowed", {}
    existing = db.session.scalar(select(Hold.id).where(Hold.patron_id == patron.id, Hold.record_id == record.id,
                                                       Hold.status.in_(ACTIVE_HOLD)))
    if existing:
        return "already_holding", {}
    policy = rules.policy_for(patron.category_id, record.material_type)
    active = db.session.scalar(select(func.count()).select_from(Hold).where(
        Hold.patron_id == patron.id, Hold.status.in_(ACTIVE_HOLD)))
    if active >= policy.max_holds:
        return "too_many_holds", {"max": policy.max_holds}
    return None


def place_hold(record_id: int, patron: Patron, *, pickup_location_id: int | None,
               not_needed_after: date | None = None, today: date | None = None) -> Hold:
    today = today or rules.today()
    patron = lock(Patron, patron.id)
    record = lock(Record, record_id)
    if record is None or not record.is_public:  # hidden or withdrawn: patrons cannot reach it
        raise CirculationRefused("not_holdable")
    pickup = db.session.get(Location, pickup_location_id) if pickup_location_id and 0 < pickup_location_id < 2**31 else None
    if pickup is None or not pickup.is_pickup:
        raise CirculationRefused("bad_pickup")
    if not_needed_after is not None and not_needed_after < today:
        raise CirculationRefused("bad_date")
    problem = hold_problem(record, patron, today)
    if problem:
        raise CirculationRefused(problem[0], **problem[1])
    hold = Hold(record_id=record.id, patron_id=patron.id, pickup_location_id=pickup.id,
                not_needed_after=not_needed_after, placed_at=utcnow())
    db.session.add(hold)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise CirculationRefused("already_holding") from None
    for loan in db.session.scalars(select(Loan).join(Item, Item.id == Loan.item_id).where(
            Item.record_id == record.id, Loan.returned_at.is_(None), Loan.patron_id.is_not(None))).all():
        borrower = db.session.get(Patron, loan.patron_id)
        if borrower and renewal_problem(loan, borrower, today) == ("on_hold", {}):
            emit(Notice("renewal_blocked", borrower.id, {"title": record.title, "date": loan.due_date}))
    return hold


def _own_hold(hold_id: int, patron: Patron) -> Hold:
    hold = db.session.scalar(patron_holds(patron, active_only=False).where(Hold.id == hold_id))
    if hold is None:
        raise CirculationRefused("not_yours")
    return hold


def cancel_hold(hold_id: int, patron: Patron, *, today: date | None = None) -> Hold:
    today = today or rules.today()
    patron = lock(Patron, patron.id)
    hold = _own_hold(hold_id, patron)
    lock(Record, hold.record_id)
    hold = lock(Hold, hold.id)
    if not hold.is_active:
        raise CirculationRefused("hold_not_active")
    _release(hold, "cancelled", today)
    return hold


def _release(hold: Hold, status: str, today: date) -> None:
    """Close a hold; a copy it had set aside goes to the next hold or back on the shelf."""
    item = db.session.get(Item, hold.item_id) if hold.item_id and hold.status in ("ready", "in_transit") else None
    hold.status = status
    hold.closed_at = utcnow()
    if status != "fulfilled":
        hold.item_id = None if item is not None else hold.item_id
    db.session.flush()
    if item is not None:
        item = lock(Item, item.id)
        loc = db.session.get(Location, item.location_id) if item.location_id else None
        if trap_hold(item, loc, today) is None:
            item.status = "available"
    db.session.flush()


def suspend_hold(hold_id: int, patron: Patron, until: date, *, today: date | None = None) -> Hold:
    today = today or rules.today()
    hold = _own_hold(hold_id, lock(Patron, patron.id))
    hold = lock(Hold, hold.id)
    if hold.status != "waiting":
        raise CirculationRefused("not_waiting")
    if until is None or until <= today:
        raise CirculationRefused("bad_date")
    hold.suspended_until = until
    db.session.flush()
    return hold


def resume_hold(hold_id: int, patron: Patron) -> Hold:
    hold = _own_hold(hold_id, lock(Patron, patron.id))
    hold = lock(Hold, hold.id)
    if hold.status != "waiting":
        raise CirculationRefused("not_waiting")
    hold.suspended_until = None
    db.session.flush()
    return hold


def set_not_needed_after(hold_id: int, patron: Patron, day: date | None, *, today: date | None = None) -> Hold:
    today = today or rules.today()
    hold = _own_hold(hold_id, lock(Patron, patron.id))
    if not hold.is_active:
        raise CirculationRefused("hold_not_active")
    if day is not None and day < today:
        raise CirculationRefused("bad_date")
    hold.not_needed_after = day
    db.session.flush()
    return hold


def queue_position(hold: Hold) -> tuple[int, int]:
    """("3 of 5"): the hold's place among the title's waiting holds, in the order placed."""
    ids = db.session.scalars(select(Hold.id).where(Hold.record_id == hold.record_id, Hold.status == "waiting")
                             .order_by(Hold.placed_at, Hold.id)).all()
    return (ids.index(hold.id) + 1 if hold.id in ids else 0), len(ids)


def estimated_wait_days(hold: Hold, today: date | None = None) -> int | None:
    """Rough wait: copies come back at their due dates, then one loan period per round of the queue."""
    today = today or rules.today()
    position, _ = queue_position(hold)
    if not position:
        return 0
    copies = holdable_items(hold.record_id)
    if not copies:
        return None
    dues = sorted(d for d in db.session.scalars(select(Loan.due_date).join(Item, Item.id == Loan.item_id).where(
        Item.record_id == hold.record_id, Loan.returned_at.is_(None))).all())
    free_now = _free_copies(hold.record_id)
    if position <= free_now:
        return 1
    patron = db.session.get(Patron, hold.patron_id)
    policy = rules.policy_for(patron.category_id if patron else None, hold.record.material_type)
    first_back = [max((d - today).days, 0) for d in dues] or [0]
    rounds = math.ceil(position / copies) - 1
    idx = min((position - 1) % copies, len(first_back) - 1)
    return first_back[idx] + rounds * policy.loan_days + 1


def expire_holds(today: date | None = None) -> int:
    """Ready holds not picked up by their deadline expire; their copies pass to the next patron."""
    today = today or rules.today()
    n = 0
    for hold in db.session.scalars(select(Hold).where(Hold.status == "ready", Hold.pickup_by < today)).all():
        lock(Record, hold.record_id)
        hold = lock(Hold, hold.id)
        if hold.status == "ready" and hold.pickup_by < today:
            _release(hold, "expired", today)
            n += 1
    for hold in db.session.scalars(select(Hold).where(Hold.status == "waiting", Hold.not_needed_after < today)).all():
        hold.status = "expired"
        hold.closed_at = utcnow()
        n += 1
    db.session.flush()
    return n


def anonymize_loans(today: date | None = None, *, now=None) -> int:
    """Returned loans lose their patron after ANONYMIZE_AFTER_DAYS unless the patron keeps history."""
    days = current_app.config["ANONYMIZE_AFTER_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    keepers = select(Patron.id).where(Patron.keep_history.is_(True))
    rows = db.session.execute(
        Loan.__table__.update().where(Loan.returned_at.is_not(None), Loan.returned_at < cutoff,
                                      Loan.patron_id.is_not(None), Loan.patron_id.not_in(keepers))
        .values(patron_id=None))
    return rows.rowcount or 0


def delete_history(patron: Patron) -> int:
    """The patron deletes their own loan history (returned loans are anonymised at once)."""
    rows = db.session.execute(Loan.__table__.update().where(
        Loan.patron_id == patron.id, Loan.returned_at.is_not(None)).values(patron_id=None))
    return rows.rowcount or 0
