"""New arrivals, library news, their Atom feeds, and the staff page that promotes them on
social media (prefilled posts for WhatsApp, X, Facebook, Telegram, and captions for Instagram)."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy import select

from ..accounts.permissions import staff_required
from ..catalog.material_types import MATERIAL_TYPES
from ..catalog.models import Record
from ..extensions import db
from ..params import arg_int, form_int
from ..reference.services import plain_text, safe_html, sanitize_html
from ..urls import absolute_url
from ..web import public_page
from .models import NewsPost

bp = Blueprint("news", __name__)
PAGE = 30


def newest_records(limit: int, offset: int = 0, material_type: str | None = None):
    q = select(Record).where(Record.is_public).order_by(Record.created_at.desc(), Record.id.desc())
    if material_type in MATERIAL_TYPES:
        q = q.where(Record.material_type == material_type)
    return db.session.scalars(q.offset(offset).limit(limit)).all()


def published_news(limit: int = 20):
    return db.session.scalars(select(NewsPost).where(NewsPost.published.is_(True))
                              .order_by(NewsPost.created_at.desc()).limit(limit)).all()


@bp.get("/new")
@public_page
def new_arrivals():
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 200))
    mtype = request.args.get("type")
    rows = newest_records(PAGE + 1, (page - 1) * PAGE, mtype)
    return render_template("news/new_arrivals.html", rows=rows[:PAGE], page=page, more=len(rows) > PAGE,
                           mtype=mtype if mtype in MATERIAL_TYPES else None)


@bp.get("/news")
@public_page
def news_list():
    return render_template("news/list.html", posts=published_news(50), safe_html=safe_html)


@bp.get("/news/<id:post_id>")
@public_page
def news_post(post_id: int):
    post = db.session.get(NewsPost, post_id)
    if post is None or not post.published:
        abort(404)
    return render_template("news/post.html", post=post, safe_html=safe_html)


def _atom(title: str, self_url: str, entries: list[dict]) -> Response:
    def iso(dt):
        return dt.replace(tzinfo=UTC).isoformat() if dt else ""

    updated = max((e["updated"] for e in entries), default=None)
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title>", f'<link rel="self" href="{escape(self_url)}"/>',
             f"<id>{escape(self_url)}</id>", f"<updated>{iso(updated)}</updated>"]
    for e in entries:
        parts += ["<entry>", f"<title>{escape(e['title'])}</title>", f'<link href="{escape(e["url"])}"/>',
                  f"<id>{escape(e['url'])}</id>", f"<updated>{iso(e['updated'])}</updated>",
                  f"<summary>{escape(e['summary'])}</summary>", "</entry>"]
    parts.append("</feed>")
    resp = Response("\n".join(parts), mimetype="application/atom+xml")
    resp.headers["Cache-Control"] = "public, max-age=600"
    return resp


@bp.get("/new.atom")
def new_arrivals_feed():
    entries = [{"title": r.full_title, "url": absolute_url("catalog.record", record_id=r.id),
                "updated": r.created_at, "summary": " · ".join(filter(None, [r.main_author, str(r.year or "")]))}
               for r in newest_records(50)]
    return _atom(_("New in %(library)s", library=current_app.config["LIBRARY_NAME"]),
                 absolute_url("news.new_arrivals_feed"), entries)


@bp.get("/news.atom")
def news_feed():
    entries = [{"title": p.title, "url": absolute_url("news.news_post", post_id=p.id),
                "updated": p.updated_at, "summary": plain_text(p.body)[:300]} for p in published_news(30)]
    return _atom(_("News from %(library)s", library=current_app.config["LIBRARY_NAME"]),
                 absolute_url("news.news_feed"), entries)


def share_links(text: str, url: str) -> dict[str, str]:
    """Prefilled posts; nothing is sent by the server (no network at run time)."""
    full = f"{text} {url}"
    return {
        "WhatsApp": "https://wa.me/?" + urlencode({"text": full}),
        "X": "https://twitter.com/intent/tweet?" + urlencode({"text": text, "url": url}),
        "Facebook": "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url}),
        "Telegram": "https://t.me/share/url?" + urlencode({"url": url, "text": text}),
    }


def record_post_text(r: Record) -> str:
    who = f" — {r.main_author}" if r.main_author else ""
    year = f" ({r.year})" if r.year else ""
    tag = "".join(w.capitalize() for w in current_app.config["LIBRARY_SHORT_NAME"].split())
    return _("New in the library: %(title)s%(who)s%(year)s. Borrow it or place a hold in the app.",
             title=r.full_title, who=who, year=year) + f" #{tag} #BukuBaru"


@bp.get("/staff/promote")
@staff_required("outbox")
def promote():
    records = newest_records(15)
    items = []
    for r in records:
        url = absolute_url("catalog.record", record_id=r.id)
        text = record_post_text(r)
        items.append({"title": r.full_title, "text": text, "url": url, "links": share_links(text, url)})
    posts = []
    for p in published_news(5):
        url = absolute_url("news.news_post", post_id=p.id)
        text = f"{p.title}: {plain_text(p.body)[:180]}"
        posts.append({"title": p.title, "text": text, "url": url, "links": share_links(text, url)})
    return render_template("news/promote.html", items=items, posts=posts, quote=quote,
                           feeds=[absolute_url("news.new_arrivals_feed"),
                                  absolute_url("news.news_feed")])


@bp.route("/staff/news", methods=["GET", "POST"])
@staff_required("outbox")
def news_admin():
    if request.method == "POST":
        post_id = form_int("id", low=1)
        post = db.session.get(NewsPost, post_id) if post_id is not None else None
        if post is None:
            post = NewsPost()
            db.session.add(post)
        post.title = request.form.get("title", "").strip()[:200]
        post.body = sanitize_html(request.form.get("body", ""))
        post.published = "published" in request.form
        if not post.title or not plain_text(post.body):
            db.session.rollback()
            flash(_("A news post needs a title and a text."), "error")
        else:
            db.session.commit()
            flash(_("News saved."), "success")
        return redirect(url_for("news.news_admin"), code=303)
    posts = db.session.scalars(select(NewsPost).order_by(NewsPost.created_at.desc()).limit(100)).all()
    edit_id = arg_int("edit", low=1)
    edit = db.session.get(NewsPost, edit_id) if edit_id is not None else None
    return render_template("news/admin.html", posts=posts, edit=edit)


