"""Saved searches and their weekly alerts. Services flush, never commit.

A saved search keeps the search's words and filters as a canonical query string. The daily run
(`flask --app opac notify`) checks each saved search whose week is up: the records added to the
catalogue since its last check that match it are written as ``SavedSearchMatch`` rows — unique per
saved search and record, so a record is announced once however often the check runs — and one
notice tells the patron (in the app, and by e-mail or push when they chose so for this search).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from ..accounts.models import Patron
from ..catalog.models import Record, utcnow
from ..circulation.services import lock
from ..errors import DomainError
from ..extensions import db
from ..notifications.events import Notice, emit
from ..search.interface import SearchParams, SearchUnavailable
from ..search.services import backend
from .models import SavedSearch, SavedSearchMatch

#: a record added this long before a check may not have reached the index yet: the next check
#: looks back as far (the unique match rows keep it from being announced twice)
INDEX_LAG_MARGIN = timedelta(days=1)
#: titles named in one alert (the saved searches page lists them all)
TITLES_IN_NOTICE = 5


class SavedSearchRefused(DomainError):
    messages = {
        "empty_search": _l("Search for something first, then save the search."),
        "too_long": _l("This search is too long to save."),
        "too_many": _l("You can keep at most %(max)s saved searches. Delete one first."),
        "name_too_long": _l("The name is too long."),
    }


def search_params(query: str) -> SearchParams:
    """The search a saved query string stands for (the results page's own parsing)."""
    from ..search.views import params_from

    return params_from(MultiDict(parse_qsl(query, keep_blank_values=False)))


def canonical_query(args: MultiDict) -> str:
    """The words and filters of a search URL's arguments, without sort and page, in one order.

    >>> canonical_query(MultiDict([("sort", "newest"), ("type", "book"), ("q", " sejarah  "), ("page", "2")]))
    'q=sejarah&type=book'
    """
    params = search_params(urlencode(list(args.items(multi=True))))
    items = [("q", " ".join(params.q.split()))] if params.q.strip() else []
    items += [(k, v) for k, values in params.filters for v in values]
    if params.year:
        items.append(("year", params.year))
    if params.available:
        items.append(("available", "1"))
    return urlencode(items)


def patron_saved_searches(patron: Patron):
    """The patron's own saved searches (never load one by bare id)."""
    return select(SavedSearch).where(SavedSearch.patron_id == patron.id)


def _name(value, default: str) -> str:
    name = " ".join(str(value or "").split()) or default
    if len(name) > 200:
        raise SavedSearchRefused("name_too_long")
    return name


def save_search(patron: Patron, args: MultiDict, *, name=None, alerts: bool = True, alert_email: bool = False,
                alert_push: bool = False) -> SavedSearch:
    """Save the search of ``args`` (the same search saved again is updated, not doubled)."""
    query = canonical_query(args)
    if not query:
        raise SavedSearchRefused("empty_search")
    if len(query) > 1000:
        raise SavedSearchRefused("too_long")
    params = search_params(query)
    default = params.q.strip()[:200] or ", ".join(v for _k, vs in params.filters for v in vs)[:200] or query[:200]
    # the patron's row locked (PostgreSQL; SQLite: the write request's BEGIN IMMEDIATE) so that two
    # saves at once count one after the other and the limit holds
    lock(Patron, patron.id)
    saved = db.session.scalar(patron_saved_searches(patron).where(SavedSearch.query == query))
    if saved is None:
        limit = int(current_app.config["SAVED_SEARCHES_MAX"])
        count = db.session.scalar(select(func.count()).select_from(patron_saved_searches(patron).subquery()))
        if count >= limit:
            raise SavedSearchRefused("too_many", max=limit)
        now = utcnow()
        saved = SavedSearch(patron_id=patron.id, query=query, created_at=now, seen_at=now,
                            next_check_at=now + alert_interval())
        db.session.add(saved)
    update_saved_search(saved, name=name or saved.name or default, alerts=alerts, alert_email=alert_email,
                        alert_push=alert_push)
    return saved


def update_saved_search(saved: SavedSearch, *, name, alerts: bool, alert_email: bool, alert_push: bool) -> None:
    saved.name = _name(name, saved.name or saved.query[:200])
    saved.alerts = bool(alerts)
    saved.alert_email = bool(alerts and alert_email)
    saved.alert_push = bool(alerts and alert_push)
    db.session.flush()


def mark_seen(patron: Patron) -> None:
    """The patron has seen every match so far: none is marked "new" any more."""
    for saved in db.session.scalars(patron_saved_searches(patron)):
        saved.seen_at = utcnow()
    db.session.flush()


def recent_matches(saved_ids: list[int], per_search: int = 20) -> dict[int, list[SavedSearchMatch]]:
    """The latest matches of each saved search, newest first."""
    out: dict[int, list[SavedSearchMatch]] = {sid: [] for sid in saved_ids}
    if not saved_ids:
        return out
    rows = db.session.scalars(select(SavedSearchMatch).where(SavedSearchMatch.saved_search_id.in_(saved_ids))
                              .order_by(SavedSearchMatch.found_at.desc(), SavedSearchMatch.id.desc())
                              .limit(per_search * len(saved_ids)))
    for m in rows:
        if len(out[m.saved_search_id]) < per_search:
            out[m.saved_search_id].append(m)
    return out


# ----------------------------------------------------------------------------- the weekly check


def alert_interval() -> timedelta:
    return timedelta(days=max(1, int(current_app.config["SAVED_SEARCH_ALERT_DAYS"])))


def _day_number(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp() // 86400)


def new_matches(saved: SavedSearch, now: datetime) -> list[int]:
    """Ids of records added since the last check (less the index lag margin, never before the
    search was saved) that match it and were not announced yet, oldest first."""
    since = max(saved.created_at, (saved.checked_at or saved.created_at) - INDEX_LAG_MARGIN)
    # the index stores the day a record was added; one day's slack for the server's time zone
    found = backend().matching_record_ids(search_params(saved.query), _day_number(since) - 1)
    if not found:
        return []
    known = set(db.session.scalars(select(SavedSearchMatch.record_id)
                                   .where(SavedSearchMatch.saved_search_id == saved.id)))
    wanted = sorted(found - known)
    ids: list[int] = []
    for start in range(0, len(wanted), 500):
        ids += db.session.scalars(select(Record.id).where(
            Record.id.in_(wanted[start:start + 500]), Record.is_public, Record.created_at > since,
            Record.created_at <= now)).all()
    return sorted(ids)


def check_saved_search(saved: SavedSearch, now: datetime) -> int:
    """Record and announce the saved search's new matches; the number announced."""
    ids = new_matches(saved, now)
    if ids:
        try:
            with db.session.begin_nested():
                db.session.add_all(SavedSearchMatch(saved_search_id=saved.id, record_id=rid, found_at=now)
                                   for rid in ids)
                db.session.flush()
        except IntegrityError:
            return 0  # another run announced them; this one leaves the check to it
        titles = db.session.scalars(select(Record.title).where(Record.id.in_(ids[:TITLES_IN_NOTICE]))
                                    .order_by(Record.id)).all()
        shown = "; ".join(titles) + ("; …" if len(ids) > TITLES_IN_NOTICE else "")
        emit(Notice("saved_search", saved.patron_id, {"name": saved.name, "count": len(ids), "titles": shown},
                    endpoint="saved_searches.page", email=saved.alert_email, push=saved.alert_push))
    saved.checked_at = now
    saved.next_check_at = now + alert_interval()
    db.session.flush()
    return len(ids)


def run_saved_search_alerts(now: datetime | None = None) -> dict:
    """Check every saved search whose week is up (part of the daily run); counts for its report."""
    now = now or utcnow()
    due = db.session.scalars(select(SavedSearch).where(SavedSearch.alerts.is_(True), SavedSearch.next_check_at <= now)
                             .order_by(SavedSearch.id).with_for_update(skip_locked=True)).all()
    checked = announced = 0
    try:
        for saved in due:
            announced += check_saved_search(saved, now)
            checked += 1
    except SearchUnavailable:
        current_app.logger.warning("saved search alerts skipped: the search index is unavailable")
    return {"saved_searches_checked": checked, "saved_search_matches": announced}
