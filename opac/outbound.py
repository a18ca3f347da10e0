"""Outbound messages (e-mail, Web Push) as a queue in the database, sent by `flask --app opac worker`.

A message is written in the same transaction as the change it reports. A worker claims one due row
at a time — ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock of ``BEGIN IMMEDIATE``
on SQLite — sends it, and records the outcome (sent, or a failure with exponential backoff, or a dead
letter after the channel's maximum attempts) in that same transaction before releasing the claim,
so two workers never send the same message. Staff see dead letters and can queue them again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import CheckConstraint, Index, String, Text, or_, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from . import clock
from .db import begin_write
from .extensions import db

STATUSES = ("pending", "sent", "dead", "cancelled")


class DeliveryFailed(Exception):
    """A send did not go through. ``permanent``: retrying cannot help (dead letter at once)."""

    def __init__(self, message: str, *, permanent: bool = False, cancel: bool = False, stop: bool = False):
        super().__init__(message)
        self.permanent = permanent
        #: the message has nowhere to go any more (say, a push subscription the browser dropped)
        self.cancel = cancel
        #: the channel itself is down (SMTP unreachable): stop this batch, try again later
        self.stop = stop


class QueuedMessage:
    """Queue columns shared by the outbound tables."""

    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: not before this time (UTC); NULL: at once
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    #: the last failure, for staff
    error: Mapped[str | None] = mapped_column(Text)

    @declared_attr.directive
    def __table_args__(cls):  # noqa: N805 - SQLAlchemy's declared_attr convention
        return (
            CheckConstraint("status IN ('pending', 'sent', 'dead', 'cancelled')", name="status"),
            Index(f"ix_{cls.__tablename__}_due", "status", "next_attempt_at"),
        )


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: doubling from OUTBOUND_RETRY_SECONDS, capped.

    >>> from flask import Flask
    >>> app = Flask("doc")
    >>> app.config.update(OUTBOUND_RETRY_SECONDS=60, OUTBOUND_RETRY_MAX_SECONDS=3600)
    >>> with app.app_context():
    ...     [int(backoff(n).total_seconds()) for n in (1, 2, 3, 10)]
    [60, 120, 240, 3600]
    """
    cfg = current_app.config
    first = float(cfg["OUTBOUND_RETRY_SECONDS"])
    cap = float(cfg["OUTBOUND_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(cap, first * 2 ** max(0, min(attempts - 1, 30))))


def due(model):
    """Rows of ``model`` that a worker may send now, oldest first."""
    return (select(model).where(model.status == "pending",
                                or_(model.next_attempt_at.is_(None), model.next_attempt_at <= clock.now()))
            .order_by(model.id))


def deliver_one(model, send: Callable, max_attempts: int) -> str | None:
    """Claim the oldest due row of ``model``, ``send(row)`` it and record the outcome; commit.

    Returns the row's new status, "stop" when the channel is down, or None when nothing is due.
    """
    begin_write()
    row = db.session.scalar(due(model).limit(1).with_for_update(skip_locked=True))
    if row is None:
        db.session.commit()
        return None
    outcome = None
    try:
        try:
            send(row)
        except DeliveryFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or an odd answer: retried, then a dead letter
            current_app.logger.warning("sending %s %s failed", model.__tablename__, row.id, exc_info=True)
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    except DeliveryFailed as exc:
        row.attempts += 1
        row.error = str(exc)[:1000]
        if exc.cancel:
            row.status = "cancelled"
        elif exc.permanent or row.attempts >= max_attempts:
            row.status = "dead"
        else:
            row.next_attempt_at = clock.now() + backoff(row.attempts)
        outcome = "stop" if exc.stop else row.status
    else:
        row.status = "sent"
        row.sent_at = clock.now()
        row.error = None
        outcome = "sent"
    db.session.commit()
    return outcome


def drain(model, send: Callable, max_attempts: int, limit: int = 1000, stop=None) -> dict:
    """Deliver due rows until none is left (or ``limit``, or ``stop`` is set); counts by outcome."""
    counts: dict[str, int] = {}
    for _ in range(limit):
        if stop is not None and stop.is_set():
            break
        outcome = deliver_one(model, send, max_attempts)
        if outcome is None:
            break
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "stop":
            break
    return counts


def retry(model, row_id: int) -> bool:
    """Put a dead letter back in the queue with fresh attempts (staff action); False if not dead."""
    row = db.session.scalar(select(model).where(model.id == row_id).with_for_update())
    if row is None or row.status != "dead":
        return False
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = None
    db.session.flush()
    return True
