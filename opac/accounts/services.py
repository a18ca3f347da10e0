"""Accounts: patrons and staff, Argon2id passwords, login sessions, throttling, password reset."""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import re
import secrets
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, text, update

from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from ..mail import valid_email
from ..urls import absolute_url
from .credentials import CredentialRefused, check_pin, check_staff_password
from .models import STAFF_ROLES, AuthSession, PasswordReset, Patron, PatronCategory, StaffUser

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters

DEFAULT_CATEGORIES = (
    ("student", "Student", 1), ("lecturer", "Lecturer", 3), ("staff", "University staff", 3),
    ("public", "Member of the public", 1),
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
        "pin_format": _l("The PIN must be %(min)s to %(max)s digits."),
        "pin_trivial": _l("This PIN is too easy to guess (one digit repeated, a run such as 1234 or 4321, or part "
                          "of the card number). Choose another."),
        "password_short": _l("The password must have at least %(min)s characters."),
        "password_long": _l("The password must have at most %(max)s characters."),
        "password_common": _l("This password is too common and easy to guess. Choose another, for example a few "
                              "unrelated words."),
        "password_username": _l("The password must not contain the user name."),
        "wrong_password": _l("The current PIN or password is not correct."),
        "mismatch": _l("The two new passwords are not the same."),
        "bad_email": _l("This e-mail address does not look right."),
        "bad_whatsapp": _l("Type the WhatsApp number with digits only, for example 081234567890."),
        "duplicate_card": _l("Card %(card)s already exists."),
        "unknown_category": _l("Unknown patron category %(category)s."),
        "bad_token": _l("This password reset link is invalid or has expired."),
        "bad_role": _l("Unknown staff role."),
        "unknown_card": _l("No patron has the card number %(card)s."),
    }


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """What an unknown account is checked against (the same work as a real check). Made on first
    use, not at import: each process (commands, gunicorn workers) starts one hash sooner."""
    return _hasher.hash("not-a-real-password")


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return False


def check_new_secret(kind: str, value: str, *, card: str = "", username: str = "") -> None:
    """A new patron PIN or staff password must follow the credential rules (credentials.py)."""
    try:
        if kind == "staff":
            check_staff_password(value, username)
        else:
            check_pin(value, card)
    except CredentialRefused as exc:
        raise AccountError(exc.reason, **exc.values) from None


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
    check_new_secret("patron", pin, card=card)
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
    check_new_secret("staff", password, username=username.strip())
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


def start_session(user, *, remember: bool = False) -> str:
    """A new server-side session for ``user``; returns the cookie token (only its hash is stored).

    ``remember`` ("keep me signed in on this device") is for patrons only: it lengthens the idle
    timeout, never the absolute lifetime.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    remember = bool(remember) and user.kind == "patron"
    db.session.add(AuthSession(id=_token_id(token), kind=user.kind, user_id=user.id, created_at=now, last_seen=now,
                               remember=remember))
    db.session.flush()
    user.auth_session_id = token
    user.auth_remember = remember
    return token


def session_limits(kind: str, remember: bool) -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute lifetime) of a login session, from the configuration."""
    cfg = current_app.config
    if kind == "staff":
        return timedelta(hours=cfg["STAFF_SESSION_IDLE_HOURS"]), timedelta(hours=cfg["STAFF_SESSION_MAX_HOURS"])
    idle = cfg["PATRON_REMEMBER_IDLE_HOURS"] if remember else cfg["PATRON_SESSION_IDLE_HOURS"]
    return timedelta(hours=idle), timedelta(hours=cfg["PATRON_SESSION_MAX_HOURS"])


def load_session_user(token: str):
    """The patron or staff member of a live session token, or None (logged out, idle too long, past
    its absolute lifetime, unknown). Expired rows are deleted."""
    if not token:
        return None
    row = db.session.get(AuthSession, _token_id(token))
    if row is None:
        return None
    idle, absolute = session_limits(row.kind, row.remember)
    now = utcnow()
    table = AuthSession.__table__
    if now - row.last_seen > idle or now - row.created_at > absolute:
        # session bookkeeping on its own short connection (the request may only read)
        with db.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.id == row.id))
        return None
    model = StaffUser if row.kind == "staff" else Patron
    user = db.session.get(model, row.user_id)
    if user is None or (row.kind == "staff" and not user.active):
        return None
    if now - row.last_seen > min(timedelta(minutes=10), idle / 10):
        # session bookkeeping in its own short write, so reading pages keeps a login alive
        from ..db import short_write

        with short_write() as conn:
            conn.execute(AuthSession.__table__.update().where(AuthSession.id == row.id).values(last_seen=now))
    user.auth_session_id = token
    user.auth_remember = row.remember
    return user


def end_session(token: str) -> None:
    db.session.execute(delete(AuthSession).where(AuthSession.id == _token_id(token)))


def _logout_mac(session_id: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"logout:" + session_id.encode(), hashlib.sha256).hexdigest()


def logout_token(user) -> str | None:
    """A value naming ``user``'s current login session, so that a logout queued offline and sent
    later ends that session and no other (not the next patron's on the same phone). It can only
    end its own session: it is no credential. ``None`` when the user has no session."""
    token = getattr(user, "auth_session_id", None)
    if not token:
        return None
    return f"{user.kind}.{user.id}.{_logout_mac(_token_id(token))}"


def end_session_by_logout_token(value: str) -> bool:
    """End the session a :func:`logout_token` names, if it is still live; False when the value
    names none (forged, already ended or expired). Other sessions of the same user stay."""
    parts = (value or "").split(".")
    if len(parts) != 3 or parts[0] not in ("patron", "staff") or not parts[1].isdigit() or len(parts[2]) != 64:
        return False
    kind, user_id, mac = parts[0], int(parts[1]), parts[2]
    if user_id >= 2**31:
        return False
    ids = db.session.scalars(select(AuthSession.id).where(AuthSession.kind == kind, AuthSession.user_id == user_id)).all()
    match = [sid for sid in ids if hmac.compare_digest(_logout_mac(sid), mac)]
    if not match:
        return False
    db.session.execute(delete(AuthSession).where(AuthSession.id.in_(match)))
    return True


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


def change_password(user, current: str, new: str, confirm: str, *, ip: str) -> None:
    """Change the PIN/password after checking the current one, which is throttled like a login
    (the same per-account and per-IP counters: the change form is no unlimited guessing oracle)."""
    if new != confirm:
        raise AccountError("mismatch")
    check_new_secret(user.kind, new, card=getattr(user, "card_number", ""), username=getattr(user, "username", ""))
    name = user.card_number if user.kind == "patron" else user.username
    keys = throttle_keys(name, ip, user.kind)
    reserve_attempt(keys)
    if not verify_password(user.password_hash, current):
        raise AccountError("wrong_password")
    release_attempt(keys)
    user.password_hash = hash_password(new)
    end_all_sessions(user)  # other devices are logged out; the caller starts a fresh session
    db.session.flush()


def request_password_reset(card_or_email: str, *, ip: str) -> str | None:
    """Queue a reset e-mail with a one-hour token if the patron has an e-mail address.

    The newest link is the only one that works (older unused ones are dropped). At most
    RESET_MAX_PER_ACCOUNT mails per patron and RESET_MAX_PER_IP requests per client address in
    RESET_WINDOW_SECONDS; past the patron's limit nothing is sent but the answer is the same, so it
    never tells whether a card or address exists. Returns the token (for tests).
    """
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from ..mail import queue_email

    cfg = current_app.config
    window = timedelta(seconds=int(cfg["RESET_WINDOW_SECONDS"]))
    now = utcnow()
    if _bump(f"reset-ip:{ip}", now, window) > int(cfg["RESET_MAX_PER_IP"]):
        raise AccountError("throttled", minutes=max(1, int(window.total_seconds() // 60)))
    value = (card_or_email or "").strip()
    if not value:
        return None
    patron = db.session.scalar(select(Patron).where((Patron.card_number == value) | (Patron.email == value)))
    if patron is None or not patron.email:
        return None
    if _bump(f"reset:{patron.id}", now, window) > int(cfg["RESET_MAX_PER_ACCOUNT"]):
        return None
    db.session.execute(delete(PasswordReset).where(PasswordReset.patron_id == patron.id,
                                                   PasswordReset.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordReset(token_hash=_token_id(token), patron_id=patron.id, expires_at=now + timedelta(hours=1)))
    link = absolute_url("accounts.reset_password", token=token)
    with force_locale(patron.language):
        subject = _("Reset your library PIN")
        body = _("Someone asked to reset the PIN of card %(card)s. Open this link within one hour to choose a new one:",
                 card=patron.card_number) + f"\n\n{link}\n\n" + _("If it was not you, ignore this message.")
    queue_email(patron.email, subject, body, kind="password_reset", patron_id=patron.id)
    db.session.flush()
    return token


def reset_password(token: str, new: str, confirm: str) -> Patron:
    """Set a new PIN with a reset token; the token (and every other of the patron's) is then spent."""
    row = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _token_id(token or "")))
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at < now:
        raise AccountError("bad_token")
    if new != confirm:
        raise AccountError("mismatch")
    patron = db.session.get(Patron, row.patron_id)
    check_new_secret("patron", new, card=patron.card_number)
    # claimed atomically: two requests racing with one token cannot both succeed
    claimed = db.session.execute(update(PasswordReset).where(PasswordReset.id == row.id, PasswordReset.used_at.is_(None))
                                 .values(used_at=now)).rowcount
    if claimed != 1:
        raise AccountError("bad_token")
    db.session.execute(delete(PasswordReset).where(PasswordReset.patron_id == patron.id, PasswordReset.id != row.id))
    patron.password_hash = hash_password(new)
    end_all_sessions(patron)
    db.session.flush()
    return patron


# ----------------------------------------------------------------------------- staff accounts (admins)

AccountError.messages.update({
    "bad_username": _l("A user name has 2 to 64 letters, digits, dots, dashes or underscores."),
    "duplicate_staff": _l("The user name %(username)s is already taken."),
    "missing_name": _l("Type the staff member's name."),
    "not_yourself": _l("You cannot disable your own account."),
    "unknown_staff": _l("No such staff account."),
})


def create_staff_account(username: str, password: str, name: str, role: str = "librarian",
                         email: str | None = None) -> StaffUser:
    """A new staff account from the admins' page: checked user name, name, e-mail and password rules."""
    from sqlalchemy.exc import IntegrityError

    username = (username or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{2,64}", username):
        raise AccountError("bad_username")
    if not (name or "").strip():
        raise AccountError("missing_name")
    if email and not valid_email(email):
        raise AccountError("bad_email")
    if db.session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise AccountError("duplicate_staff", username=username)
    try:
        with db.session.begin_nested():
            return create_staff(username, password, name, role, email)
    except IntegrityError:
        raise AccountError("duplicate_staff", username=username) from None


def disable_staff_account(staff_id: int, *, by: StaffUser) -> StaffUser:
    """Disable a staff account and end all its sessions (an admin cannot disable themself)."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise AccountError("unknown_staff")
    if staff.id == by.id:
        raise AccountError("not_yourself")
    staff.active = False
    end_all_sessions(staff)
    db.session.flush()
    return staff


#: password_hash of a patron imported from another system whose PIN could not move: no PIN
#: matches it (it is not an Argon2 hash), so the patron sets one through the reset link or at the desk.
UNUSABLE_PASSWORD = "!no-pin-yet"  # noqa: S105 - a marker, not a secret


def upsert_imported_patron(card: str, name: str, category: PatronCategory, *, email: str | None,
                           whatsapp: str | None, expires_on: date | None) -> tuple[Patron, str]:
    """Create or update the patron with ``card`` from a migration; returns (patron, outcome).

    Outcome is ``imported``, ``updated`` or ``unchanged``. A new patron gets no usable PIN; an
    existing patron keeps the PIN and settings they chose here. Invalid e-mail/WhatsApp values
    raise AccountError (the caller reports and drops them).
    """
    card = card.strip()
    if email and not valid_email(email):
        raise AccountError("bad_email")
    values = {"name": name.strip(), "category_id": category.id, "email": email or None,
              "whatsapp": normalize_whatsapp(whatsapp), "expires_on": expires_on}
    patron = db.session.scalar(select(Patron).where(Patron.card_number == card))
    if patron is None:
        patron = Patron(card_number=card, password_hash=UNUSABLE_PASSWORD, **values)
        db.session.add(patron)
        db.session.flush()
        return patron, "imported"
    changed = False
    for key, value in values.items():
        if getattr(patron, key) != value:
            setattr(patron, key, value)
            changed = True
    db.session.flush()
    return patron, "updated" if changed else "unchanged"


def set_patron_pin(card: str, pin: str) -> Patron:
    """Staff set a new PIN for a patron at the desk (e.g. a migrated patron without e-mail); the
    credential rules apply and the patron's sessions end."""
    patron = db.session.scalar(select(Patron).where(Patron.card_number == (card or "").strip()))
    if patron is None:
        raise AccountError("unknown_card", card=card)
    check_new_secret("patron", pin, card=patron.card_number)
    patron.password_hash = hash_password(pin)
    end_all_sessions(patron)
    db.session.flush()
    return patron
