"""Purchase suggestions and lists: the rules. Services flush, never commit."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..accounts.models import Patron, StaffUser
from ..catalog.isbn import normalize_isbn
from ..catalog.models import Location, Record, utcnow
from ..circulation import services as circulation
from ..errors import DomainError
from ..extensions import db
from ..notifications.events import Notice, emit
from .models import (
    SUGGESTION_STEPS,
    ClearanceLetter,
    PurchaseSuggestion,
    ReadingList,
    ReadingListEntry,
    new_share_token,
)

STATUS_LABELS = {
    "submitted": _l("Submitted"),
    "accepted": _l("Accepted"),
    "ordered": _l("Ordered"),
    "arrived": _l("Arrived"),
    "rejected": _l("Rejected"),
}


class PatronServiceRefused(DomainError):
    messages = {
        "title_required": _l("Please give the title."),
        "too_long": _l("%(field)s is too long."),
        "bad_isbn": _l("This ISBN is not valid. Check the digits, or leave it empty."),
        "monthly_limit": _l("You can suggest at most %(max)s titles a month. Please try again next month."),
        "bad_step": _l("A suggestion that is %(status)s cannot become %(target)s."),
        "reason_required": _l("Please say why the suggestion is rejected."),
        "record_required": _l("Link the suggestion to the catalogue record that arrived."),
        "not_found": _l("Not found."),
        "name_required": _l("Please give the list a name."),
        "course_required": _l("A course reading list needs a course code and a course name."),
        "not_lecturer": _l("Only lecturers and library staff can make course reading lists."),
        "record_missing": _l("This record does not exist."),
        "too_many_entries": _l("A list holds at most %(max)s titles."),
        "too_many_lists": _l("You can keep at most %(max)s lists."),
        "has_loans": _l("Please return your %(n)s borrowed items first."),
        "has_holds": _l("Please collect or cancel your %(n)s holds first."),
        "has_fines": _l("Please pay your fines of %(amount)s first."),
        "already_revoked": _l("This letter is already revoked."),
    }


def _text(value, field: str, limit: int, label) -> str | None:
    value = " ".join(str(value or "").split())
    if len(value) > limit:
        raise PatronServiceRefused("too_long", field=label)
    return value or None


# ----------------------------------------------------------------------------- purchase suggestions


def patron_suggestions(patron: Patron):
    """The patron's own suggestions (never load one by bare id)."""
    return select(PurchaseSuggestion).where(PurchaseSuggestion.patron_id == patron.id)


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def suggestions_this_month(patron_id: int, now: datetime | None = None) -> int:
    start = _month_start(now or utcnow())
    return db.session.scalar(select(func.count()).select_from(PurchaseSuggestion).where(
        PurchaseSuggestion.patron_id == patron_id, PurchaseSuggestion.created_at >= start)) or 0


def suggest_purchase(patron: Patron, *, title, author=None, isbn=None, reason=None,
                     pickup_location_id: int | None = None, now: datetime | None = None) -> PurchaseSuggestion:
    """Record a suggestion, within the monthly limit (the patron row is locked while counting)."""
    title = _text(title, "title", 300, _l("Title"))
    if not title:
        raise PatronServiceRefused("title_required")
    author = _text(author, "author", 200, _l("Author"))
    reason = _text(reason, "reason", 2000, _l("Reason"))
    raw_isbn = str(isbn or "").strip()
    isbn13 = normalize_isbn(raw_isbn) if raw_isbn else None
    if raw_isbn and not isbn13:
        raise PatronServiceRefused("bad_isbn")
    patron = circulation.lock(Patron, patron.id)
    limit = int(current_app.config["SUGGESTIONS_PER_MONTH"])
    if suggestions_this_month(patron.id, now) >= limit:
        raise PatronServiceRefused("monthly_limit", max=limit)
    pickup = db.session.get(Location, pickup_location_id) if pickup_location_id else None
    s = PurchaseSuggestion(patron_id=patron.id, title=title, author=author, isbn=isbn13, reason=reason,
                           pickup_location_id=pickup.id if pickup is not None and pickup.is_pickup else None,
                           created_at=now or utcnow())
    db.session.add(s)
    db.session.flush()
    tell_patron(patron, s)
    return s


def tell_patron(patron: Patron, s: PurchaseSuggestion) -> None:
    """The one place a suggestion's patron is told of its progress (in the app, and by e-mail
    when the patron chose e-mail), in the patron's language."""
    messages = {
        "submitted": _l("We received your suggestion of %(title)s. We will tell you what we decide.", title=s.title),
        "accepted": _l("The library will buy %(title)s.", title=s.title),
        "ordered": _l("%(title)s has been ordered.", title=s.title),
        "arrived": (_l("%(title)s has arrived and a hold is placed for you.", title=s.title) if s.hold_id
                    else _l("%(title)s has arrived and is in the catalogue.", title=s.title)),
        "rejected": _l("The library will not buy %(title)s: %(reason)s", title=s.title, reason=s.staff_reason or ""),
    }
    emit(Notice("suggestion", patron.id, {"title": s.title, "message": messages[s.status]},
                endpoint="patron_services.my_suggestions"))


def advance_suggestion(suggestion_id: int, target: str, *, by: StaffUser, reason: str | None = None,
                       record_id: int | None = None) -> tuple[PurchaseSuggestion, str | None]:
    """Move a suggestion one step. On arrival it is linked to its record and a hold is placed for
    the patron through circulation's own hold service; returns the hold refusal, if any."""
    s = circulation.lock(PurchaseSuggestion, suggestion_id)
    if s is None:
        raise PatronServiceRefused("not_found")
    if target not in SUGGESTION_STEPS.get(s.status, ()):
        raise PatronServiceRefused("bad_step", status=STATUS_LABELS[s.status], target=STATUS_LABELS.get(target, target))
    hold_problem = None
    patron = db.session.get(Patron, s.patron_id)
    if target == "rejected":
        s.staff_reason = _text(reason, "reason", 1000, _l("Reason"))
        if not s.staff_reason:
            raise PatronServiceRefused("reason_required")
    elif target == "arrived":
        record = db.session.get(Record, record_id) if record_id and 0 < record_id < 2**31 else None
        if record is None:
            raise PatronServiceRefused("record_required")
        s.record_id = record.id
        from ..accounts.views import pickup_locations

        pickup = s.pickup_location_id or (patron.home_location_id if patron else None)
        if pickup is None or not db.session.get(Location, pickup) or not db.session.get(Location, pickup).is_pickup:
            first = pickup_locations()
            pickup = first[0].id if first else None
        try:
            with db.session.begin_nested():
                hold = circulation.place_hold(record.id, patron, pickup_location_id=pickup)
            s.hold_id = hold.id
        except DomainError as exc:
            hold_problem = exc.message
    s.status = target
    s.updated_at = utcnow()
    db.session.flush()
    if patron is not None:
        tell_patron(patron, s)
    return s, hold_problem


def suggestion_json(s: PurchaseSuggestion) -> dict:
    return {"id": s.id, "title": s.title, "author": s.author, "isbn": s.isbn, "reason": s.reason,
            "status": s.status, "status_label": str(STATUS_LABELS[s.status]), "staff_reason": s.staff_reason,
            "record_id": s.record_id, "hold_id": s.hold_id, "created_at": s.created_at.isoformat() + "Z"}


# ----------------------------------------------------------------------------- lists

MAX_ENTRIES = 500
MAX_LISTS = 50


def is_lecturer(patron: Patron) -> bool:
    return patron.category is not None and patron.category.code == "lecturer"


def patron_lists(patron: Patron):
    """The patron's own lists (never load one by bare id)."""
    return select(ReadingList).where(ReadingList.patron_id == patron.id)


def create_list(*, name, patron: Patron | None = None, staff: StaffUser | None = None, kind: str = "personal",
                description=None, course_code=None, course_name=None) -> ReadingList:
    name = _text(name, "name", 200, _l("Name"))
    if not name:
        raise PatronServiceRefused("name_required")
    if kind == "course":
        if patron is not None and not is_lecturer(patron):
            raise PatronServiceRefused("not_lecturer")
        course_code = _text(course_code, "course_code", 32, _l("Course code"))
        course_name = _text(course_name, "course_name", 200, _l("Course name"))
        if not course_code or not course_name:
            raise PatronServiceRefused("course_required")
        course_code = course_code.upper()
    else:
        kind, course_code, course_name = "personal", None, None
    if patron is not None:
        patron = circulation.lock(Patron, patron.id)
        count = db.session.scalar(select(func.count()).select_from(ReadingList).where(
            ReadingList.patron_id == patron.id))
        if count >= MAX_LISTS:
            raise PatronServiceRefused("too_many_lists", max=MAX_LISTS)
    rl = ReadingList(kind=kind, patron_id=patron.id if patron else None, staff_id=staff.id if staff else None,
                     name=name, description=_text(description, "description", 2000, _l("Description")),
                     course_code=course_code, course_name=course_name)
    db.session.add(rl)
    db.session.flush()
    return rl


def add_entry(rl: ReadingList, record_id: int, note=None) -> ReadingListEntry:
    """Add a record (idempotent: adding it again keeps the one entry)."""
    rl = circulation.lock(ReadingList, rl.id)
    record = db.session.get(Record, record_id) if 0 < record_id < 2**31 else None
    if record is None or not record.is_public:
        raise PatronServiceRefused("record_missing")
    existing = db.session.scalar(select(ReadingListEntry).where(ReadingListEntry.list_id == rl.id,
                                                                ReadingListEntry.record_id == record.id))
    if existing is not None:
        return existing
    count = db.session.scalar(select(func.count()).select_from(ReadingListEntry).where(
        ReadingListEntry.list_id == rl.id))
    if count >= MAX_ENTRIES:
        raise PatronServiceRefused("too_many_entries", max=MAX_ENTRIES)
    entry = ReadingListEntry(list_id=rl.id, record_id=record.id, note=_text(note, "note", 500, _l("Note")))
    db.session.add(entry)
    rl.updated_at = utcnow()
    db.session.flush()
    return entry


def remove_entry(rl: ReadingList, record_id: int) -> bool:
    entry = db.session.scalar(select(ReadingListEntry).where(ReadingListEntry.list_id == rl.id,
                                                             ReadingListEntry.record_id == record_id))
    if entry is None:
        return False
    db.session.delete(entry)
    rl.updated_at = utcnow()
    db.session.flush()
    return True


def set_sharing(rl: ReadingList, shared: bool) -> ReadingList:
    """Share a personal list by a new unguessable link, or make it private (the old link dies)."""
    rl.share_token = new_share_token() if shared else None
    db.session.flush()
    return rl


def entries_with_availability(rl: ReadingList) -> list[dict]:
    """Each entry with the live availability the record page shows (counts of copies by status);
    records hidden or withdrawn since they were added are left out (``Record.is_public``)."""
    from sqlalchemy.orm import contains_eager

    from ..search.documents import availability

    entries = db.session.scalars(select(ReadingListEntry).join(Record, Record.id == ReadingListEntry.record_id)
                                 .where(ReadingListEntry.list_id == rl.id, Record.is_public)
                                 .options(contains_eager(ReadingListEntry.record).selectinload(Record.items))
                                 .order_by(ReadingListEntry.id)).all()
    return [{"entry": e, "record": e.record, "availability": availability(e.record.items)} for e in entries]


def list_json(rl: ReadingList, *, with_entries: bool = True) -> dict:
    from ..urls import absolute_url

    out = {"id": rl.id, "kind": rl.kind, "name": rl.name, "description": rl.description,
           "course_code": rl.course_code, "course_name": rl.course_name,
           "share_url": absolute_url("patron_services.shared_list", token=rl.share_token) if rl.share_token else None}
    if with_entries:
        out["entries"] = [{"record_id": x["record"].id, "title": x["record"].full_title,
                           "author": x["record"].main_author, "note": x["entry"].note,
                           "available": x["availability"]["available"], "total": x["availability"]["total"]}
                          for x in entries_with_availability(rl)]
    return out




# ----------------------------------------------------------------------------- clearance letters


def clearance_problem(patron: Patron) -> tuple[str, dict] | None:
    """Why the patron cannot have a clearance letter now: open loans, active holds, unpaid fines."""
    loans = db.session.scalar(select(func.count()).select_from(circulation.patron_loans(patron).subquery()))
    if loans:
        return "has_loans", {"n": loans}
    holds = db.session.scalar(select(func.count()).select_from(circulation.patron_holds(patron).subquery()))
    if holds:
        return "has_holds", {"n": holds}
    fines = circulation.outstanding_fines(patron)
    if fines:
        return "has_fines", {"amount": "Rp " + f"{int(fines):,}".replace(",", ".")}
    return None


def issue_clearance(patron: Patron) -> ClearanceLetter:
    """Issue a letter if the patron owes nothing (patron row locked: no checkout slips in between),
    or return the one already in force."""
    patron = circulation.lock(Patron, patron.id)
    problem = clearance_problem(patron)
    if problem:
        raise PatronServiceRefused(problem[0], **problem[1])
    active = db.session.scalar(select(ClearanceLetter).where(ClearanceLetter.patron_id == patron.id,
                                                             ClearanceLetter.revoked_at.is_(None)))
    if active is not None:  # asking again shows the letter in force (one per patron: a unique index)
        return active
    letter = ClearanceLetter(patron_id=patron.id, patron_name=patron.name, card_number=patron.card_number,
                             token=new_share_token(), issued_at=utcnow())
    db.session.add(letter)
    db.session.flush()
    return letter


def revoke_clearance(letter_id: int, *, by: StaffUser, reason=None) -> ClearanceLetter:
    letter = circulation.lock(ClearanceLetter, letter_id)
    if letter is None:
        raise PatronServiceRefused("not_found")
    if letter.revoked_at is not None:
        raise PatronServiceRefused("already_revoked")
    letter.revoked_at = utcnow()
    letter.revoked_by = by.id
    letter.revoked_reason = _text(reason, "reason", 1000, _l("Reason"))
    db.session.flush()
    return letter
