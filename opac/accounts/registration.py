"""Joining the library online: sign up, verify the e-mail address, get a card number (at once or
after staff approval). Services only: they flush and never commit.

The answer to a sign-up never tells a stranger whether an address already belongs to a member:
that person gets a "you already have a card" e-mail instead of a verification link.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from ..mail import queue_email, valid_email
from ..urls import absolute_url
from .models import Patron, Registration
from .services import _bump, category_by_code, check_new_secret, normalize_whatsapp


class RegistrationError(DomainError):
    messages = {
        "off": _l("Joining the library online is not available."),
        "missing_name": _l("Type your full name."),
        "email_required": _l("Type your e-mail address: the confirmation link is sent there."),
        "bad_email": _l("This e-mail address does not look right."),
        "in_progress": _l("A sign-up with this e-mail address is already in progress. Open the link we sent "
                          "you, or try again in a few minutes."),
        "mismatch": _l("The two PINs are not the same."),
        "consent": _l("Please read and accept the privacy notice to join."),
        "throttled": _l("Too many sign-ups from this address. Please wait %(minutes)s minutes and try again."),
        "bad_token": _l("This confirmation link is invalid, already used or has expired. Please sign up again."),
        "already_member": _l("This e-mail address already belongs to a member. Log in with your card, or ask for a "
                             "PIN reset if you forgot it."),
        "not_pending": _l("This sign-up is not waiting for approval."),
    }


def _hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _email_taken(email: str) -> bool:
    return db.session.scalar(select(Patron.id).where(func.lower(Patron.email) == email.lower()).limit(1)) is not None \
        or db.session.scalar(select(Registration.id).where(
            func.lower(Registration.email) == email.lower(), Registration.status == "pending").limit(1)) is not None


def register(name: str, email: str, whatsapp: str | None, pin: str, confirm: str, consent: bool, *, ip: str,
             language: str = "id") -> str | None:
    """Check the form, then e-mail a single-use confirmation link (or, for an address that is already
    a member's, a "you already have a card" mail). Returns the link's token (for tests) or None."""
    cfg = current_app.config
    window = timedelta(seconds=int(cfg["RESET_WINDOW_SECONDS"]))
    now = utcnow()
    if _bump(f"register-ip:{ip}", now, window) > int(cfg["SELF_REGISTRATION_MAX_PER_IP"]):
        raise RegistrationError("throttled", minutes=max(1, int(window.total_seconds() // 60)))
    name, email = (name or "").strip()[:200], (email or "").strip()[:254]
    if not name:
        raise RegistrationError("missing_name")
    if not email:
        raise RegistrationError("email_required")
    if not valid_email(email):
        raise RegistrationError("bad_email")
    whatsapp = normalize_whatsapp(whatsapp)  # AccountError with its own message
    check_new_secret("patron", pin or "")
    if pin != confirm:
        raise RegistrationError("mismatch")
    if not consent:
        raise RegistrationError("consent")
    language = language if language in cfg["LANGUAGES"] else "id"
    if _bump(f"register:{_hash(email.lower())[:40]}", now, window) > int(cfg["SELF_REGISTRATION_MAX_PER_ADDRESS"]):
        return None  # the same answer, nothing sent: no mail bombing of an address
    if _email_taken(email):
        with force_locale(language):
            subject = _("You already have a library card")
            body = _("Someone (perhaps you) tried to join %(library)s with this e-mail address, but it already "
                     "belongs to a member. Log in with your card number and PIN; if you forgot the PIN, ask for a "
                     "new one here:", library=cfg["LIBRARY_NAME"]) + "\n\n" + absolute_url("accounts.request_reset") \
                + "\n\n" + _("If it was not you, ignore this message.")
        queue_email(email, subject, body, kind="registration_exists")
        db.session.flush()
        return None
    # one live link per address: an earlier unverified sign-up is replaced
    db.session.execute(delete(Registration).where(func.lower(Registration.email) == email.lower(),
                                                  Registration.status == "unverified"))
    token = secrets.token_urlsafe(32)
    from .services import hash_password

    try:
        with db.session.begin_nested():
            db.session.add(Registration(
                name=name, email=email, whatsapp=whatsapp, pin_hash=hash_password(pin), language=language,
                token_hash=_hash(token), status="unverified", created_at=now, consent_at=now,
                expires_at=now + timedelta(hours=int(cfg["SELF_REGISTRATION_LINK_HOURS"]))))
            db.session.flush()
    except IntegrityError:  # the same address signed up at the same moment (uq_registration_open_email)
        raise RegistrationError("in_progress") from None
    link = absolute_url("registration.verify", token=token)
    with force_locale(language):
        subject = _("Confirm your e-mail to join the library")
        body = _("Welcome, %(name)s! Open this link to confirm your e-mail address and finish joining %(library)s:",
                 name=name, library=cfg["LIBRARY_NAME"]) + f"\n\n{link}\n\n" \
            + _("The link works once, for %(hours)s hours. If it was not you, ignore this message.",
                hours=cfg["SELF_REGISTRATION_LINK_HOURS"])
    queue_email(email, subject, body, kind="registration_verify")
    db.session.flush()
    return token


def registration_for_token(token: str) -> Registration | None:
    """The unverified sign-up a live link names (None: unknown, used or expired)."""
    row = db.session.scalar(select(Registration).where(Registration.token_hash == _hash(token)))
    if row is None or row.status != "unverified" or row.expires_at < utcnow():
        return None
    return row


def verify_registration(token: str) -> Registration:
    """Spend the link (atomically, once): the member gets a card now, or waits for approval."""
    row = registration_for_token(token)
    if row is None:
        raise RegistrationError("bad_token")
    now = utcnow()
    claimed = db.session.execute(update(Registration).where(
        Registration.id == row.id, Registration.status == "unverified", Registration.token_hash == row.token_hash)
        .values(status="pending", token_hash=None, verified_at=now)).rowcount
    if claimed != 1:
        raise RegistrationError("bad_token")
    db.session.refresh(row)
    if db.session.scalar(select(Patron.id).where(func.lower(Patron.email) == row.email.lower()).limit(1)):
        raise RegistrationError("already_member")
    if not current_app.config["SELF_REGISTRATION_APPROVAL"]:
        issue_card(row)
    db.session.flush()
    return row


def _next_card_number(row: Registration) -> str:
    prefix = str(current_app.config["SELF_REGISTRATION_CARD_PREFIX"] or "")[:20]
    base = f"{prefix}{row.id:06d}"
    card, n = base, 0
    while db.session.scalar(select(Patron.id).where(Patron.card_number == card)):
        n += 1
        card = f"{base}-{n}"
    return card


def issue_card(row: Registration) -> Patron:
    """Make the verified sign-up a patron with a new card number (prefix + the sign-up's sequence number)."""
    cat = category_by_code(current_app.config["SELF_REGISTRATION_CATEGORY"])
    today = date.today()
    try:
        expires = today.replace(year=today.year + cat.card_years)
    except ValueError:  # 29 February
        expires = today + timedelta(days=365 * cat.card_years)
    patron = Patron(card_number=_next_card_number(row), name=row.name, password_hash=row.pin_hash,
                    category_id=cat.id, email=row.email, whatsapp=row.whatsapp, language=row.language,
                    expires_on=expires, notify_whatsapp=False)
    db.session.add(patron)
    db.session.flush()
    row.patron_id = patron.id
    row.status = "approved"
    row.pin_hash = "-"  # the PIN lives on the patron now
    with force_locale(row.language):
        subject = _("Your library card number")
        body = _("Welcome to %(library)s! Your card number is %(card)s. Log in with it and your PIN to borrow, "
                 "place holds and show your digital card:", library=current_app.config["LIBRARY_NAME"],
                 card=patron.card_number) + "\n\n" + absolute_url("accounts.login")
    queue_email(row.email, subject, body, kind="registration_card", patron_id=patron.id)
    return patron


def pending_registrations() -> list[Registration]:
    return list(db.session.scalars(select(Registration).where(Registration.status == "pending")
                                   .order_by(Registration.verified_at, Registration.id)))


def _lock_pending(registration_id: int) -> Registration:
    row = db.session.execute(select(Registration).where(Registration.id == registration_id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None or row.status != "pending":
        raise RegistrationError("not_pending")
    return row


def approve_registration(registration_id: int) -> Patron:
    row = _lock_pending(registration_id)
    if db.session.scalar(select(Patron.id).where(func.lower(Patron.email) == row.email.lower()).limit(1)):
        raise RegistrationError("already_member")
    return issue_card(row)


def reject_registration(registration_id: int) -> Registration:
    row = _lock_pending(registration_id)
    row.status = "rejected"
    row.pin_hash = "-"
    with force_locale(row.language):
        subject = _("Your request to join the library")
        body = _("We could not accept your online request to join %(library)s. Please come to the desk, or "
                 "contact us.", library=current_app.config["LIBRARY_NAME"])
    queue_email(row.email, subject, body, kind="registration_rejected")
    db.session.flush()
    return row


def purge_unverified_registrations(now: datetime | None = None) -> int:
    """Delete sign-ups never confirmed within SELF_REGISTRATION_PURGE_DAYS (daily run)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["SELF_REGISTRATION_PURGE_DAYS"]))
    return db.session.execute(delete(Registration).where(Registration.status == "unverified",
                                                         Registration.created_at < cutoff)).rowcount or 0
