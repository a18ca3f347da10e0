"""Ask a librarian: questions as private threads, their messages, FAQ entries, canned replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.models import utcnow
from ..extensions import db

CATEGORIES = ("finding", "research", "account", "facilities", "other")
STATUSES = ("received", "answered", "closed")
CHANNELS = ("app", "email", "whatsapp")


class Question(db.Model):
    """A patron's question; a private thread visible only to the asker and staff."""

    __tablename__ = "question"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: capability for anonymous askers: the thread link carries it (32 random bytes)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    patron_id: Mapped[int | None] = mapped_column(ForeignKey("patron.id", ondelete="SET NULL"), index=True)
    category: Mapped[str] = mapped_column(String(16), default="other")
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    whatsapp: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(10), default="app")
    language: Mapped[str] = mapped_column(String(8), default="id")
    status: Mapped[str] = mapped_column(String(10), default="received", index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_reply_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    #: personal data removed after the retention period (the thread's text is redacted too)
    purged_at: Mapped[datetime | None] = mapped_column()

    messages: Mapped[list[Message]] = relationship(back_populates="question", order_by="Message.id",
                                                   cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"category IN {CATEGORIES!r}", name="category"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),
    )

    @property
    def first_text(self) -> str:
        return self.messages[0].body if self.messages else ""


class Message(db.Model):
    __tablename__ = "question_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    #: "patron" (plain text, escaped on output) or "staff" (sanitised HTML)
    author_kind: Mapped[str] = mapped_column(String(8))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: internal notes are seen by staff only
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="messages")

    __table_args__ = (CheckConstraint("author_kind IN ('patron', 'staff')", name="author_kind"),)


class FaqEntry(db.Model):
    __tablename__ = "faq_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(16), default="other")
    question: Mapped[str] = mapped_column(Text)
    #: sanitised HTML
    answer: Mapped[str] = mapped_column(Text)
    #: extra words patrons use for this question (synonyms, English/Indonesian), for matching
    keywords: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    helpful_count: Mapped[int] = mapped_column(default=0)
    source_question_id: Mapped[int | None] = mapped_column(ForeignKey("question.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_faq_published_order", "published", "category", "position"),)


class FaqHelpful(db.Model):
    """'This answered my question', one row per click (statistics over time)."""

    __tablename__ = "faq_helpful"
    id: Mapped[int] = mapped_column(primary_key=True)
    faq_id: Mapped[int] = mapped_column(ForeignKey("faq_entry.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedReply(db.Model):
    __tablename__ = "canned_reply"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
