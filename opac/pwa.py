"""Progressive web app endpoints served from the site root so the worker's scope is ``/``:
manifest, service worker, offline shell, saved list, ISBN scanner, share target."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .accounts.models import SavedRecord
from .accounts.permissions import patron_required
from .catalog.models import Record
from .extensions import db
from .jsmodules import link, modules
from .web import public_page

bp = Blueprint("pwa", __name__)

SW_SOURCE = "sw.js"
#: Public shell pages the worker keeps, in every interface language, so the app opens offline.
SHELL_PAGES = ("/offline", "/saved")
#: Static files the worker keeps besides the hashed assets and the modules.
SHELL_FILES = ("/static/pwa/icons/icon-192.png", "/static/pwa/icons/icon-512.png", "/static/pwa/cover-placeholder.svg",
               "/manifest.webmanifest")


def shell_pages() -> list[str]:
    """Each shell page once per language, the default language first (the worker's fallback)."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    langs = [default] + [code for code in current_app.config["LANGUAGES"] if code != default]
    return [f"{page}/{code}" for page in SHELL_PAGES for code in langs]


@bp.get("/manifest.webmanifest")
def manifest():
    cfg = current_app.config
    data = {
        "id": "/?source=pwa",
        "name": cfg["LIBRARY_NAME"],
        "short_name": cfg["LIBRARY_SHORT_NAME"],
        "description": _("Search the catalogue, renew loans, place holds and ask a librarian."),
        "lang": "id",
        "dir": "ltr",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": cfg["THEME_COLOR"],
        "background_color": cfg["BACKGROUND_COLOR"],
        "categories": ["books", "education"],
        "icons": [
            {"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/pwa/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/pwa/icons/maskable-192.png", "sizes": "192x192", "type": "image/png", "purpose": "maskable"},
            {"src": "/static/pwa/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
        "shortcuts": [
            {"name": _("Search"), "url": "/search?source=shortcut", "icons": [{"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192"}]},
            {"name": _("My loans"), "url": "/account/loans?source=shortcut", "icons": [{"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192"}]},
            {"name": _("Library card"), "url": "/card?source=shortcut", "icons": [{"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192"}]},
            {"name": _("Ask a librarian"), "url": "/ask?source=shortcut", "icons": [{"src": "/static/pwa/icons/icon-192.png", "sizes": "192x192"}]},
        ],
        "share_target": {"action": "/share", "method": "GET", "enctype": "application/x-www-form-urlencoded",
                         "params": {"title": "title", "text": "text", "url": "url"}},
    }
    resp = Response(json.dumps(data, ensure_ascii=False), mimetype="application/manifest+json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _sw_body() -> str:
    """The worker source with its version and precache list filled in; a new asset, template or
    translation gives a new version, which the page offers to reload into."""
    from .web import asset

    static = Path(current_app.static_folder) / "pwa"
    source = link(static, SW_SOURCE, (static / SW_SOURCE).read_text())
    # every module (the page's and the worker's), so the app starts offline
    assets = [asset("app.css"), asset("icons.svg")] + [url for url, _body in modules(static).values()] + list(SHELL_FILES)
    digest = hashlib.sha256(source.encode())
    for a in assets:
        digest.update(a.encode())
        if a.startswith("/static/pwa/"):  # not content-hashed: their content makes the version
            digest.update((static / a.removeprefix("/static/pwa/")).read_bytes())
    for name in ("offline.html", "base.html", "pwa/saved.html"):
        digest.update((Path(current_app.template_folder) / name).read_bytes())
    mo = Path(current_app.root_path) / "translations" / "id" / "LC_MESSAGES" / "messages.mo"
    if mo.exists():
        digest.update(mo.read_bytes())
    release = current_app.config["PWA_RELEASE_FILE"]
    if release and Path(release).exists():
        digest.update(Path(release).read_bytes())
    version = digest.hexdigest()[:12]
    return (source.replace('"__VERSION__"', json.dumps(version))
            .replace("__PRECACHE__", json.dumps(shell_pages() + assets)))


@bp.get("/sw.js")
def service_worker():
    resp = Response(_sw_body(), mimetype="application/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@bp.get("/robots.txt")
def robots():
    body = "User-agent: *\nDisallow: /staff\nDisallow: /account\nDisallow: /api/\nDisallow: /login\nAllow: /\n"
    resp = Response(body, mimetype="text/plain")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


def _in_language(lang: str | None, render):
    """``render()`` in ``lang`` (the worker keeps a copy per language, fetched as /offline/en, so
    that it sets no language cookie), or in the visitor's language without one."""
    if lang is None:
        return render()
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    with force_locale(lang):
        return render()


@bp.get("/offline", defaults={"lang": None})
@bp.get("/offline/<lang>")
@public_page
def offline(lang):
    """The offline shell: lists what is on the device, shows the patron snapshot and searches
    saved and visited records when the network is gone (rendered by js/offline.js from IndexedDB)."""

    def render():
        topics = None
        if "reference.ask" in current_app.view_functions:  # the ask form's topics, "other" first chosen as online
            from .reference.models import CATEGORIES
            from .reference.services import CATEGORY_LABELS

            topics = {"choices": [[c, str(CATEGORY_LABELS[c])] for c in CATEGORIES], "chosen": "other"}
        return render_template("offline.html", topics=topics)

    return _in_language(lang, render)


@bp.get("/saved", defaults={"lang": None})
@bp.get("/saved/<lang>")
@public_page
def saved(lang):
    return _in_language(lang, lambda: render_template("pwa/saved.html"))


@bp.get("/share")
@public_page
def share_target():
    """Text or a link shared to the installed app: our own record links open, anything else is searched."""
    url = request.args.get("url", "") or ""
    text = " ".join(x for x in (request.args.get("title", ""), request.args.get("text", "")) if x)
    for candidate in (url, text):
        if "/record/" in candidate:
            tail = candidate.split("/record/", 1)[1]
            digits = "".join(ch for ch in tail[:20] if ch.isdigit()) if tail[:1].isdigit() else ""
            if digits:
                return redirect(url_for("catalog.record", record_id=int(digits)))
    words = [w for w in text.split() if not w.startswith(("http://", "https://"))]
    q = " ".join(words)[:300] or url[:300]
    return redirect(url_for("search.results", q=q))


@bp.get("/scan")
@public_page
def scan():
    """Scan an ISBN with the camera (BarcodeDetector) or type it; go to the record or the search."""
    isbn = (request.args.get("isbn") or "").strip()
    if not isbn:
        return render_template("pwa/scan.html")
    from .search.documents import LOCAL
    from .search.interface import SearchParams, SearchUnavailable
    from .search.services import backend

    try:
        result = backend().search(SearchParams.build(q=isbn, size=2, facets=False, filters={"library": [LOCAL]}))
    except SearchUnavailable:
        result = None
    if result is not None and result.total == 1:
        return redirect(url_for("catalog.record", record_id=result.hits[0].id))
    return redirect(url_for("search.results", q=isbn))


@bp.get("/api/v1/locations")
@public_page
def locations_api():
    """Pickup locations (the offline hold form keeps a copy)."""
    from .catalog.models import Location

    rows = db.session.scalars(select(Location).where(Location.is_pickup.is_(True))
                              .order_by(Location.position, Location.name)).all()
    return jsonify(locations=[{"id": r.id, "code": r.code, "name": r.name} for r in rows])


# ----------------------------------------------------------------------------- saved list


def _saved_json():
    rows = db.session.execute(
        select(SavedRecord.record_id, Record.title, Record.authors, Record.year, SavedRecord.created_at)
        .join(Record, Record.id == SavedRecord.record_id).where(SavedRecord.patron_id == current_user.id, Record.is_public)
        .order_by(SavedRecord.created_at)).all()
    return [{"id": rid, "title": t, "author": (a or [{}])[0].get("name") if a else None, "year": y,
             "url": url_for("catalog.record", record_id=rid), "saved_at": c.isoformat()} for rid, t, a, y, c in rows]


@bp.get("/api/v1/saved")
@patron_required
def saved_list():
    return jsonify(saved=_saved_json())


@bp.post("/api/v1/saved/sync")
@patron_required
def saved_sync():
    """Merge the device's list into the account: ``add`` and ``remove`` record ids; returns the result."""
    data = request.get_json(silent=True)
    data = data if isinstance(data, dict) else {}

    def ids(values) -> set[int]:
        out = set()
        for x in values if isinstance(values, list) else []:
            if str(x).isdigit() and 0 < int(x) < 2**31:
                out.add(int(x))
        return out

    add, remove = ids(data.get("add")), ids(data.get("remove"))
    existing = set(db.session.scalars(select(SavedRecord.record_id).where(SavedRecord.patron_id == current_user.id)))
    valid = set(db.session.scalars(select(Record.id).where(Record.id.in_(add - existing), Record.is_public))) \
        if add - existing else set()
    for rid in sorted(valid - remove):
        try:
            with db.session.begin_nested():
                db.session.add(SavedRecord(patron_id=current_user.id, record_id=rid))
        except IntegrityError:  # another device of the same patron saved it a moment ago
            pass
    if remove:
        db.session.execute(delete(SavedRecord).where(SavedRecord.patron_id == current_user.id,
                                                     SavedRecord.record_id.in_(remove)))
    db.session.commit()
    return jsonify(saved=_saved_json())
