"""Cross-cutting web concerns: security and cache headers, error pages, template helpers."""

from __future__ import annotations

import gzip
import hashlib
import logging
from functools import lru_cache, wraps
from pathlib import Path

import orjson
from flask import Response, g, has_request_context, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .accounts.secrets import has_secret
from .errors import DomainError
from .jsmodules import MODULE_DIR, Graph, graph

log = logging.getLogger(__name__)
COMPRESSIBLE = {"text/html", "text/css", "application/javascript", "text/javascript", "application/json",
                "application/manifest+json", "image/svg+xml", "application/xml", "text/xml", "text/plain", "text/csv",
                "application/marcxml+xml", "application/x-bibtex", "application/x-research-info-systems"}

CSP = (
    "default-src 'self'; img-src 'self' data: blob: https:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; media-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self' https://wa.me https://api.whatsapp.com; "
    "object-src 'none'"
)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON written by orjson: a search's answer (20 hits and the facets) in 0.01 ms instead
    of 0.1. The same fallbacks (dates as HTTP dates, decimals and UUIDs as text, dataclasses as
    objects: ``DefaultJSONProvider.default``); keys in the order given (the OpenAPI schema documents
    it; sorting costs time); text as UTF-8, not ``\\u`` escapes. Pretty-printing (debug mode) and
    other ``json.dumps`` options go to Python's encoder."""

    sort_keys = False
    OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(self, obj, **kwargs) -> str:
        if kwargs.keys() - {"separators"}:
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()
        except TypeError:  # what orjson does not write (a number past 64 bits, numpy's float): as before
            return super().dumps(obj, separators=(",", ":"))


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signer built once per secret key (and fallback
    keys): Flask builds it at every request, with a cookie or without, which was 2% of a search
    answered from the caches."""

    _signer: tuple = (None, None)

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))  # Flask 3.1 has fallbacks
        made_for, signer = self._signer
        if made_for != keys:
            signer = super().get_signing_serializer(app)
            self._signer = (keys, signer)
        return signer


def public_page(view):
    """Mark a view's response as public catalogue content: revalidated, cacheable offline.

    Such pages must not contain patron data (no names, no session tokens).
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.public_page = True
        return view(*args, **kwargs)

    return wrapper


def large_upload(view):
    """Let this staff view receive bodies up to ``UPLOAD_MAX_BYTES`` (everything else is held to
    ``MAX_CONTENT_LENGTH``); only for a logged-in staff member with the view's permission."""
    view.large_upload = True
    return view


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json" and not request.accept_mimetypes.accept_html
    )


@lru_cache(maxsize=256)
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def _modules(root: Path) -> Graph:
    """The JS modules' graph, their files looked at once per request (a page names a dozen modules:
    a look each cost the staff desk's page a tenth of its time)."""
    if not has_request_context():
        return graph(root)
    got = g.get("_js_modules")
    if got is None or got[0] != root:
        got = g._js_modules = (root, graph(root))
    return got[1]


def asset(name: str) -> str:
    """URL of a static asset with its content hash in the name (immutable, cached for a year)."""
    from flask import current_app

    root = Path(current_app.static_folder) / "pwa"
    if name.startswith(MODULE_DIR + "/"):
        return _modules(root).url(name) or f"/static/pwa/{name}"
    path = root / name
    try:
        digest = _file_hash(str(path), path.stat().st_mtime)
    except OSError:
        return f"/static/pwa/{name}"
    stem, _dot, ext = name.rpartition(".")
    return f"/assets/{stem}.{digest}.{ext}"


def init_app(app) -> None:
    static_root = Path(app.static_folder)

    app.add_template_global(asset)

    @app.template_global()
    def module_preloads(name: str) -> list[str]:
        return _modules(static_root / "pwa").imports(name)

    from .urls import absolute_url

    app.add_template_global(absolute_url)

    @app.context_processor
    def _globals():
        from flask_babel import lazy_gettext as _l

        endpoints = set(app.view_functions)
        # (endpoint, label, icon in static/pwa/icons.svg)
        nav = [("catalog.home", _l("Search"), "search"), ("circulation.my_loans", _l("Loans"), "loans"),
               ("accounts.card", _l("Card"), "card"), ("reference.ask", _l("Ask"), "ask"),
               ("accounts.account", _l("Account"), "account")]

        def lang_url(code: str) -> str:
            from urllib.parse import urlencode

            args = [(k, v) for k, v in request.args.items(multi=True) if k != "hl"] + [("hl", code)]
            return request.path + "?" + urlencode(args)

        low_data = request.args.get("lowdata", request.cookies.get("lowdata")) == "1"
        return {"url_endpoints": endpoints, "main_nav": [n for n in nav if n[0] in endpoints], "lang_url": lang_url,
                "low_data": low_data}

    @app.get("/assets/<path:hashed>")
    def hashed_asset(hashed: str):
        from flask import abort, send_from_directory

        stem, _, ext = hashed.rpartition(".")
        base, _, digest = stem.rpartition(".")
        if not base or not digest:
            abort(404)
        name = f"{base}.{ext}"
        if name.startswith(MODULE_DIR + "/"):
            body = _modules(static_root / "pwa").body(name, digest)
            if body is None:
                abort(404)
            resp = Response(body, mimetype="text/javascript")
            resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return resp
        path = static_root / "pwa" / name
        if not path.is_file() or _file_hash(str(path), path.stat().st_mtime) != digest:
            abort(404)
        resp = send_from_directory(static_root / "pwa", name, max_age=365 * 86400)
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return resp

    @app.url_value_preprocessor
    def _upload_limit(endpoint, _values):
        """Runs before CSRF reads the form: raise the body limit for staff uploads only."""
        view = app.view_functions.get(endpoint or "")
        if view is not None and getattr(view, "large_upload", False):
            from .accounts.permissions import can

            action = getattr(view, "requires", "").removeprefix("staff:")
            if action and can(action):
                request.max_content_length = app.config["UPLOAD_MAX_BYTES"]

    @app.after_request
    def _low_data_cookie(resp):
        """``?lowdata=1`` / ``?lowdata=0`` switches the low-data mode (no cover images) on this device."""
        value = request.args.get("lowdata")
        if value in ("0", "1") and request.cookies.get("lowdata") != value:
            resp.set_cookie("lowdata", value, max_age=365 * 86400, samesite="Lax",
                            secure=app.config["SESSION_COOKIE_SECURE"], httponly=False)
        return resp

    @app.after_request
    def _compress(resp):
        if not app.config["COMPRESS_RESPONSES"] or "gzip" not in request.headers.get("Accept-Encoding", ""):
            return resp
        if resp.status_code < 200 or resp.status_code >= 300 or "Content-Encoding" in resp.headers:
            return resp
        if resp.mimetype not in COMPRESSIBLE:
            return resp
        resp.direct_passthrough = False
        data = resp.get_data()
        if len(data) < 600:
            return resp
        resp.set_data(gzip.compress(data, compresslevel=6))
        resp.headers["Content-Encoding"] = "gzip"
        add_vary(resp, "Accept-Encoding")
        return resp

    @app.after_request
    def _headers(resp):
        h = resp.headers
        present = {key.lower() for key in h.keys()}  # one look at the few headers set (a setdefault each was a tenth of a request)
        wanted = [
            ("X-Content-Type-Options", "nosniff"),
            # a page whose URL holds a secret (reset link, private thread) must not leak it in Referer
            ("Referrer-Policy", "no-referrer" if has_secret(request.path) else "strict-origin-when-cross-origin"),
            ("X-Frame-Options", "DENY"),
            ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
        ]
        if resp.mimetype in ("text/html", "application/json", "application/xml", "text/plain"):
            wanted.append(("Content-Security-Policy", CSP))
        if request.is_secure and app.config["HSTS_SECONDS"]:
            wanted.append(("Strict-Transport-Security", f"max-age={int(app.config['HSTS_SECONDS'])}; includeSubDomains"))
        if "cache-control" not in present:
            if g.get("public_page") and resp.status_code < 400:
                wanted.append(("Cache-Control", "no-cache"))
            elif request.endpoint not in ("static",):
                wanted.append(("Cache-Control", "private, no-store"))
        for key, value in wanted:
            if key.lower() not in present:
                h.add(key, value)
        return resp

    def _error(status: int, message: str, code: str | None = None):
        from flask.globals import request_ctx

        if request_ctx.url_adapter is None:  # a Host outside TRUSTED_HOSTS: no page, no links
            return "Bad Request: unknown host name\n", status, {"Content-Type": "text/plain; charset=utf-8"}
        if wants_json():
            return jsonify(error=code or str(status), message=message), status
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        return _error(exc.status_code, exc.message, exc.reason)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return _error(400, _("Your form has expired or was sent from another site. Please reload the page and try again."),
                      "csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        messages = {
            404: _("This page does not exist."),
            405: _("This action is not allowed here."),
            413: _("The file is too large."),
            429: _("Too many attempts. Please wait a moment and try again."),
        }
        return _error(exc.code or 500, messages.get(exc.code, exc.description or ""), None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        from .extensions import db

        db.session.rollback()
        return _error(500, _("Something went wrong on our side. Please try again."), "server_error")


def add_vary(resp, header: str) -> None:
    """Name ``header`` in the response's Vary (once), as ``resp.vary.add`` does without parsing
    the header into a set and writing it back on every response.

    >>> from flask import Response
    >>> r = Response(); add_vary(r, "Cookie"); add_vary(r, "cookie"); add_vary(r, "Accept-Encoding")
    >>> r.headers["Vary"]
    'Cookie, Accept-Encoding'
    """
    vary = resp.headers.get("Vary")
    if not vary:
        resp.headers["Vary"] = header
    elif header.lower() not in (v.strip().lower() for v in vary.split(",")):
        resp.headers["Vary"] = f"{vary}, {header}"
