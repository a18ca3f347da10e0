"""ISBN and ISSN normalisation: ISBN-10 and ISBN-13 of the same book compare equal.

>>> normalize_isbn("0-306-40615-2")
'9780306406157'
>>> normalize_isbn("978 0 306 40615 7 (pbk.)")
'9780306406157'
>>> isbn_forms("9780306406157")
('9780306406157', '0306406152')
>>> normalize_isbn("12345") is None
True
"""

from __future__ import annotations

import re

_ISBN_CANDIDATE = re.compile(r"(?<![0-9Xx])(?:97[89][\s-]?)?(?:[0-9][\s-]?){9}[0-9Xx](?![0-9])")
_DIGITS = re.compile(r"[^0-9Xx]")
_ISSN = re.compile(r"\b([0-9]{4})[\s-]?([0-9]{3}[0-9Xx])\b")


def _isbn10_check(d9: str) -> str:
    total = sum((10 - i) * int(c) for i, c in enumerate(d9))
    r = (11 - total % 11) % 11
    return "X" if r == 10 else str(r)


def _isbn13_check(d12: str) -> str:
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(d12))
    return str((10 - total % 10) % 10)


def is_valid_isbn10(s: str) -> bool:
    return len(s) == 10 and s[:9].isdigit() and _isbn10_check(s[:9]) == s[9].upper()


def is_valid_isbn13(s: str) -> bool:
    return len(s) == 13 and s.isdigit() and s[:3] in ("978", "979") and _isbn13_check(s[:12]) == s[12]


def compact(raw: str) -> str:
    """Digits and X only, upper-case (hyphens, spaces and qualifiers dropped)."""
    return _DIGITS.sub("", raw or "").upper()


def normalize_isbn(raw: str | None) -> str | None:
    """The ISBN-13 of a valid ISBN-10 or ISBN-13 found in ``raw``; None if there is none."""
    if not raw:
        return None
    for m in _ISBN_CANDIDATE.finditer(raw):
        s = compact(m.group())
        if len(s) == 10 and is_valid_isbn10(s):
            core = "978" + s[:9]
            return core + _isbn13_check(core)
        if len(s) == 13 and is_valid_isbn13(s):
            return s
    s = compact(raw.split("(")[0])
    if len(s) == 10 and is_valid_isbn10(s):
        core = "978" + s[:9]
        return core + _isbn13_check(core)
    if len(s) == 13 and is_valid_isbn13(s):
        return s
    return None


def isbn_forms(isbn13: str) -> tuple[str, ...]:
    """All searchable forms of a normalised ISBN-13: itself and, for 978, its ISBN-10."""
    if len(isbn13) == 13 and isbn13.startswith("978"):
        d9 = isbn13[3:12]
        return (isbn13, d9 + _isbn10_check(d9))
    return (isbn13,)


def isbn_or_raw(raw: str) -> tuple[str | None, str]:
    """(normalised ISBN-13 or None, compact raw digits) for a 020 $a / CSV value."""
    return normalize_isbn(raw), compact(raw.split("(")[0].split(" ")[0] if raw else "")


def normalize_issn(raw: str | None) -> str | None:
    """``1234-567X`` from any spacing/hyphenation; None if the check digit is wrong.

    >>> normalize_issn("0317 8471"), normalize_issn("0317-8472")
    ('0317-8471', None)
    """
    if not raw:
        return None
    m = _ISSN.search(raw)
    if not m:
        return None
    s = (m.group(1) + m.group(2)).upper()
    total = sum((8 - i) * int(c) for i, c in enumerate(s[:7]))
    r = (11 - total % 11) % 11
    check = "X" if r == 10 else str(r)
    return f"{s[:4]}-{s[4:]}" if check == s[7] else None


def looks_like_isbn(text: str) -> bool:
    """True when a whole query is an ISBN typed with or without hyphens/spaces.

    >>> looks_like_isbn("978-602-03-1258-0"), looks_like_isbn("0 306 40615 2"), looks_like_isbn("1999")
    (True, True, False)
    """
    return re.fullmatch(r"[0-9]{9}[0-9Xx]|97[89][0-9]{10}", re.sub(r"[\s-]", "", text or "")) is not None
