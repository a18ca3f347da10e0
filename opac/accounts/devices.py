"""Signed-in devices: the login sessions of a patron or staff member with a short description of
the browser, and a notice when someone logs in from a browser not seen before.

A browser is recognised by a long-lived random cookie (HttpOnly, SameSite=Lax) whose SHA-256 is
stored per account in ``known_device``; the cookie says nothing about the person.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..catalog.models import utcnow
from ..dates import format_datetime
from ..extensions import db
from ..mail import queue_email
from ..urls import absolute_url, site_path
from .models import AuthSession, KnownDevice

DEVICE_COOKIE = "opac_device"
DEVICE_COOKIE_DAYS = 2 * 365

_BROWSERS = (("Edg", "Edge"), ("OPR", "Opera"), ("Opera", "Opera"), ("SamsungBrowser", "Samsung Internet"),
             ("UCBrowser", "UC Browser"), ("FxiOS", "Firefox"), ("Firefox", "Firefox"), ("CriOS", "Chrome"),
             ("Chrome", "Chrome"), ("Chromium", "Chromium"), ("Safari", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("CrOS", "ChromeOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"))


def describe_user_agent(ua: str | None) -> str:
    """A short summary of a User-Agent header.

    >>> describe_user_agent("Mozilla/5.0 (Linux; Android 14; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
    ...                     "Chrome/126.0.0.0 Mobile Safari/537.36")
    'Chrome on Android'
    >>> describe_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    ...                     "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
    'Safari on iOS'
    >>> describe_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0")
    'Firefox on Windows'
    >>> describe_user_agent("curl/8.5")
    'Other browser'
    """
    ua = ua or ""
    browser = next((name for token, name in _BROWSERS if re.search(rf"\b{token}/", ua)), None)
    system = next((name for token, name in _SYSTEMS if token in ua), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"Browser on {system}" if system else "Other browser")


def ip_prefix(ip: str | None) -> str:
    """The network part of an address, enough to recognise a place without pinpointing a machine.

    >>> ip_prefix("10.20.30.40")
    '10.20.x.x'
    >>> ip_prefix("2001:db8:85a3:1::7")
    '2001:db8:85a3::/48'
    >>> ip_prefix("unknown")
    '?'
    """
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return "?"
    if addr.version == 4:
        a, b, _c, _d = str(addr).split(".")
        return f"{a}.{b}.x.x"
    return str(ipaddress.ip_network(f"{addr}/48", strict=False))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(token: str) -> str:
    """The primary key of the login session for a cookie token (its SHA-256, as services stores it)."""
    return _hash(token)


def valid_device_token(token: str | None) -> bool:
    return bool(token) and 32 <= len(token) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", token) is not None


def describe_session(session_id: str, user_agent: str | None, ip: str | None) -> None:
    """Store the browser summary and address prefix on a fresh login session."""
    db.session.execute(update(AuthSession).where(AuthSession.id == session_id).values(
        device=describe_user_agent(user_agent)[:80], ip_prefix=ip_prefix(ip)[:48]))


def user_sessions(user) -> list[AuthSession]:
    """The live sessions of ``user``, most recently used first."""
    return db.session.scalars(select(AuthSession).where(AuthSession.kind == user.kind, AuthSession.user_id == user.id)
                              .order_by(AuthSession.last_seen.desc(), AuthSession.created_at.desc())).all()


def end_session_by_ref(user, ref: str) -> bool:
    """End one of ``user``'s own sessions by its public id; False when ``user`` has no such session."""
    result = db.session.execute(delete(AuthSession).where(
        AuthSession.kind == user.kind, AuthSession.user_id == user.id, AuthSession.ref == (ref or "")[:24]))
    return result.rowcount == 1


def end_other_sessions(user, current_session_id: str | None) -> int:
    """Sign out every other device of ``user``; the number of sessions ended."""
    query = delete(AuthSession).where(AuthSession.kind == user.kind, AuthSession.user_id == user.id)
    if current_session_id:
        query = query.where(AuthSession.id != current_session_id)
    return db.session.execute(query).rowcount


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def remember_device(user, device_token: str) -> bool:
    """Record that ``user`` logged in from the browser holding ``device_token``; True when this
    browser was not known for this account (a race between two logins counts it once)."""
    digest = _hash(device_token)
    now = utcnow()
    known = db.session.execute(update(KnownDevice).where(
        KnownDevice.kind == user.kind, KnownDevice.user_id == user.id, KnownDevice.device_hash == digest)
        .values(last_seen=now)).rowcount
    if known:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(KnownDevice(kind=user.kind, user_id=user.id, device_hash=digest, first_seen=now,
                                       last_seen=now))
    except IntegrityError:
        return False
    return True


def notify_new_sign_in(user, device: str, prefix: str) -> None:
    """An in-app notice and, where an address is known, an e-mail about a sign-in from a new
    browser, in the person's language, with the link to sign out the other devices."""
    from .models import StaffNotice

    lang = user.language if user.language in current_app.config["LANGUAGES"] else "id"
    endpoint = "staff.devices" if user.kind == "staff" else "accounts.devices"
    link = absolute_url(endpoint)
    with force_locale(lang):
        when = format_datetime(utcnow(), lang)
        subject = _("A new sign-in to your library account")
        secret_word = _("password") if user.kind == "staff" else _("PIN")
        body = _("Someone signed in to your library account on %(device)s from %(ip)s at %(when)s. "
                 "If this was you, there is nothing to do. If this was not you, sign out all devices "
                 "and change your %(secret)s.", device=device, ip=prefix, when=when, secret=secret_word)
    if user.kind == "staff":
        db.session.add(StaffNotice(staff_id=user.id, subject=subject, body=body))
    else:
        from ..notifications.models import Notification

        db.session.add(Notification(patron_id=user.id, kind="new_sign_in", subject=subject, body=body,
                                    url=site_path(endpoint)))
    if user.email:
        queue_email(user.email, subject, f"{body}\n\n{link}\n\n— {current_app.config['LIBRARY_NAME']}",
                    kind="new_sign_in", patron_id=user.id if user.kind == "patron" else None)
    db.session.flush()
