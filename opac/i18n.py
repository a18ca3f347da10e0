"""Interface language: Indonesian by default, English on request, remembered in a cookie."""

from __future__ import annotations

from flask import current_app, g, request
from flask_babel import get_locale, get_translations
from jinja2.ext import _make_new_gettext, _make_new_ngettext, _make_new_npgettext, _make_new_pgettext

from .web import add_vary

LANG_COOKIE = "lang"


def select_locale() -> str:
    supported = current_app.config["LANGUAGES"]
    forced = request.args.get("hl") if request else None
    if forced in supported:
        return forced
    cookie = request.cookies.get(LANG_COOKIE) if request else None
    if cookie in supported:
        return cookie
    # Only a user already loaded by this request (public pages must not load one just for this;
    # logging in sets the cookie from the patron's preference).
    user = g.get("_login_user")
    pref = getattr(user, "language", None) if user is not None and user.is_authenticated else None
    if pref in supported:
        return pref
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def init_app(app) -> None:
    @app.context_processor
    def _languages():
        # The page's translations are looked up once per render: Flask-Babel's callables (the
        # environment's globals, still used where a template has no context) look them up per
        # string, a tenth of the time of a staff page with 70 strings.
        tr = get_translations()
        return {"ui_languages": app.config["LANGUAGES"], "ui_locale": str(get_locale() or "id"),
                "gettext": _make_new_gettext(tr.ugettext), "ngettext": _make_new_ngettext(tr.ungettext),
                "pgettext": _make_new_pgettext(tr.upgettext), "npgettext": _make_new_npgettext(tr.unpgettext)}

    from . import dates

    @app.template_filter("format_date")
    def _format_date(value, form="short"):
        """``<time datetime>`` with the date in one of ``dates.FORMS`` (opac.dates)."""
        return dates.time_tag(value, form) if value else ""

    @app.template_filter("format_datetime")
    def _format_datetime(value, width=None):
        """Date and time in the one form; Babel widths (``'short'``) still written in templates get it too."""
        return dates.time_tag(value, None) if value else ""

    @app.template_filter("date_text")
    def _date_text(value, form="short"):
        """The date as plain text (attributes, SVG, e-mail bodies)."""
        return dates.format_date(value, form)

    @app.template_filter("datetime_text")
    def _datetime_text(value):
        return dates.format_datetime(value)

    @app.template_filter("language_name")
    def _language_name(code):
        from .search.vocabulary import LANGUAGE_LABELS

        return str(LANGUAGE_LABELS.get(code, code))

    @app.after_request
    def _remember_language(resp):
        """``?hl=en`` on any page switches the interface and is remembered in a cookie (client-side
        preference only; no server state changes)."""
        lang = request.args.get("hl")
        if lang in app.config["LANGUAGES"] and request.cookies.get(LANG_COOKIE) != lang:
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax",
                            secure=app.config["SESSION_COOKIE_SECURE"], httponly=False)
        add_vary(resp, "Cookie")
        return resp
