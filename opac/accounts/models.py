"""Patrons, patron categories, staff, login sessions and throttles."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import utcnow
from ..extensions import db

STAFF_ROLES = ("librarian", "admin")


def new_session_ref() -> str:
    """A random public id for a login session (what the devices pages and the API refer to)."""
    return secrets.token_urlsafe(12)


class PatronCategory(db.Model):
    """Student, lecturer, staff, public, …: circulation rules are set per category."""

    __tablename__ = "patron_category"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    card_years: Mapped[int] = mapped_column(default=1)


class Patron(UserMixin, db.Model):
    """A library member who logs in with card number and PIN/password."""

    __tablename__ = "patron"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    category_id: Mapped[int] = mapped_column(ForeignKey("patron_category.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    whatsapp: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="id")
    expires_on: Mapped[date | None] = mapped_column()
    blocked: Mapped[bool] = mapped_column(default=False)
    block_note: Mapped[str | None] = mapped_column(Text)
    notify_email: Mapped[bool] = mapped_column(default=True)
    notify_whatsapp: Mapped[bool] = mapped_column(default=False)
    notify_days_before: Mapped[int] = mapped_column(default=2)
    #: Loan history is kept only when the patron opts in (privacy by default).
    keep_history: Mapped[bool] = mapped_column(default=False)
    home_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    category: Mapped[PatronCategory] = relationship(lazy="joined")

    kind = "patron"
    auth_session_id = None  # the login session this object was loaded for (not a column)
    auth_remember = False  # whether that session was "keep me signed in" (not a column)

    def get_id(self) -> str:  # Flask-Login stores the login session, not the patron id
        return self.auth_session_id or ""

    @property
    def is_staff(self) -> bool:
        return False

    def card_expired(self, today: date) -> bool:
        return self.expires_on is not None and self.expires_on < today

    def __repr__(self) -> str:
        return f"<Patron {self.id}>"


class StaffUser(UserMixin, db.Model):
    """Library staff, separate from patron cards."""

    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="librarian")
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str] = mapped_column(String(8), default="id")
    desk_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint(f"role IN {STAFF_ROLES!r}", name="role"),)

    kind = "staff"
    auth_session_id = None  # the login session this object was loaded for (not a column)
    auth_remember = False  # whether that session was "keep me signed in" (not a column)

    def get_id(self) -> str:
        return self.auth_session_id or ""

    @property
    def is_staff(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active


class AuthSession(db.Model):
    """A server-side login session: logout deletes it, so a copied cookie stops working."""

    __tablename__ = "auth_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    # device information shown on the "Signed-in devices" pages (twofa migration)
    #: public id used in URLs (the primary key is the cookie token's hash and stays private)
    ref: Mapped[str | None] = mapped_column(String(24), unique=True, default=new_session_ref)
    #: short user-agent summary, e.g. "Chrome on Android"
    device: Mapped[str | None] = mapped_column(String(80))
    #: the client address with its host part hidden, e.g. "10.20.x.x"
    ip_prefix: Mapped[str | None] = mapped_column(String(48))
    #: "Keep me signed in on this device": a persistent cookie and the long idle timeout (patrons only).
    remember: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index("ix_auth_session_user", "kind", "user_id"),)


class LoginThrottle(db.Model):
    """Login attempts per account and per IP within a window, shared by all workers."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)


class PasswordReset(db.Model):
    __tablename__ = "password_reset"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class SavedRecord(db.Model):
    """A record on a patron's saved list (the device keeps its own copy and syncs)."""

    __tablename__ = "saved_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("record.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_saved_patron_record", "patron_id", "record_id", unique=True),)


class PushSubscription(db.Model):
    """A device that opted in to Web Push notices (hold ready, due soon)."""

    __tablename__ = "push_subscription"
    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patron.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnownDevice(db.Model):
    """A browser a patron or staff member has logged in from (the hash of its long-lived device
    cookie): a login from a browser not in this table sends a "new sign-in" notice."""

    __tablename__ = "known_device"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column()
    device_hash: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_known_device", "kind", "user_id", "device_hash", unique=True),)


class StaffTwoFactor(db.Model):
    """A staff member's TOTP authenticator: the secret encrypted, the last time step used (no replay)."""

    __tablename__ = "staff_two_factor"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    #: None while enrolment waits for the first valid code
    confirmed_at: Mapped[datetime | None] = mapped_column()
    last_step: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffRecoveryCode(db.Model):
    """A single-use recovery code (Argon2 hash, like passwords)."""

    __tablename__ = "staff_recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column()


class StaffNotice(db.Model):
    """An in-app security notice for a staff member (e.g. a sign-in from a new device)."""

    __tablename__ = "staff_notice"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()


REGISTRATION_STATUSES = ("unverified", "pending", "approved", "rejected")


class Registration(db.Model):
    """Someone joining the library online: unverified until the e-mailed link is opened, then a
    patron (at once, or after staff approval). Only the link token's hash is stored."""

    __tablename__ = "registration"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    whatsapp: Mapped[str | None] = mapped_column(String(32))
    pin_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="id")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="unverified")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    verified_at: Mapped[datetime | None] = mapped_column()
    consent_at: Mapped[datetime] = mapped_column(default=utcnow)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="SET NULL"), unique=True)

    patron: Mapped[Patron | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"status IN {REGISTRATION_STATUSES!r}", name="status"),
        # one sign-up in progress per address, whatever its case: two at once cannot both become members
        Index("uq_registration_open_email", text("lower(email)"), unique=True,
              sqlite_where=text("status IN ('unverified', 'pending')"),
              postgresql_where=text("status IN ('unverified', 'pending')")),
    )
