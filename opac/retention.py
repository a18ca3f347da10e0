"""Retention: the daily run removes every link between a patron and what they read or asked once
its retention period is over (privacy by default; loans stay for a patron who keeps history).

One function, :func:`purge_expired_personal_data`, called by ``flask --app opac notify``; it only
flushes (the command commits). Every period is a setting in opac/config.py:

=================================  =====================================================================
ANONYMIZE_AFTER_DAYS               returned loans lose their patron; paid fines lose their loan
HOLD_RETENTION_DAYS                closed holds (fulfilled, cancelled, expired) are deleted
NOTIFICATION_RETENTION_DAYS        in-app notifications are deleted
OUTBOX_RETENTION_DAYS              outbox e-mails are deleted (a purged question's at once)
IDEMPOTENCY_RETENTION_DAYS         stored answers to repeated requests are deleted
SEARCH_STATS_DAYS                  counts of searches without results are deleted (aggregate, no patron)
REFERENCE_RETENTION_DAYS           closed questions lose their asker and their text
REFERENCE_OPEN_RETENTION_DAYS      open questions without activity are closed, then purged the same way
SUGGESTION_RETENTION_DAYS          answered purchase suggestions (arrived, rejected) are deleted
CLEARANCE_LETTER_RETENTION_DAYS    clearance letters are deleted (their public link stops answering)
SAVED_SEARCH_MATCH_RETENTION_DAYS  records found by saved-search alerts leave the patron's list
VISIT_RETENTION_DAYS               a patron's own visit records are deleted (the anonymous counts stay)
=================================  =====================================================================

Saved searches themselves stay while the patron keeps them (they go with the account).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, select, update

from .catalog.models import utcnow
from .extensions import db

#: login and question counters are only useful within their window (an hour by default)
THROTTLE_RETENTION = timedelta(days=7)


def clock(today: date | None = None) -> datetime:
    """The daily run's "now" (naive UTC): the real time, moved by as many days as ``today`` is
    away from the library's real today (so a run for another day applies that day's cutoffs)."""
    from .circulation import rules

    now = utcnow()
    if today is not None:
        now += timedelta(days=(today - rules.today()).days)
    return now


def _days(key: str, default: int) -> timedelta:
    return timedelta(days=max(int(current_app.config.get(key, default)), 0))


def purge_expired_personal_data(today: date | None = None) -> dict:
    """Remove or anonymise everything past its retention period; returns counts per kind."""
    from .accounts.models import LoginThrottle, Patron
    from .circulation.models import ACTIVE_HOLD, Fine, Hold, IdempotencyKey
    from .circulation.services import anonymize_loans
    from .mail import OutboxEmail
    from .notifications.models import Notification
    from .reference.services import purge_old_threads

    now = clock(today)
    keepers = select(Patron.id).where(Patron.keep_history.is_(True))
    counts = {"loans_anonymized": anonymize_loans(today, now=now)}

    # a paid fine would still tie the patron to the loan's title
    loan_cutoff = now - _days("ANONYMIZE_AFTER_DAYS", 30)
    counts["fines_unlinked"] = db.session.execute(
        update(Fine).where(Fine.loan_id.is_not(None), Fine.paid_at.is_not(None), Fine.paid_at < loan_cutoff,
                           Fine.patron_id.not_in(keepers))
        .values(loan_id=None).execution_options(synchronize_session=False)).rowcount or 0

    hold_cutoff = now - _days("HOLD_RETENTION_DAYS", 30)
    counts["holds_deleted"] = db.session.execute(
        delete(Hold).where(Hold.status.not_in(ACTIVE_HOLD), Hold.closed_at.is_not(None), Hold.closed_at < hold_cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0
    # closed before closed_at was recorded (or by hand): fall back to when they were placed
    counts["holds_deleted"] += db.session.execute(
        delete(Hold).where(Hold.status.not_in(ACTIVE_HOLD), Hold.closed_at.is_(None), Hold.placed_at < hold_cutoff)
        .execution_options(synchronize_session=False)).rowcount or 0

    counts["notifications_deleted"] = db.session.execute(
        delete(Notification).where(Notification.created_at < now - _days("NOTIFICATION_RETENTION_DAYS", 30))
        .execution_options(synchronize_session=False)).rowcount or 0

    counts["questions_purged"] = purge_old_threads(now)

    counts["emails_deleted"] = db.session.execute(
        delete(OutboxEmail).where(OutboxEmail.created_at < now - _days("OUTBOX_RETENTION_DAYS", 30))
        .execution_options(synchronize_session=False)).rowcount or 0

    counts["idempotency_keys_deleted"] = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - _days("IDEMPOTENCY_RETENTION_DAYS", 30))
        .execution_options(synchronize_session=False)).rowcount or 0

    counts.update(_purge_patron_services(now))

    from .circulation import rules
    from .search.misses import purge_misses

    counts["search_misses_deleted"] = purge_misses(today or rules.today())

    db.session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < now - THROTTLE_RETENTION)
                       .execution_options(synchronize_session=False))
    db.session.flush()
    return counts


def _purge_patron_services(now: datetime) -> dict:
    """Answered suggestions, old clearance letters, old alert matches and visit records."""
    from .patron_services.models import ClearanceLetter, PatronVisit, PurchaseSuggestion, SavedSearchMatch

    cfg = current_app.config
    counts = {"suggestions_deleted": db.session.execute(
        delete(PurchaseSuggestion).where(PurchaseSuggestion.status.in_(("arrived", "rejected")),
                                         PurchaseSuggestion.updated_at < now - _days("SUGGESTION_RETENTION_DAYS", 180))
        .execution_options(synchronize_session=False)).rowcount or 0}
    counts["clearance_letters_deleted"] = db.session.execute(
        delete(ClearanceLetter).where(ClearanceLetter.issued_at < now - _days("CLEARANCE_LETTER_RETENTION_DAYS", 1826))
        .execution_options(synchronize_session=False)).rowcount or 0
    # kept at least two alert periods, so the next check's look-back never finds one again
    keep = max(_days("SAVED_SEARCH_MATCH_RETENTION_DAYS", 90),
               timedelta(days=2 * int(cfg["SAVED_SEARCH_ALERT_DAYS"]) + 2))
    counts["alert_matches_deleted"] = db.session.execute(
        delete(SavedSearchMatch).where(SavedSearchMatch.found_at < now - keep)
        .execution_options(synchronize_session=False)).rowcount or 0
    # by the library's day: today's record (what makes a second scan today count nothing) always stays
    local_today = now.replace(tzinfo=UTC).astimezone(ZoneInfo(cfg["BABEL_DEFAULT_TIMEZONE"])).date()
    counts["visits_deleted"] = db.session.execute(
        delete(PatronVisit).where(PatronVisit.day < local_today - _days("VISIT_RETENTION_DAYS", 30))
        .execution_options(synchronize_session=False)).rowcount or 0
    return counts
