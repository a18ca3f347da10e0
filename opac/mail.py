"""Outgoing e-mail: the outbox table (a queue staff can read) and the SMTP transport.

Messages are queued in the transaction of the change they report (``queue_email``) and sent by
`flask --app opac worker` (``opac.outbound``); without ``MAIL_SERVER`` they stay in the outbox
(development). Headers never carry user-supplied line breaks."""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .catalog.models import utcnow
from .extensions import db
from .outbound import DeliveryFailed, QueuedMessage

log = logging.getLogger(__name__)
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class OutboxEmail(QueuedMessage, db.Model):
    """E-mail to send (SMTP when configured) and the development outbox staff can read."""

    __tablename__ = "outbox_email"
    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), default="notice")
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="SET NULL"))
    whatsapp: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
def valid_email(value: str | None) -> bool:
    return bool(value) and len(value) <= 254 and EMAIL_RE.match(value) is not None


def header_safe(value: str) -> str:
    """One line: CR, LF and other control characters removed (no header injection)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value or "").strip()[:300]


def queue_email(to: str, subject: str, body: str, *, kind: str = "notice", patron_id: int | None = None,
                whatsapp: str | None = None):
    """Add a message to the outbox (same transaction as the change it reports)."""
    if not valid_email(to):
        return None
    msg = OutboxEmail(to=header_safe(to), subject=header_safe(subject), body=body, kind=kind, patron_id=patron_id,
                      whatsapp=whatsapp)
    db.session.add(msg)
    return msg


class SmtpSender:
    """Sends outbox rows over one SMTP connection, opened at the first message and kept for the batch."""

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = current_app.config
        try:
            smtp = smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg["MAIL_PORT"]),
                                timeout=float(cfg["MAIL_TIMEOUT"]))
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP server unavailable: {exc}", stop=True) from exc
        return smtp

    def __call__(self, row: OutboxEmail) -> None:
        cfg = current_app.config
        m = EmailMessage()
        m["From"] = formataddr((header_safe(cfg["LIBRARY_NAME"]), cfg["MAIL_FROM"]))
        m["To"] = header_safe(row.to)
        m["Subject"] = header_safe(row.subject)
        # a stable id: a receiving server can tell a resend after a crash from a new message
        m["Message-ID"] = f"<outbox-{row.id}@{urlsplit(cfg['BASE_URL']).hostname or 'localhost'}>"
        m.set_content(row.body)
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            refused = self.smtp.send_message(m)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            raise DeliveryFailed(f"recipient refused: {exc.recipients}",
                                 permanent=all(code >= 500 for code in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            # 5xx: the server will never take this message; 4xx: try again later
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryFailed(f"SMTP error: {exc}", stop=True) from exc
        if refused:
            raise DeliveryFailed(f"recipient refused: {refused}", permanent=True)

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.smtp = None


def whatsapp_link(number: str | None, text: str) -> str | None:
    """A click-to-chat link (wa.me) prefilled with ``text``; Indonesian 08… numbers become 628…."""
    from urllib.parse import quote

    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    if len(digits) < 8:
        return None
    return f"https://wa.me/{digits}?text={quote(text)}"
