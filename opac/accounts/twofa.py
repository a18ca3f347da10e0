"""Staff two-factor authentication: TOTP (RFC 6238, ``pyotp``) and single-use recovery codes.

The TOTP secret is stored encrypted (Fernet, key derived from ``SECRET_KEY``), shown only while
enrolling, and never logged. A code is accepted once: the time step it matched is stored and a
code of that step or an earlier one is refused (the update is atomic, so two workers cannot both
accept it). Recovery codes are stored as Argon2 hashes, like passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from ..catalog.models import utcnow
from ..extensions import db
from .models import StaffRecoveryCode, StaffTwoFactor, StaffUser
from .services import AccountError, verify_password

RECOVERY_CODES = 10
#: codes one step before or after the current one are accepted (clock drift of up to 30 s)
DRIFT_STEPS = 1
INTERVAL = 30
#: Argon2id for recovery codes: 80 random bits need no slow hash against guessing, so lighter
#: parameters than passwords keep enrolment and a recovery login quick (ten hashes each).
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)

AccountError.messages.update({
    "bad_code": _l("The code is not correct or was already used. Type the current 6-digit code from your app, "
                   "or one of your recovery codes."),
    "twofa_active": _l("Two-step verification is already on. Turn it off first to set up a new app."),
    "twofa_off": _l("Two-step verification is not on for this account."),
    "no_enrolment": _l("Start the set-up again: no new authenticator is waiting for confirmation."),
})


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"opac-staff-totp", info=b"totp-secret").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        current_app.logger.warning("a staff TOTP secret cannot be decrypted (was SECRET_KEY changed?)")
        return None


def required_for(staff: StaffUser) -> bool:
    """Admins always need two factors; librarians when ``STAFF_2FA_REQUIRED`` is set."""
    return staff.role == "admin" or bool(current_app.config["STAFF_2FA_REQUIRED"])


def authenticator(staff: StaffUser) -> StaffTwoFactor | None:
    return db.session.get(StaffTwoFactor, staff.id)


def is_enabled(staff: StaffUser) -> bool:
    row = authenticator(staff)
    return row is not None and row.confirmed_at is not None


def begin_enrolment(staff: StaffUser) -> str:
    """A new secret waiting for its first code (replaces an earlier unconfirmed one); returns it."""
    row = authenticator(staff)
    if row is not None and row.confirmed_at is not None:
        raise AccountError("twofa_active")
    secret = pyotp.random_base32()
    if row is None:
        db.session.add(StaffTwoFactor(staff_id=staff.id, secret_encrypted=_encrypt(secret)))
    else:
        row.secret_encrypted, row.last_step, row.created_at = _encrypt(secret), None, utcnow()
    db.session.flush()
    return secret


def pending_secret(staff: StaffUser) -> str | None:
    """The secret of an enrolment not yet confirmed (to draw its QR code), else None."""
    row = authenticator(staff)
    if row is None or row.confirmed_at is not None:
        return None
    return _decrypt(row.secret_encrypted)


def provisioning_uri(staff: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(
        name=staff.username, issuer_name=current_app.config["LIBRARY_NAME"])


def _matching_step(secret: str, code: str, now: float) -> int | None:
    code = "".join(ch for ch in code or "" if not ch.isspace())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = int(now // INTERVAL)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _use_step(row: StaffTwoFactor, step: int) -> bool:
    """Atomically record ``step`` as used; False when it (or a later one) was used already."""
    result = db.session.execute(update(StaffTwoFactor).where(
        StaffTwoFactor.staff_id == row.staff_id,
        (StaffTwoFactor.last_step.is_(None)) | (StaffTwoFactor.last_step < step)).values(last_step=step))
    db.session.expire(row, ["last_step"])
    return result.rowcount == 1


def _new_recovery_codes(staff: StaffUser) -> list[str]:
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 16 characters, 80 bits
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:12]}-{raw[12:16]}"
        codes.append(code)
        db.session.add(StaffRecoveryCode(staff_id=staff.id, code_hash=_code_hasher.hash(_normal_recovery(code))))
    db.session.flush()
    return codes


def _code_matches(stored: str, code: str) -> bool:
    try:
        return _code_hasher.verify(stored, code)
    except (VerificationError, InvalidHashError):
        return False


def _normal_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def confirm_enrolment(staff: StaffUser, code: str, *, now: float | None = None) -> list[str]:
    """The first valid code switches two-factor authentication on; returns the recovery codes
    (shown once, stored hashed)."""
    row = authenticator(staff)
    if row is None or row.confirmed_at is not None:
        raise AccountError("no_enrolment")
    secret = _decrypt(row.secret_encrypted)
    step = _matching_step(secret, code, time.time() if now is None else now) if secret else None
    if step is None or not _use_step(row, step):
        raise AccountError("bad_code")
    row.confirmed_at = utcnow()
    codes = _new_recovery_codes(staff)
    db.session.flush()
    return codes


def verify_second_factor(staff: StaffUser, code: str, *, now: float | None = None) -> str:
    """Check a TOTP code (never twice in its window) or an unused recovery code (then spent).

    Returns "totp" or "recovery"; raises ``AccountError("bad_code")`` otherwise.
    """
    row = authenticator(staff)
    if row is None or row.confirmed_at is None:
        raise AccountError("twofa_off")
    secret = _decrypt(row.secret_encrypted)
    step = _matching_step(secret, code, time.time() if now is None else now) if secret else None
    if step is not None:
        if _use_step(row, step):
            return "totp"
        raise AccountError("bad_code")
    normal = _normal_recovery(code)
    if len(normal) == 16:
        for rc in db.session.scalars(select(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id,
                                                                      StaffRecoveryCode.used_at.is_(None))).all():
            if _code_matches(rc.code_hash, normal):
                spent = db.session.execute(update(StaffRecoveryCode).where(
                    StaffRecoveryCode.id == rc.id, StaffRecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
                if spent.rowcount == 1:
                    return "recovery"
    raise AccountError("bad_code")


def recovery_codes_left(staff: StaffUser) -> int:
    return db.session.scalar(select(func.count()).select_from(StaffRecoveryCode).where(
        StaffRecoveryCode.staff_id == staff.id, StaffRecoveryCode.used_at.is_(None))) or 0


def _check_password_and_code(staff: StaffUser, password: str, code: str) -> None:
    if not verify_password(staff.password_hash, password):
        raise AccountError("wrong_password")
    verify_second_factor(staff, code)


def disable(staff: StaffUser, password: str, code: str) -> None:
    """Switch two-factor authentication off (password and a current code or recovery code)."""
    _check_password_and_code(staff, password, code)
    reset(staff)


def regenerate_recovery_codes(staff: StaffUser, password: str, code: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working)."""
    _check_password_and_code(staff, password, code)
    return _new_recovery_codes(staff)


def reset(staff: StaffUser) -> None:
    """Remove the authenticator and recovery codes (``staff reset-2fa`` for a locked-out member)."""
    db.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.staff_id == staff.id))
    db.session.execute(delete(StaffTwoFactor).where(StaffTwoFactor.staff_id == staff.id))
    db.session.flush()


def pending_login_digest(staff: StaffUser) -> str:
    """Binds a half-finished login to the password it was made with: changing the password
    (or a reset) voids it."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{staff.id}:{staff.password_hash}".encode(), hashlib.sha256).hexdigest()[:32]
