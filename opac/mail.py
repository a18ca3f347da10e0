"""Outgoing e-mail: always written to the outbox table first (staff can read it); sent over SMTP
when ``MAIL_SERVER`` is set. Headers never carry user-supplied line breaks."""

from __future__ import annotations

import logging
import re
import smtplib
from email.message import EmailMessage
from email.utils import formataddr

from flask import current_app
from sqlalchemy import select

from .catalog.models import utcnow
from .extensions import db

log = logging.getLogger(__name__)
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def valid_email(value: str | None) -> bool:
    return bool(value) and len(value) <= 254 and EMAIL_RE.match(value) is not None


def header_safe(value: str) -> str:
    """One line: CR, LF and other control characters removed (no header injection)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value or "").strip()[:300]


def queue_email(to: str, subject: str, body: str, *, kind: str = "notice", patron_id: int | None = None,
                whatsapp: str | None = None):
    """Add a message to the outbox (same transaction as the change it reports)."""
    from .circulation.models import OutboxEmail

    if not valid_email(to):
        return None
    msg = OutboxEmail(to=header_safe(to), subject=header_safe(subject), body=body, kind=kind, patron_id=patron_id,
                      whatsapp=whatsapp)
    db.session.add(msg)
    return msg


def send_pending(limit: int = 200) -> int:
    """Send queued messages over SMTP (no-op without MAIL_SERVER: the outbox is the mailbox)."""
    from .circulation.models import OutboxEmail

    cfg = current_app.config
    if not cfg["MAIL_SERVER"]:
        return 0
    sent = 0
    rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.error.is_(None))
                              .order_by(OutboxEmail.id).limit(limit)).all()
    if not rows:
        return 0
    try:
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]), timeout=20)
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("SMTP unavailable: %s", exc)
        return 0
    with smtp:
        for row in rows:
            m = EmailMessage()
            m["From"] = formataddr((header_safe(cfg["LIBRARY_NAME"]), cfg["MAIL_FROM"]))
            m["To"] = header_safe(row.to)
            m["Subject"] = header_safe(row.subject)
            m.set_content(row.body)
            try:
                smtp.send_message(m)
                row.sent_at = utcnow()
                sent += 1
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                row.error = str(exc)[:500]
    return sent


def whatsapp_link(number: str | None, text: str) -> str | None:
    """A click-to-chat link (wa.me) prefilled with ``text``; Indonesian 08… numbers become 628…."""
    from urllib.parse import quote

    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if len(digits) < 8:
        return None
    return f"https://wa.me/{digits}?text={quote(text)}"
