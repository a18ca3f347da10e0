"""Import a SLiMS 9 database: records with items, patrons, open loans (and, on request, loan history).

Services flush and never commit: ``import_slims`` calls ``commit`` (given by the CLI) after every
batch. Each row is saved in its own savepoint, so a broken row is reported with its SLiMS id and
skipped, and the run goes on. Keys are stable, so a second run updates and never duplicates:
records by control number ``slims:<biblio_id>``, items by barcode (``item_code``), patrons by card
number (``member_id``), patron categories by ``slims-<member_type_id>``, loans by item + patron +
loan date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from ..accounts.models import Patron, PatronCategory
from ..accounts.services import upsert_imported_patron
from ..catalog.models import Item, Location, Record
from ..catalog.services import LocationCache, upsert_record
from ..circulation.models import CirculationPolicy, Loan
from ..errors import DomainError
from ..extensions import db
from . import mapping as m

KINDS = ("records", "items", "patrons", "loans", "history")


@dataclass
class SlimsReport:
    """Counts per kind (imported / updated / unchanged / skipped) and the problems, by SLiMS id."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: {"imported": 0, "updated": 0, "unchanged": 0, "skipped": 0} for k in KINDS})
    #: (kind, SLiMS id, reason): skipped rows
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    #: (kind, SLiMS id, message): imported, but something was dropped or guessed
    warnings: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def skip(self, kind: str, key, reason: str) -> None:
        self.counts[kind]["skipped"] += 1
        self.skipped.append((kind, str(key), reason))

    def warn(self, kind: str, key, message: str) -> None:
        self.warnings.append((kind, str(key), message))


def connect(url: str) -> sa.Engine:
    """An engine on the SLiMS database (read only by us); utf8mb4 unless the URL says otherwise."""
    u = sa.make_url(url)
    if u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername=f"{u.drivername}+pymysql")
    if "charset" not in u.query:
        u = u.update_query_dict({"charset": "utf8mb4"})
    return sa.create_engine(u, pool_pre_ping=True)


def _rows(conn, sql: str, **params) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


class SlimsSource:
    """The SLiMS tables we read, loaded once (lookup tables are small; biblio is read in order)."""

    def __init__(self, conn):
        self.conn = conn
        self.gmd = {r["gmd_id"]: m.text(r["gmd_name"]) for r in _rows(conn, "SELECT gmd_id, gmd_name FROM mst_gmd")}
        self.content = {r["id"]: m.text(r["code"]) for r in _rows(conn, "SELECT id, code FROM mst_content_type")}
        self.publisher = {r["publisher_id"]: m.text(r["publisher_name"])
                          for r in _rows(conn, "SELECT publisher_id, publisher_name FROM mst_publisher")}
        self.place = {r["place_id"]: m.text(r["place_name"]) for r in _rows(conn, "SELECT place_id, place_name FROM mst_place")}
        self.locations = {(m.text(r["location_id"]) or ""): m.text(r["location_name"])
                          for r in _rows(conn, "SELECT location_id, location_name FROM mst_location")}
        self.coll_type = {r["coll_type_id"]: m.text(r["coll_type_name"])
                          for r in _rows(conn, "SELECT coll_type_id, coll_type_name FROM mst_coll_type")}
        self.item_status = {(m.text(r["item_status_id"]) or "").upper(): (m.text(r["item_status_name"]), r["no_loan"])
                            for r in _rows(conn, "SELECT item_status_id, item_status_name, no_loan FROM mst_item_status")}
        self.authors: dict[int, list[dict]] = defaultdict(list)
        for r in _rows(conn, "SELECT ba.biblio_id, ba.level, a.author_name, a.authority_type FROM biblio_author ba "
                             "JOIN mst_author a ON a.author_id = ba.author_id ORDER BY ba.biblio_id, ba.level, a.author_id"):
            self.authors[r["biblio_id"]].append(r)
        self.topics: dict[int, list[str]] = defaultdict(list)
        for r in _rows(conn, "SELECT bt.biblio_id, t.topic FROM biblio_topic bt JOIN mst_topic t ON t.topic_id = bt.topic_id "
                             "ORDER BY bt.biblio_id, bt.level, t.topic_id"):
            self.topics[r["biblio_id"]].append(r["topic"])
        self.items: dict[int, list[dict]] = defaultdict(list)
        for r in _rows(conn, "SELECT item_id, biblio_id, call_number, coll_type_id, item_code, location_id, "
                             "item_status_id FROM item ORDER BY item_id"):
            self.items[r["biblio_id"]].append(r)

    def biblio_ids(self) -> list[int]:
        return [r["biblio_id"] for r in _rows(self.conn, "SELECT biblio_id FROM biblio ORDER BY biblio_id")]

    def biblios(self, ids: list[int]) -> list[dict]:
        if not ids:
            return []
        query = sa.text("SELECT * FROM biblio WHERE biblio_id IN :ids ORDER BY biblio_id").bindparams(
            sa.bindparam("ids", expanding=True))
        return [dict(r) for r in self.conn.execute(query, {"ids": list(ids)}).mappings()]


# ----------------------------------------------------------------------------- records and items


def record_fields(src: SlimsSource, row: dict, report: SlimsReport) -> dict:
    """The catalogue fields of one biblio row (with its items), ready for ``upsert_record``."""
    bid = row["biblio_id"]
    title = m.text(row.get("title"))
    if not title:
        raise ValueError("no title")
    title, subtitle = m.split_title(title)
    authors, seen = [], set()
    for a in src.authors.get(bid, []):
        name = m.text(a["author_name"])
        if not name or m.author_key(name) in seen:
            continue
        seen.add(m.author_key(name))
        authors.append({"name": name, "role": m.AUTHOR_LEVELS.get(a["level"] or 1, "contributor"),
                        "kind": m.AUTHORITY_KINDS.get((a["authority_type"] or "p").lower(), "person")})
    subjects, seen = [], set()
    for t in src.topics.get(bid, []):
        t = m.text(t)
        if t and t.lower() not in seen:
            seen.add(t.lower())
            subjects.append(t)
    isbns, issns = m.split_isbn_issn(row.get("isbn_issn"))
    if m.text(row.get("isbn_issn")) and not (isbns or issns):
        report.warn("records", bid, f"ISBN/ISSN {m.text(row.get('isbn_issn'))!r} not understood; left out")
    notes = [n for n in (m.text(row.get("notes")),) if n]
    series = [s for s in (m.text(row.get("series_title")),) if s]
    items = []
    for it in src.items.get(bid, []):
        barcode = m.text(it["item_code"])
        if not barcode:
            report.skip("items", f"item_id {it['item_id']}", "no barcode (item_code is empty)")
            continue
        loc = m.text(it["location_id"])
        if loc and loc not in src.locations:
            report.warn("items", barcode, f"location {loc!r} does not exist in SLiMS; copy imported without a location")
            loc = None
        items.append({"barcode": barcode[:64], "call_number": m.text(it["call_number"]) or m.text(row.get("call_number")),
                      "location": loc, "collection": (src.coll_type.get(it["coll_type_id"]) or None),
                      "status": m.item_status(it["item_status_id"], *src.item_status.get(
                          (m.text(it["item_status_id"]) or "").upper(), (None, None)))})
    return {
        "control_number": f"slims:{bid}", "title": title, "subtitle": subtitle,
        "responsibility": m.text(row.get("sor")), "edition": m.text(row.get("edition")),
        "publisher": src.publisher.get(row.get("publisher_id")), "place": src.place.get(row.get("publish_place_id")),
        "year": m.to_year(row.get("publish_year")),
        "material_type": m.material_type(src.gmd.get(row.get("gmd_id")), src.content.get(row.get("content_type_id"))),
        "call_number": m.text(row.get("call_number")), "summary": None, "physical": m.text(row.get("collation")),
        "authors": authors, "subjects": subjects, "languages": m.language(row.get("language_id")),
        "isbns": isbns, "issns": issns, "series": series, "notes": notes, "links": [], "items": items,
    }


def sync_locations(src: SlimsSource) -> None:
    """Create or rename the catalogue locations of mst_location (code = SLiMS location_id)."""
    existing = {loc.code: loc for loc in db.session.scalars(select(Location))}
    for code, name in src.locations.items():
        if not code:
            continue
        loc = existing.get(code[:32])
        if loc is None:
            db.session.add(Location(code=code[:32], name=(name or code)[:200]))
        elif name and loc.name != name[:200]:
            loc.name = name[:200]
    db.session.flush()


def _apply_item_statuses(record: Record, items: list[dict]) -> int:
    """Set the SLiMS status of the record's copies (upsert_record keeps an existing copy's status);
    a copy on loan or set aside for a hold here keeps its circulation status."""
    wanted = {it["barcode"]: it["status"] for it in items}
    changed = 0
    for item in record.items:
        status = wanted.get(item.barcode)
        if status and item.status != status and item.status in ("available", "missing", "lost", "not_for_loan"):
            item.status = status
            changed += 1
    return changed


def import_records(src: SlimsSource, report: SlimsReport, *, commit: Callable[[], None],
                   progress: Callable[[int], None] | None = None, batch: int = 200) -> None:
    sync_locations(src)
    ids = src.biblio_ids()
    for bid in sorted(set(src.items) - set(ids), key=lambda b: (b is None, b or 0)):
        for it in src.items[bid]:
            report.skip("items", m.text(it["item_code"]) or f"item_id {it['item_id']}",
                        f"its record (biblio_id {bid}) does not exist in SLiMS")
    locations = LocationCache()
    for start in range(0, len(ids), batch):
        for row in src.biblios(ids[start:start + batch]):
            bid = row["biblio_id"]
            try:
                with db.session.begin_nested():
                    fields = record_fields(src, row, report)
                    record, outcome, notes, (added, updated) = upsert_record(fields, source="slims", locations=locations)
                    if record.hidden != bool(row.get("opac_hide")):  # hidden from SLiMS's OPAC: from ours too
                        record.hidden = bool(row.get("opac_hide"))
                        outcome = "updated" if outcome == "unchanged" else outcome
                    # a new copy got its status from upsert_record; an existing one keeps its own there
                    statuses = 0 if outcome == "imported" else _apply_item_statuses(record, fields["items"])
            except Exception as exc:  # noqa: BLE001 - one broken row is reported, the run goes on
                db.session.expire_all()
                locations = LocationCache()
                report.skip("records", bid, _reason(exc))
            else:
                if statuses and outcome == "unchanged":
                    outcome = "updated"
                report.count("records", outcome)
                report.count("items", "imported", added)
                report.count("items", "updated", updated + statuses)
                report.count("items", "unchanged", max(0, len(fields["items"]) - added - updated - len(notes)))
                for note in notes:
                    report.skip("items", f"biblio {bid}", note)
            if progress:
                progress(1)
        commit()
        locations = LocationCache()


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return str(exc.message)
    if isinstance(exc, ValueError):
        return str(exc)
    return f"could not be saved ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"


# ----------------------------------------------------------------------------- patrons


def sync_categories(conn) -> dict[int, PatronCategory]:
    """Patron categories ``slims-<member_type_id>`` named after mst_member_type; a new category gets a
    circulation policy from the member type's loan limit, loan period and renewals (later edits here stay)."""
    cats = {}
    for r in _rows(conn, "SELECT * FROM mst_member_type"):
        code = f"slims-{r['member_type_id']}"
        name = (m.text(r["member_type_name"]) or code)[:100]
        years = max(1, round((r.get("member_periode") or 365) / 365))
        cat = db.session.scalar(select(PatronCategory).where(PatronCategory.code == code))
        if cat is None:
            cat = PatronCategory(code=code, name=name, card_years=years)
            db.session.add(cat)
            db.session.flush()
            db.session.add(CirculationPolicy(
                category_id=cat.id, loan_days=max(1, r.get("loan_periode") or 14),
                max_loans=max(0, r.get("loan_limit") or 0), max_renewals=max(0, r.get("reborrow_limit") or 0),
                max_holds=max(0, r.get("reserve_limit") or 0) if r.get("enable_reserve") else 0,
                fine_per_day=max(0, r.get("fine_each_day") or 0)))
        elif cat.name != name:
            cat.name = name
        cats[r["member_type_id"]] = cat
    db.session.flush()
    return cats


def import_patrons(conn, report: SlimsReport, *, commit: Callable[[], None],
                   progress: Callable[[int], None] | None = None, batch: int = 200) -> None:
    cats = sync_categories(conn)
    fallback = None
    rows = _rows(conn, "SELECT member_id, member_name, member_type_id, member_email, member_phone, expire_date "
                       "FROM member ORDER BY member_id")
    for n, r in enumerate(rows, 1):
        card = m.text(r["member_id"])
        try:
            if not card or len(card) > 32:
                raise ValueError("member_id is empty" if not card else "member_id longer than 32 characters")
            name = m.text(r["member_name"])
            if not name:
                raise ValueError("no member_name")
            cat = cats.get(r["member_type_id"])
            if cat is None:
                if fallback is None:
                    fallback = db.session.scalar(select(PatronCategory).where(PatronCategory.code == "public"))
                cat = fallback
                report.warn("patrons", card, f"member type {r['member_type_id']} unknown; category 'public'")
            email = m.text(r["member_email"])
            if email and not _valid_email(email):
                report.warn("patrons", card, f"e-mail {email!r} is not valid; left out")
                email = None
            phone = m.text(r["member_phone"])
            if phone and not _valid_whatsapp(phone):
                phone = None
            with db.session.begin_nested():
                _patron, outcome = upsert_imported_patron(card, name[:200], cat, email=email, whatsapp=phone,
                                                          expires_on=m.to_date(r["expire_date"]))
        except Exception as exc:  # noqa: BLE001 - reported per member
            db.session.expire_all()
            fallback = None
            report.skip("patrons", card or repr(r["member_id"]), _reason(exc))
        else:
            report.count("patrons", outcome)
        if progress:
            progress(1)
        if n % batch == 0:
            commit()
    commit()


def _valid_email(value: str) -> bool:
    from ..mail import valid_email

    return valid_email(value)


def _valid_whatsapp(value: str) -> bool:
    from ..accounts.services import AccountError, normalize_whatsapp

    try:
        normalize_whatsapp(value)
    except AccountError:
        return False
    return True


# ----------------------------------------------------------------------------- loans


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12, 0))


def import_loans(conn, report: SlimsReport, *, with_history: bool, commit: Callable[[], None],
                 progress: Callable[[int], None] | None = None, batch: int = 500) -> None:
    """Open loans (``is_return = 0``) become loans here and their copies go on loan; a loan imported
    earlier and since returned in SLiMS is closed; returned loans are imported only ``with_history``."""
    rows = _rows(conn, "SELECT loan_id, item_code, member_id, loan_date, due_date, renewed, is_return, return_date "
                       "FROM loan ORDER BY loan_id")
    # without history, a returned SLiMS loan matters only if it closes a loan open here
    on_loan_here = set(db.session.scalars(
        select(Item.barcode).join(Loan, Loan.item_id == Item.id).where(Loan.returned_at.is_(None))))
    for n, r in enumerate(rows, 1):
        kind = "loans" if not r["is_return"] else "history"
        if r["is_return"] and not with_history and m.text(r["item_code"]) not in on_loan_here:
            if progress:
                progress(1)
            continue
        try:
            with db.session.begin_nested():
                outcome = _import_loan(r, with_history=with_history)
        except Exception as exc:  # noqa: BLE001 - reported per loan
            db.session.expire_all()
            report.skip(kind, f"loan_id {r['loan_id']}", _reason(exc))
        else:
            if outcome == "closed":
                report.count("loans", "updated")
            elif outcome:
                report.count(kind, outcome)
        if progress:
            progress(1)
        if n % batch == 0:
            commit()
    commit()


def _import_loan(r: dict, *, with_history: bool) -> str | None:
    barcode, card = m.text(r["item_code"]), m.text(r["member_id"])
    loaned = m.to_date(r["loan_date"])
    returned = bool(r["is_return"])
    item = db.session.scalar(select(Item).where(Item.barcode == barcode)) if barcode else None
    patron = db.session.scalar(select(Patron).where(Patron.card_number == card)) if card else None
    if returned:
        # an open loan imported by an earlier run and returned in SLiMS since: close it
        if item is not None and patron is not None and loaned is not None:
            open_loan = db.session.scalar(select(Loan).where(
                Loan.item_id == item.id, Loan.patron_id == patron.id, Loan.returned_at.is_(None),
                Loan.checked_out_at == _at(loaned)))
            if open_loan is not None:
                open_loan.returned_at = _at(m.to_date(r["return_date"]) or date.today())
                if item.status == "on_loan":
                    item.status = "available"
                db.session.flush()
                return "closed"
        if not with_history:
            return None
    if item is None:
        raise ValueError(f"copy {barcode!r} is not in the catalogue")
    if patron is None:
        raise ValueError(f"member {card!r} is not a patron")
    if loaned is None:
        raise ValueError("no loan date")
    due = m.to_date(r["due_date"])
    if due is None:
        if returned:
            due = loaned + timedelta(days=14)
        else:
            raise ValueError("no due date")
    renewals = max(0, int(r["renewed"] or 0))
    if returned:
        back = _at(m.to_date(r["return_date"]) or due)
        old = db.session.scalar(select(Loan).where(Loan.item_id == item.id, Loan.patron_id == patron.id,
                                                   Loan.checked_out_at == _at(loaned)))
        if old is not None:
            return "unchanged"
        db.session.add(Loan(item_id=item.id, record_id=item.record_id, patron_id=patron.id, checked_out_at=_at(loaned),
                            due_date=due, returned_at=back, renewals=renewals, location_id=item.location_id))
        db.session.flush()
        return "imported"
    current = db.session.scalar(select(Loan).where(Loan.item_id == item.id, Loan.returned_at.is_(None)))
    if current is not None:
        if current.patron_id != patron.id:
            raise ValueError(f"copy {barcode} is already on loan to another patron here")
        changed = (current.due_date, current.renewals) != (due, renewals)
        current.due_date, current.renewals = due, renewals
        if item.status != "on_loan":
            item.status, changed = "on_loan", True
        db.session.flush()
        return "updated" if changed else "unchanged"
    db.session.add(Loan(item_id=item.id, record_id=item.record_id, patron_id=patron.id, checked_out_at=_at(loaned),
                        due_date=due, renewals=renewals, location_id=item.location_id))
    item.status = "on_loan"
    db.session.flush()
    return "imported"


def count_rows(conn, *, with_history: bool) -> dict[str, int]:
    """How many rows each step reads (for the progress bars)."""
    one = lambda sql: conn.execute(sa.text(sql)).scalar() or 0  # noqa: E731
    return {"records": one("SELECT COUNT(*) FROM biblio"), "patrons": one("SELECT COUNT(*) FROM member"),
            "loans": one("SELECT COUNT(*) FROM loan")}
