"""Ask a librarian: asking (with spam defences), threads, staff replies, FAQ matching, retention."""

from __future__ import annotations

import re
import secrets
import statistics
import threading
from collections import Counter
from datetime import timedelta

import nh3
from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup, escape
from sqlalchemy import func, select

from ..accounts.services import _bump, normalize_whatsapp
from ..catalog.models import utcnow
from ..errors import DomainError
from ..extensions import db
from ..mail import queue_email, valid_email, whatsapp_link
from ..notifications.models import Notification
from ..search.analysis import STOP_WORDS, stem_en, stem_id, words
from ..search.scoring import idf, length_norm, saturate
from ..urls import absolute_url, site_path
from .models import CATEGORIES, CHANNELS, CannedReply, FaqEntry, FaqHelpful, Message, Question

CATEGORY_LABELS = {
    "finding": _l("Finding materials"), "research": _l("Research help"), "account": _l("My account and loans"),
    "facilities": _l("Facilities and services"), "other": _l("Other"),
}
CHANNEL_LABELS = {"app": _l("reply in the app"), "email": _l("reply by e-mail"), "whatsapp": _l("reply on WhatsApp")}
STATUS_LABELS = {"received": _l("Received"), "answered": _l("Answered"), "closed": _l("Closed")}
ALLOWED_TAGS = {"a", "p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "blockquote"}


class AskRefused(DomainError):
    messages = {
        "too_short": _l("Please describe your question in at least %(min)s characters."),
        "too_long": _l("Please keep your question under %(max)s characters."),
        "need_contact": _l("Give an e-mail address or a WhatsApp number so we can reply that way."),
        "bad_email": _l("This e-mail address does not look right."),
        "bad_whatsapp": _l("Type the WhatsApp number with digits only, for example 081234567890."),
        "rate_limited": _l("You have sent several questions in a short time. Please wait an hour, or ask at the desk."),
        "expired_form": _l("The form was open too long. Please send your question again."),
        "closed": _l("This question is closed. Ask a new question if you need more help."),
        "empty_reply": _l("Write a reply first."),
    }


# ----------------------------------------------------------------------------- text


def sanitize_html(html: str) -> str:
    """Staff rich text: links, lists, emphasis; everything else removed (no script, no style)."""
    text = html or ""
    if "<" not in text:  # plain text: keep the paragraphs and line breaks the librarian typed
        paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        text = "".join("<p>" + str(escape(p)).replace("\n", "<br>") + "</p>" for p in paras)
    return _clean(link_record_paths(_clean(text)))  # links made in clean HTML, then cleaned as the rest


def _clean(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


_RECORD_PATH = re.compile(r"(?<![\w/.:#?=&-])/record/([1-9][0-9]{0,9})\b(?!/)")


def link_record_paths(html: str) -> str:
    """``/record/123`` written in a reply's text (not already in a link) becomes a link to that
    record of this catalogue; nothing else is linked (other paths, other sites).

    >>> link_record_paths("<p>Lihat /record/12, bukan /record/x atau https://a.example/record/3</p>")
    '<p>Lihat <a href="/record/12">/record/12</a>, bukan /record/x atau https://a.example/record/3</p>'
    >>> link_record_paths('<p><a href="/record/5">/record/5</a> /record/6/marc</p>')
    '<p><a href="/record/5">/record/5</a> /record/6/marc</p>'
    """
    out, in_link = [], 0
    for part in re.split(r"(<[^>]*>)", html):
        if part.startswith("<"):
            tag = part[1:].lstrip("/").split(None, 1)[0].rstrip(">").lower() if len(part) > 2 else ""
            if tag == "a":
                in_link += -1 if part.startswith("</") else 1
            out.append(part)
        elif in_link > 0:
            out.append(part)
        else:
            out.append(_RECORD_PATH.sub(lambda m: f'<a href="{_record_path(int(m.group(1)))}">{m.group(0)}</a>', part))
    return "".join(out)


def _record_path(record_id: int) -> str:
    from flask import has_app_context

    return site_path("catalog.record", record_id=record_id) if has_app_context() else f"/record/{record_id}"


def safe_html(html: str) -> Markup:
    """Mark stored staff HTML as safe for templates (it was sanitised before storing; sanitised again)."""
    return Markup(sanitize_html(html))  # noqa: S704 - nh3 allowlist output


def plain_text(html: str) -> str:
    return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", lambda m: "\n" if m.group(0) in ("<br>", "</p>", "</li>") else "",
                                       html or "")).strip()


# ----------------------------------------------------------------------------- FAQ matching


def _terms(text: str) -> list[str]:
    out = []
    for w in words(text):
        if w in STOP_WORDS or len(w) < 2:
            continue
        out.append(w)
        for s in {stem_id(w), stem_en(w)}:
            if s != w:
                out.append("_" + s)
    return out


class FaqMatcher:
    """BM25 over the published FAQ (question ×3, keywords ×2, answer ×1), rebuilt when it changes."""

    def __init__(self, entries):
        self.entries = entries
        self.docs = []
        df: Counter = Counter()
        for e in entries:
            tf: Counter = Counter()
            for text, weight in ((e.question, 3.0), (e.keywords or "", 2.0), (plain_text(e.answer), 1.0)):
                for t in _terms(text):
                    tf[t] += weight
            self.docs.append(tf)
            df.update(tf.keys())
        self.df = df
        n = max(len(entries), 1)
        self.avgdl = sum(sum(d.values()) for d in self.docs) / n if self.docs else 1.0
        self.idf = {t: idf(n, c) for t, c in df.items()}

    def match(self, text: str, limit: int = 3, min_score: float = 1.0) -> list[tuple[FaqEntry, float]]:
        q = Counter(_terms(text))
        if not q:
            return []
        scored = []
        for e, tf in zip(self.entries, self.docs, strict=True):
            norm = length_norm(sum(tf.values()) or 1.0, self.avgdl, b=0.6)
            s = 0.0
            for t, qn in q.items():
                f = tf.get(t)
                if f:
                    w = 0.7 if t.startswith("_") else 1.0
                    s += qn * w * self.idf[t] * saturate(f / norm)
            if s >= min_score:
                scored.append((e, s))
        scored.sort(key=lambda x: -x[1])
        return scored[:limit]


_matcher_cache: dict = {"key": None, "matcher": None}
_matcher_lock = threading.Lock()


def faq_matcher() -> FaqMatcher:
    key = db.session.execute(select(func.count(FaqEntry.id), func.max(FaqEntry.updated_at))
                             .where(FaqEntry.published.is_(True))).one()
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], tuple(key))
    with _matcher_lock:
        if _matcher_cache["key"] != key:
            entries = db.session.scalars(select(FaqEntry).where(FaqEntry.published.is_(True))
                                         .order_by(FaqEntry.category, FaqEntry.position, FaqEntry.id)).all()
            for e in entries:
                db.session.expunge(e)
            _matcher_cache.update(key=key, matcher=FaqMatcher(entries))
        return _matcher_cache["matcher"]


def suggest(text: str, limit: int = 3) -> dict:
    """FAQ answers and catalogue records for what the patron is typing."""
    text = (text or "")[:1000]
    faqs = [{"id": e.id, "question": e.question, "answer": sanitize_html(e.answer), "score": round(s, 2)}
            for e, s in faq_matcher().match(text, limit)]
    records = []
    content = [w for w in words(text) if w not in STOP_WORDS and len(w) > 2]
    if len(content) >= 2:
        from ..search.documents import LOCAL
        from ..search.interface import SearchParams, SearchUnavailable
        from ..search.services import backend

        try:
            res = backend().search(SearchParams.build(q=" ".join(content[:8]), size=3, facets=False,
                                                      filters={"library": [LOCAL]}))
            if not res.fallback:
                records = [{"id": h.id, "title": h.data["title"], "authors": h.data.get("authors", [])[:2],
                            "url": url_for("catalog.record", record_id=h.id)} for h in res.hits]
        except SearchUnavailable:
            pass
    return {"faqs": faqs, "records": records}


def mark_helpful(faq_id: int) -> bool:
    entry = db.session.get(FaqEntry, faq_id)
    if entry is None or not entry.published:
        return False
    entry.helpful_count = FaqEntry.helpful_count + 1
    db.session.add(FaqHelpful(faq_id=faq_id))
    db.session.flush()
    return True


# ----------------------------------------------------------------------------- asking


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="ask-form")


def form_stamp() -> str:
    """A signed time stamp put in the form: answers sent faster than a person types are spam."""
    return _serializer().dumps({"t": utcnow().timestamp()})


def seconds_since(stamp: str) -> float | None:
    try:
        data = _serializer().loads(stamp or "", max_age=2 * 86400)
        return utcnow().timestamp() - float(data["t"])
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
        return None


def looks_like_spam(honeypot: str | None, stamp: str | None) -> bool:
    if honeypot:
        return True
    elapsed = seconds_since(stamp)
    return elapsed is None or elapsed < current_app.config["ASK_MIN_SECONDS"]


def _rate_limit(ip: str, contact: str | None) -> None:
    """Count this question against the IP and the contact, in the caller's write transaction (the
    question, its idempotency key and the counts commit together; a refusal rolls its count back)."""
    from ..db import begin_write

    cfg = current_app.config
    window = timedelta(seconds=cfg["ASK_WINDOW_SECONDS"])
    now = utcnow()
    begin_write()
    over = _bump(f"ask-ip:{ip}", now, window) > cfg["ASK_MAX_PER_IP"]
    if contact:
        over = _bump(f"ask-contact:{contact}", now, window) > cfg["ASK_MAX_PER_CONTACT"] or over
    if over:
        raise AskRefused("rate_limited")


def ask(text: str, *, category: str, name: str | None, email: str | None, whatsapp: str | None, channel: str,
        patron=None, ip: str, language: str = "id") -> Question:
    """Create a question (the caller begins the write transaction and commits). Limits are counted
    before anything is stored."""
    text = (text or "").strip()
    cfg = current_app.config
    if len(text) < cfg["ASK_MIN_LENGTH"]:
        raise AskRefused("too_short", min=cfg["ASK_MIN_LENGTH"])
    if len(text) > cfg["ASK_MAX_LENGTH"]:
        raise AskRefused("too_long", max=cfg["ASK_MAX_LENGTH"])
    email = (email or "").strip() or None
    if email and not valid_email(email):
        raise AskRefused("bad_email")
    try:
        whatsapp = normalize_whatsapp(whatsapp)
    except DomainError:
        raise AskRefused("bad_whatsapp") from None
    if patron is not None:
        email = email or patron.email
        whatsapp = whatsapp or patron.whatsapp
        name = name or patron.name
    channel = channel if channel in CHANNELS else "app"
    if channel == "email" and not email or channel == "whatsapp" and not whatsapp:
        raise AskRefused("need_contact")
    contact = f"p{patron.id}" if patron is not None else (email or "").lower() or whatsapp
    _rate_limit(ip, contact)
    q = Question(token=secrets.token_urlsafe(32), patron_id=patron.id if patron is not None else None,
                 category=category if category in CATEGORIES else "other", name=(name or "").strip()[:200] or None,
                 email=email, whatsapp=whatsapp, channel=channel, language=language)
    q.messages.append(Message(author_kind="patron", body=text))
    db.session.add(q)
    db.session.flush()
    if email:
        with force_locale(language):
            subject = _("We received your question")
            body = _("Thank you. A librarian will answer soon. Your question and our reply are here:") + \
                f"\n{thread_url(q)}\n\n{text[:500]}"
        queue_email(email, subject, body, kind="ask_received", patron_id=q.patron_id)
    return q


def thread_url(q: Question) -> str:
    return absolute_url("reference.thread", token=q.token)


def question_by_token(token: str) -> Question | None:
    if not token or len(token) < 20:
        return None
    return db.session.scalar(select(Question).where(Question.token == token, Question.purged_at.is_(None)))


def patron_questions(patron):
    """A patron's own questions: every patron-facing query starts here, never from a bare id."""
    return select(Question).where(Question.patron_id == patron.id, Question.purged_at.is_(None))


def follow_up(q: Question, text: str) -> Message:
    text = (text or "").strip()
    if q.status == "closed":
        raise AskRefused("closed")
    if len(text) < 2:
        raise AskRefused("too_short", min=2)
    if len(text) > current_app.config["ASK_MAX_LENGTH"]:
        raise AskRefused("too_long", max=current_app.config["ASK_MAX_LENGTH"])
    m = Message(author_kind="patron", body=text)
    q.messages.append(m)
    q.status = "received"
    q.updated_at = utcnow()
    db.session.flush()
    return m


# ----------------------------------------------------------------------------- staff


def reply(q: Question, staff, html: str, *, internal: bool = False) -> Message:
    body = sanitize_html(html)
    if not plain_text(body):
        raise AskRefused("empty_reply")
    m = Message(author_kind="staff", staff_id=staff.id, body=body, internal=internal)
    q.messages.append(m)
    q.updated_at = utcnow()
    if not internal:
        q.status = "answered"
        if q.first_reply_at is None:
            q.first_reply_at = utcnow()
        if q.assignee_id is None:
            q.assignee_id = staff.id
        notify_answer(q, body)
        if q.email and (q.channel != "app" or q.patron_id is None):  # a patron who chose the app is told there
            with force_locale(q.language or "id"):
                subject = _("A librarian answered your question")
                text = plain_text(body) + "\n\n" + _("See the whole conversation and reply here:") + f"\n{thread_url(q)}"
            queue_email(q.email, subject, text, kind="ask_reply", patron_id=q.patron_id,
                        whatsapp=q.whatsapp if q.channel == "whatsapp" else None)
    db.session.flush()
    return m


def notify_answer(q: Question, body: str) -> None:
    """A patron's question was answered: an in-app notification (the unread answer behind the
    badge) and, if they chose the app, a push to their devices. E-mail is ``reply``'s, once."""
    if q.patron_id is None:
        return
    from ..notifications.events import Notice, emit

    emit(Notice("ask_reply", q.patron_id, {"excerpt": plain_text(body)[:200]}, endpoint="reference.my_question",
                url_values={"question_id": q.id}, channels=("push",) if q.channel == "app" else ()))


def _answer_notifications(patron):
    return (Notification.patron_id == patron.id, Notification.kind == "ask_reply", Notification.read_at.is_(None))


def unread_answers(patron) -> int:
    """How many of the patron's questions have an answer they have not opened yet (the badge)."""
    return db.session.scalar(select(func.count(func.distinct(Notification.url)))
                             .where(*_answer_notifications(patron))) or 0


def unread_question_ids(patron, questions) -> set[int]:
    """Which of ``questions`` (the patron's own) have an unread answer."""
    urls = set(db.session.scalars(select(Notification.url).where(*_answer_notifications(patron))).all())
    return {q.id for q in questions if site_path("reference.my_question", question_id=q.id) in urls}


def mark_answers_read(patron, q: Question) -> int:
    """The patron opened the thread of their question ``q``: its answers are read (badge cleared)."""
    rows = db.session.execute(Notification.__table__.update().where(
        *_answer_notifications(patron), Notification.url == site_path("reference.my_question", question_id=q.id))
        .values(read_at=utcnow()))
    return rows.rowcount or 0


def whatsapp_reply_link(q: Question, m: Message) -> str | None:
    if not q.whatsapp:
        return None
    # the private thread link is a secret of the asker's: it is never put in staff's hands
    return whatsapp_link(q.whatsapp, plain_text(m.body))


def claim(q: Question, staff) -> None:
    q.assignee_id = staff.id
    q.updated_at = utcnow()


def close(q: Question) -> None:
    q.status = "closed"
    q.closed_at = utcnow()


def reopen(q: Question) -> None:
    q.status = "answered" if q.first_reply_at else "received"
    q.closed_at = None


def faq_from_question(q: Question) -> FaqEntry:
    """A draft FAQ entry from the question and the last public staff answer."""
    answers = [m for m in q.messages if m.author_kind == "staff" and not m.internal]
    entry = FaqEntry(category=q.category, question=q.first_text[:500], answer=answers[-1].body if answers else "",
                     published=False, source_question_id=q.id,
                     position=(db.session.scalar(select(func.max(FaqEntry.position))) or 0) + 1)
    db.session.add(entry)
    db.session.flush()
    return entry


def purge_old_threads(now=None) -> int:
    """Closed threads older than REFERENCE_RETENTION_DAYS, and open ones with no activity for
    REFERENCE_OPEN_RETENTION_DAYS (closed first), lose their asker, their text and their e-mails."""
    from sqlalchemy import delete, or_

    from ..mail import OutboxEmail

    now = now or utcnow()
    cfg = current_app.config
    closed_cutoff = now - timedelta(days=cfg["REFERENCE_RETENTION_DAYS"])
    idle_cutoff = now - timedelta(days=cfg["REFERENCE_OPEN_RETENTION_DAYS"])
    rows = db.session.scalars(select(Question).where(Question.purged_at.is_(None), or_(
        (Question.status == "closed") & (func.coalesce(Question.closed_at, Question.updated_at) < closed_cutoff),
        (Question.status != "closed") & (Question.updated_at < idle_cutoff)))).all()
    for q in rows:
        if q.status != "closed":
            q.status = "closed"
            q.closed_at = now
        q.name = q.email = q.whatsapp = None
        q.patron_id = None
        q.purged_at = now
        for m in q.messages:
            m.body = "[dihapus / removed]"
        # the received/answered e-mails carry the text and the thread link (its token)
        db.session.execute(delete(OutboxEmail).where(OutboxEmail.body.contains(q.token, autoescape=True))
                           .execution_options(synchronize_session=False))
    db.session.flush()
    return len(rows)


def stats(now=None) -> dict:
    now = now or utcnow()
    replied = db.session.execute(select(Question.created_at, Question.first_reply_at)
                                 .where(Question.first_reply_at.is_not(None))).all()
    waits = [(r - c).total_seconds() / 3600 for c, r in replied]
    open_qs = db.session.scalars(select(Question).where(Question.status != "closed")).all()
    by_age = {"< 1 day": 0, "1–3 days": 0, "3–7 days": 0, "> 7 days": 0}
    by_category: Counter = Counter()
    for q in open_qs:
        age = (now - q.created_at).total_seconds() / 86400
        key = "< 1 day" if age < 1 else "1–3 days" if age < 3 else "3–7 days" if age < 7 else "> 7 days"
        by_age[key] += 1
        by_category[q.category] += 1
    helpful = db.session.execute(select(FaqEntry.question, func.count(FaqHelpful.id)).join(
        FaqHelpful, FaqHelpful.faq_id == FaqEntry.id).group_by(FaqEntry.id, FaqEntry.question)
        .order_by(func.count(FaqHelpful.id).desc()).limit(10)).all()
    return {
        "median_first_reply_hours": round(statistics.median(waits), 1) if waits else None,
        "answered": len(waits),
        "open": len(open_qs),
        "open_by_age": by_age,
        "open_by_category": dict(by_category),
        "faq_answered_questions": db.session.scalar(select(func.count(FaqHelpful.id))) or 0,
        "top_helpful": [(q, n) for q, n in helpful],
    }


def canned_replies():
    return db.session.scalars(select(CannedReply).order_by(CannedReply.title)).all()
