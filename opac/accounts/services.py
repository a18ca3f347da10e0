"""Accounts: patrons and staff, Argon2id passwords, login sessions, throttling, password reset."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, text

from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from ..mail import valid_email
from ..urls import absolute_url
from .models import STAFF_ROLES, AuthSession, PasswordReset, Patron, PatronCategory, StaffUser

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters
_DUMMY_HASH = _hasher.hash("not-a-real-password")

DEFAULT_CATEGORIES = (
    ("student", "Mahasiswa / Student", 1), ("lecturer", "Dosen / Lecturer", 3),
    ("staff", "Karyawan / Staff", 3), ("public", "Umum / Public", 1),
)
#: (category, loan days, max loans, max renewals, max holds)
DEFAULT_POLICIES = (
    (None, 14, 5, 2, 5), ("student", 14, 5, 2, 5), ("lecturer", 30, 15, 3, 10), ("staff", 21, 10, 2, 5),
    ("public", 7, 3, 1, 3),
)


class AccountError(DomainError):
    messages = {
        "bad_login": _l("The card number or PIN is not correct."),
        "throttled": _l("Too many attempts. Please wait %(minutes)s minutes and try again."),
        "weak_password": _l("The PIN or password must have at least %(min)s characters."),
        "wrong_password": _l("The current PIN or password is not correct."),
        "mismatch": _l("The two new passwords are not the same."),
        "bad_email": _l("This e-mail address does not look right."),
        "bad_whatsapp": _l("Type the WhatsApp number with digits only, for example 081234567890."),
        "duplicate_card": _l("Card %(card)s already exists."),
        "unknown_category": _l("Unknown patron category %(category)s."),
        "bad_token": _l("This password reset link is invalid or has expired."),
        "bad_role": _l("Unknown staff role."),
    }


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(password: str) -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum:
        raise AccountError("weak_password", min=minimum)


def seed_defaults() -> None:
    """Default patron categories and circulation policies (idempotent)."""
    from ..circulation.models import CirculationPolicy

    existing = {c.code: c for c in db.session.scalars(select(PatronCategory))}
    for code, name, years in DEFAULT_CATEGORIES:
        if code not in existing:
            existing[code] = PatronCategory(code=code, name=name, card_years=years)
            db.session.add(existing[code])
    db.session.flush()
    if db.session.scalar(select(CirculationPolicy.id).limit(1)) is None:
        for code, days, loans, renewals, holds in DEFAULT_POLICIES:
            db.session.add(CirculationPolicy(category_id=existing[code].id if code else None, loan_days=days,
                                             max_loans=loans, max_renewals=renewals, max_holds=holds))
    db.session.flush()


def category_by_code(code: str) -> PatronCategory:
    cat = db.session.scalar(select(PatronCategory).where(PatronCategory.code == code))
    if cat is None:
        raise AccountError("unknown_category", category=code)
    return cat


def normalize_whatsapp(value: str | None) -> str | None:
    if not value:
        return None
    digits = re.sub(r"[\s\-().]", "", value)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise AccountError("bad_whatsapp")
    return digits


def create_patron(card: str, pin: str, name: str, category: str, *, email: str | None = None,
                  whatsapp: str | None = None, expires_on: date | None = None, language: str = "id") -> Patron:
    card = card.strip()
    if db.session.scalar(select(Patron.id).where(Patron.card_number == card)):
        raise AccountError("duplicate_card", card=card)
    check_new_password(pin)
    cat = category_by_code(category)
    if email and not valid_email(email):
        raise AccountError("bad_email")
    if expires_on is None:
        today = date.today()
        expires_on = today.replace(year=today.year + cat.card_years) if not (today.month == 2 and today.day == 29) \
            else today + timedelta(days=365 * cat.card_years)
    patron = Patron(
        card_number=card, name=name.strip(), password_hash=hash_password(pin), category_id=cat.id,
        email=email or None, whatsapp=normalize_whatsapp(whatsapp), expires_on=expires_on, language=language)
    db.session.add(patron)
    db.session.flush()
    return patron


def import_patrons(data: str) -> tuple[int, list[tuple[int, str]]]:
    """CSV with columns card, pin, name, category[, email, whatsapp, expires_on]; returns (created, errors)."""
    created, errors = 0, []
    reader = csv.DictReader(io.StringIO(data))
    for n, row in enumerate(reader, 2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            with db.session.begin_nested():
                expires = date.fromisoformat(row["expires_on"]) if row.get("expires_on") else None
                create_patron(row.get("card", ""), row.get("pin", ""), row.get("name", ""), row.get("category", ""),
                              email=row.get("email") or None, whatsapp=row.get("whatsapp") or None, expires_on=expires)
            created += 1
        except (DomainError, ValueError, KeyError) as exc:
            errors.append((n, exc.message if isinstance(exc, DomainError) else str(exc)))
    return created, errors


def create_staff(username: str, password: str, name: str, role: str = "librarian", email: str | None = None) -> StaffUser:
    if role not in STAFF_ROLES:
        raise AccountError("bad_role")
    check_new_password(password)
    staff = StaffUser(username=username.strip(), name=name.strip(), password_hash=hash_password(password), role=role,
                      email=email)
    db.session.add(staff)
    db.session.flush()
    return staff


# ----------------------------------------------------------------------------- throttling


def _bump(key: str, now: datetime, window: timedelta) -> int:
    """Atomically count one attempt for ``key`` in the current window; returns the count."""
    cutoff = now - window
    return db.session.execute(text(
        "INSERT INTO login_throttle (key, window_start, attempts) VALUES (:k, :now, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "attempts = CASE WHEN login_throttle.window_start < :cutoff THEN 1 ELSE login_throttle.attempts + 1 END, "
        "window_start = CASE WHEN login_throttle.window_start < :cutoff THEN :now ELSE login_throttle.window_start END "
        "RETURNING attempts"), {"k": key, "now": now, "cutoff": cutoff}).scalar_one()


def _limit(key: str) -> int:
    cfg = current_app.config
    return cfg["LOGIN_MAX_ATTEMPTS_PER_IP"] if key.startswith("ip:") else cfg["LOGIN_MAX_ATTEMPTS"]


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])


def _throttled_error() -> AccountError:
    return AccountError("throttled", minutes=max(1, int(_window().total_seconds() // 60)))


def refuse_if_throttled(keys: list[str]) -> None:
    """A read-only look at the counters: a used-up window is refused at once, before the slow
    password check (which then cannot be used to burn the server's CPU)."""
    from .models import LoginThrottle

    cutoff = utcnow() - _window()
    rows = db.session.execute(select(LoginThrottle.key, LoginThrottle.attempts).where(
        LoginThrottle.key.in_(keys), LoginThrottle.window_start >= cutoff)).all()
    if any(attempts >= _limit(key) for key, attempts in rows):
        raise _throttled_error()


def reserve_attempt(keys: list[str]) -> None:
    """Count an attempt against every key, atomically across workers, *before* the outcome is
    decided, so concurrent guesses can never get more answers than the limit; raises when a
    window is used up (even for the right password).

    Never commits: the caller is the edge and must commit even when the attempt is refused
    (a wrong password), or the count is lost — see ``commit_counted_attempt``. Begins the write
    transaction (on SQLite it takes the write lock here).

    Account keys allow LOGIN_MAX_ATTEMPTS; IP keys allow LOGIN_MAX_ATTEMPTS_PER_IP (higher:
    a campus shares one address behind NAT). A successful login gives its attempts back.
    """
    from ..db import begin_write

    window = _window()
    now = utcnow()
    begin_write()
    over = False
    for k in keys:
        if _bump(k, now, window) > _limit(k):
            over = True
    db.session.flush()
    if over:
        raise _throttled_error()


def commit_counted_attempt() -> None:
    """The edge's answer to a refused login (or other throttled check): roll back whatever the
    attempt did except its count. The throttled services write nothing before they refuse, so
    this is a plain commit; it exists to say why a refusal commits."""
    db.session.commit()


def release_attempt(keys: list[str]) -> None:
    """After a successful login: the account's counter is cleared, the IP's attempt given back."""
    from sqlalchemy import update

    from .models import LoginThrottle

    accounts = [k for k in keys if not k.startswith("ip:")]
    ips = [k for k in keys if k.startswith("ip:")]
    if accounts:
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(accounts)))
    if ips:
        db.session.execute(update(LoginThrottle).where(LoginThrottle.key.in_(ips), LoginThrottle.attempts > 0)
                           .values(attempts=LoginThrottle.attempts - 1))


def throttle_keys(card_or_username: str, ip: str, kind: str = "patron") -> list[str]:
    return [f"{kind}:{(card_or_username or '').strip().lower()[:64]}", f"ip:{ip}"]


# ----------------------------------------------------------------------------- sessions


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(card: str, pin: str, ip: str) -> Patron:
    """The patron for card + PIN; the same error for an unknown card and a wrong PIN.

    The slow Argon2 check runs before the write transaction (views marked ``reads_first``), so a
    class logging in at once does not hold SQLite's write lock for every hash; the attempt is then
    counted and the answer given only within the limit. The edge commits, refused or not.
    """
    keys = throttle_keys(card, ip, "patron")
    refuse_if_throttled(keys)
    found = db.session.scalar(select(Patron).where(Patron.card_number == (card or "").strip()))
    patron_id, stored = (found.id, found.password_hash) if found else (None, None)
    ok = verify_password(stored, pin)
    reserve_attempt(keys)
    patron = db.session.get(Patron, patron_id) if patron_id else None
    if not (patron and ok and patron.password_hash == stored):
        raise AccountError("bad_login")
    release_attempt(keys)
    if _hasher.check_needs_rehash(patron.password_hash):
        patron.password_hash = hash_password(pin)
    return patron


def authenticate_staff(username: str, password: str, ip: str) -> StaffUser:
    """Like ``authenticate``, for staff accounts (an inactive account cannot log in)."""
    keys = throttle_keys(username, ip, "staff")
    refuse_if_throttled(keys)
    found = db.session.scalar(select(StaffUser).where(StaffUser.username == (username or "").strip()))
    staff_id, stored = (found.id, found.password_hash) if found else (None, None)
    ok = verify_password(stored, password)
    reserve_attempt(keys)
    staff = db.session.get(StaffUser, staff_id) if staff_id else None
    if not (staff and ok and staff.password_hash == stored and staff.active):
        raise AccountError("bad_login")
    release_attempt(keys)
    return staff


def start_session(user) -> str:
    """A new server-side session for ``user``; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    db.session.add(AuthSession(id=_token_id(token), kind=user.kind, user_id=user.id))
    db.session.flush()
    user.auth_session_id = token
    return token


def load_session_user(token: str):
    """The patron or staff member of a live session token, or None (logged out, expired, unknown)."""
    if not token:
        return None
    row = db.session.get(AuthSession, _token_id(token))
    if row is None:
        return None
    cfg = current_app.config
    idle = timedelta(hours=cfg["STAFF_SESSION_HOURS"] if row.kind == "staff" else cfg["PATRON_SESSION_HOURS"])
    now = utcnow()
    if now - row.last_seen > idle:
        return None
    model = StaffUser if row.kind == "staff" else Patron
    user = db.session.get(model, row.user_id)
    if user is None or (row.kind == "staff" and not user.active):
        return None
    if now - row.last_seen > timedelta(minutes=10):
        # session bookkeeping in its own short write, so reading pages keeps a login alive
        from ..db import short_write

        with short_write() as conn:
            conn.execute(AuthSession.__table__.update().where(AuthSession.id == row.id).values(last_seen=now))
    user.auth_session_id = token
    return user


def end_session(token: str) -> None:
    db.session.execute(delete(AuthSession).where(AuthSession.id == _token_id(token)))


def end_all_sessions(user) -> None:
    db.session.execute(delete(AuthSession).where(AuthSession.kind == user.kind, AuthSession.user_id == user.id))


# ----------------------------------------------------------------------------- profile and passwords


def update_profile(patron: Patron, *, email: str | None, whatsapp: str | None, language: str,
                   notify_email: bool, notify_whatsapp: bool, notify_days_before: int, keep_history: bool) -> Patron:
    if email and not valid_email(email):
        raise AccountError("bad_email")
    patron.email = email or None
    patron.whatsapp = normalize_whatsapp(whatsapp)
    patron.language = language if language in current_app.config["LANGUAGES"] else "id"
    patron.notify_email = notify_email
    patron.notify_whatsapp = notify_whatsapp and bool(patron.whatsapp)
    patron.notify_days_before = max(0, min(int(notify_days_before), 14))
    patron.keep_history = keep_history
    db.session.flush()
    return patron


def change_password(user, current: str, new: str, confirm: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("wrong_password")
    if new != confirm:
        raise AccountError("mismatch")
    check_new_password(new)
    user.password_hash = hash_password(new)
    end_all_sessions(user)  # other devices are logged out; the caller starts a fresh session
    db.session.flush()


def request_password_reset(card_or_email: str) -> str | None:
    """Queue a reset e-mail with a one-hour token if the patron has an e-mail address.

    Returns the token (for tests); the page says the same thing whether or not a patron matched.
    """
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from ..mail import queue_email

    value = (card_or_email or "").strip()
    patron = db.session.scalar(select(Patron).where((Patron.card_number == value) | (Patron.email == value)))
    if patron is None or not patron.email:
        return None
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordReset(token_hash=_token_id(token), patron_id=patron.id,
                                 expires_at=utcnow() + timedelta(hours=1)))
    link = absolute_url("accounts.reset_password", token=token)
    with force_locale(patron.language):
        subject = _("Reset your library PIN")
        body = _("Someone asked to reset the PIN of card %(card)s. Open this link within one hour to choose a new one:",
                 card=patron.card_number) + f"\n\n{link}\n\n" + _("If it was not you, ignore this message.")
    queue_email(patron.email, subject, body, kind="password_reset", patron_id=patron.id)
    db.session.flush()
    return token


def reset_password(token: str, new: str, confirm: str) -> Patron:
    row = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _token_id(token or "")))
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise AccountError("bad_token")
    if new != confirm:
        raise AccountError("mismatch")
    check_new_password(new)
    patron = db.session.get(Patron, row.patron_id)
    patron.password_hash = hash_password(new)
    row.used_at = utcnow()
    end_all_sessions(patron)
    db.session.flush()
    return patron
