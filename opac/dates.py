"""The one date and time formatter: every page, e-mail and notice shows dates through it.

Dates are shown in the library's time zone (``BABEL_DEFAULT_TIMEZONE``, env
``OPAC_BABEL_DEFAULT_TIMEZONE``, default ``Asia/Jakarta``); datetimes without a zone are UTC (as
stored in the database). The forms are fixed here, not taken from CLDR, so that the offline pages'
JavaScript formatter can produce exactly the same text. The spec (keep the JS in step):

==========  ============================  ============================  ===========================
form        Indonesian (``id``)           English (``en``)              pattern
==========  ============================  ============================  ===========================
short       ``14 Des 2026``               ``14 Dec 2026``               day (no leading zero),
                                                                        abbreviated month, year
long        ``14 Desember 2026``          ``14 December 2026``          full month name
weekday     ``Senin, 14 Des``             ``Monday, 14 Dec``            full weekday, comma, day,
                                                                        abbreviated month
day_month   ``14 Des``                    ``14 Dec``                    day, abbreviated month
datetime    ``14 Des 2026 09.30``         ``14 Dec 2026 09:30``         short date, space, 24-hour
                                                                        HH.MM (id) / HH:MM (en)
==========  ============================  ============================  ===========================

Month abbreviations: id ``Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des``; en ``Jan Feb Mar Apr
May Jun Jul Aug Sep Oct Nov Dec`` (never a trailing dot). Weekdays from Monday: id ``Senin Selasa
Rabu Kamis Jumat Sabtu Minggu``; en ``Monday … Sunday``. Any other language falls back to ``id``.
Machine-readable forms (``<time datetime=…>``): a date is ``YYYY-MM-DD``; a datetime is ISO 8601
in the library's zone to the minute with its offset, ``2026-12-14T09:30+07:00``. Pages carry the
zone's name in ``<meta name="library-time-zone">`` for scripts that format dates offline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
MONTHS_SHORT = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
WEEKDAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
TIME_SEPARATOR = {"id": ".", "en": ":"}
FORMS = ("short", "long", "weekday", "day_month")


def _lang(lang: str | None) -> str:
    if lang is None:
        try:
            from flask_babel import get_locale

            lang = str(get_locale() or "id")
        except (RuntimeError, KeyError, AttributeError):  # no app or request: the library's default
            lang = "id"
    lang = lang.split("_")[0].split("-")[0].lower()
    return lang if lang in MONTHS else "id"


def library_zone(name: str | None = None) -> ZoneInfo:
    """The library's time zone (the setting), UTC outside an application."""
    if name is None:
        from flask import current_app, has_app_context

        name = current_app.config["BABEL_DEFAULT_TIMEZONE"] if has_app_context() else "UTC"
    return ZoneInfo(name)


def local(value: datetime, zone: str | None = None) -> datetime:
    """``value`` (naive = UTC) in the library's time zone.

    >>> local(datetime(2026, 12, 14, 2, 30), "Asia/Jakarta")
    datetime.datetime(2026, 12, 14, 9, 30, tzinfo=zoneinfo.ZoneInfo(key='Asia/Jakarta'))
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(library_zone(zone))


def parse(value):
    """A date or datetime from an ISO string (dates kept in JSON); other values pass through.

    >>> parse("2026-12-28"), parse("2026-12-28T02:03:00")
    (datetime.date(2026, 12, 28), datetime.datetime(2026, 12, 28, 2, 3))
    >>> parse("not a date")
    'not a date'
    """
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _as_date(value, zone: str | None) -> date:
    return local(value, zone).date() if isinstance(value, datetime) else value


def format_date(value, form: str = "short", lang: str | None = None, zone: str | None = None) -> str:
    """A date (or the library-local day of a datetime) in one of the FORMS; "" for None.

    >>> d = date(2026, 12, 14)
    >>> [format_date(d, f, "id") for f in FORMS]
    ['14 Des 2026', '14 Desember 2026', 'Senin, 14 Des', '14 Des']
    >>> [format_date(d, f, "en") for f in FORMS]
    ['14 Dec 2026', '14 December 2026', 'Monday, 14 Dec', '14 Dec']
    >>> format_date(date(2026, 5, 3), lang="en"), format_date(date(2026, 8, 3), lang="id")
    ('3 May 2026', '3 Agu 2026')

    A datetime late in the UTC evening is already the next day in Jakarta:

    >>> format_date(datetime(2026, 11, 29, 19, 3), lang="id", zone="Asia/Jakarta")
    '30 Nov 2026'
    >>> format_date("2026-12-28", lang="en"), format_date(None)
    ('28 Dec 2026', '')
    """
    value = parse(value)
    if not value:
        return ""
    if not isinstance(value, date):
        return str(value)
    lang = _lang(lang)
    d = _as_date(value, zone)
    if form == "long":
        return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"
    month = MONTHS_SHORT[lang][d.month - 1]
    if form == "weekday":
        return f"{WEEKDAYS[lang][d.weekday()]}, {d.day} {month}"
    if form == "day_month":
        return f"{d.day} {month}"
    return f"{d.day} {month} {d.year}"


def format_datetime(value, lang: str | None = None, zone: str | None = None) -> str:
    """Date and 24-hour time in the library's zone; "" for None.

    >>> when = datetime(2026, 12, 14, 2, 30)  # UTC, as stored
    >>> format_datetime(when, "id", "Asia/Jakarta"), format_datetime(when, "en", "Asia/Jakarta")
    ('14 Des 2026 09.30', '14 Dec 2026 09:30')
    >>> format_datetime(date(2026, 12, 14), "en")
    '14 Dec 2026'
    """
    value = parse(value)
    if not value:
        return ""
    if not isinstance(value, datetime):
        return format_date(value, lang=lang, zone=zone)
    lang = _lang(lang)
    t = local(value, zone)
    return f"{format_date(t.date(), lang=lang)} {t.hour:02d}{TIME_SEPARATOR[lang]}{t.minute:02d}"


def machine(value, zone: str | None = None) -> str:
    """The ``datetime`` attribute of a ``<time>`` element.

    >>> machine(date(2026, 12, 14)), machine(datetime(2026, 12, 14, 2, 30, 59), "Asia/Jakarta")
    ('2026-12-14', '2026-12-14T09:30+07:00')
    """
    value = parse(value)
    if isinstance(value, datetime):
        return local(value, zone).isoformat(timespec="minutes")
    return value.isoformat() if isinstance(value, date) else ""


def time_tag(value, form: str | None = "short", lang: str | None = None, zone: str | None = None) -> Markup:
    """``<time datetime="…">…</time>`` for pages; ``form=None`` shows date and time.

    >>> str(time_tag(date(2026, 12, 14), lang="en"))
    '<time datetime="2026-12-14">14 Dec 2026</time>'
    >>> str(time_tag(datetime(2026, 12, 14, 2, 30), None, "id", "Asia/Jakarta"))
    '<time datetime="2026-12-14T09:30+07:00">14 Des 2026 09.30</time>'
    """
    value = parse(value)
    if not isinstance(value, date):
        return escape(value or "")
    text = format_datetime(value, lang, zone) if form is None else format_date(value, form, lang, zone)
    return Markup('<time datetime="{}">{}</time>').format(machine(value, zone), text)
