"""Numbers from query strings and forms, bounded: a value a database column or a timedelta cannot
hold (``?age=999999999999``) is treated as absent instead of ending in a server error."""

from __future__ import annotations

from flask import request

#: the largest value of a 32-bit signed integer column (SQLite and PostgreSQL ``integer``)
INT_MAX = 2**31 - 1


def bounded_int(value, *, low: int = 0, high: int = INT_MAX, default: int | None = None) -> int | None:
    """``value`` as an int when it is plain digits within ``low..high``, else ``default``.

    >>> bounded_int("42"), bounded_int("999999999999"), bounded_int("-1"), bounded_int("x", default=0)
    (42, None, None, 0)
    >>> bounded_int("3650", high=3650), bounded_int(" 7 "), bounded_int("٣")
    (3650, 7, None)
    """
    text = str(value if value is not None else "").strip()
    if not text or len(text) > 12 or not text.isascii() or not text.isdigit():
        return default
    number = int(text)
    return number if low <= number <= high else default


def arg_int(name: str, *, low: int = 0, high: int = INT_MAX, default: int | None = None) -> int | None:
    """A bounded integer query-string argument (see :func:`bounded_int`)."""
    return bounded_int(request.args.get(name), low=low, high=high, default=default)


def form_int(name: str, *, low: int = 0, high: int = INT_MAX, default: int | None = None) -> int | None:
    """A bounded integer form field (see :func:`bounded_int`)."""
    return bounded_int(request.form.get(name), low=low, high=high, default=default)
