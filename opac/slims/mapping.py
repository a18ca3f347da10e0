"""Pure mapping from SLiMS 9 rows to the catalogue's fields (no database access here).

SLiMS data is typed by hand over many years: empty strings stand for NULL, dates can be
``0000-00-00``, text entered through a latin1 connection comes back as UTF-8 mojibake, ISBNs
carry spaces and hyphens. Every function here is forgiving and returns None for "nothing".
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ..catalog import material_types
from ..catalog.isbn import compact, normalize_isbn, normalize_issn

#: SLiMS ``language_id`` (two letters, sometimes a name) to MARC language codes.
LANGUAGES = {
    "id": "ind", "in": "ind", "ind": "ind", "indonesia": "ind", "en": "eng", "eng": "eng", "english": "eng",
    "ar": "ara", "ja": "jpn", "zh": "chi", "nl": "dut", "de": "ger", "fr": "fre", "ms": "may", "jv": "jav",
    "su": "sun", "ko": "kor", "es": "spa", "ru": "rus",
}

#: SLiMS author level (biblio_author.level) to the catalogue's author roles.
AUTHOR_LEVELS = {
    1: "author", 2: "author", 3: "editor", 4: "translator", 5: "director", 6: "producer", 7: "composer",
    8: "illustrator", 9: "creator", 10: "contributor",
}

#: mst_author.authority_type: p(ersonal), o(rganisation), c(onference)
AUTHORITY_KINDS = {"p": "person", "o": "organization", "c": "meeting"}

#: words in a GMD name (English or Indonesian) to material types, first match wins
_GMD_WORDS = tuple((material_types.BY_CODE[code].slims_gmd, code) for code in material_types.SLIMS_GMD_ORDER)

_MOJIBAKE = re.compile("[ÃÂâ][\u0080-\u00bf\u2018-\u203a\u20ac\u2122\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]")
_SPACES = re.compile(r"\s+")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as latin1/cp1252 (``PramoedyaÂ`` → ``Pramoedya``, ``Ã©`` → ``é``), else unchanged.

    >>> fix_mojibake("CafÃ© Ã‡elik"), fix_mojibake("Café"), fix_mojibake("Kata â€œkunciâ€\x9d")
    ('Café Çelik', 'Café', 'Kata “kunci”')
    """
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("cp1252", "latin1"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    # cp1252 cannot encode the bytes 0x81, 0x8d, 0x8f, 0x90, 0x9d: mix the two codecs
    try:
        raw = bytes(ord(c) if ord(c) < 256 else c.encode("cp1252")[0] for c in text)
        return raw.decode("utf-8")
    except (UnicodeError, ValueError):
        return text


def text(value) -> str | None:
    """A cleaned string: bytes decoded, mojibake undone, whitespace collapsed; None for empty, "-", "0".

    >>> text("  Gramedia   Pustaka  "), text(""), text(None), text("-"), text(b"Jakarta")
    ('Gramedia Pustaka', None, None, None, 'Jakarta')
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            value = bytes(value).decode("cp1252", errors="replace")
    value = _SPACES.sub(" ", fix_mojibake(str(value))).strip()
    return value if value and value not in ("-", "--", "0", "NULL", "null") else None


def to_date(value) -> date | None:
    """A real date, or None for NULL, '' and MySQL's zero dates.

    >>> to_date("0000-00-00"), to_date("2025-02-30"), to_date("2026-01-31"), to_date(date(2026, 1, 2))
    (None, None, datetime.date(2026, 1, 31), datetime.date(2026, 1, 2))
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not value:
        return None
    try:
        d = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None
    return d if d.year > 1800 else None


def to_year(value) -> int | None:
    """The first plausible four-digit year in ``publish_year`` ('c2001', '[1998?]', '2005/2006').

    >>> to_year("c2001"), to_year("[1998?]"), to_year("tanpa tahun"), to_year("0000")
    (2001, 1998, None, None)
    """
    m = re.search(r"(1[5-9]\d\d|20\d\d)", str(value or ""))
    return int(m.group(1)) if m else None


def split_isbn_issn(value) -> tuple[list[str], list[str]]:
    """SLiMS keeps ISBN or ISSN in one column; return (ISBN-13s or raw digits, ISSNs).

    >>> split_isbn_issn("979 - 686 - 698 - 6"), split_isbn_issn("ISSN 0317-8471"), split_isbn_issn(" - ")
    ((['9789796866984'], []), ([], ['0317-8471']), ([], []))
    """
    raw = text(value)
    if not raw:
        return [], []
    digits = compact(raw)
    if len(digits) == 8 or "issn" in raw.lower():
        issn = normalize_issn(raw)
        if issn:
            return [], [issn]
    isbns: list[str] = []
    for part in re.split(r"[;,/]|\s{2,}", raw):
        isbn = normalize_isbn(part)
        if isbn is None:
            d = compact(part)
            isbn = d if len(d) in (10, 13) else None
        if isbn and isbn not in isbns:
            isbns.append(isbn)
    return isbns, []


def language(value) -> list[str]:
    """MARC language codes for a SLiMS language_id.

    >>> language("id"), language("en "), language(""), language("xx")
    (['ind'], ['eng'], [], [])
    """
    code = (text(value) or "").lower()
    if code in LANGUAGES:
        return [LANGUAGES[code]]
    return [code] if re.fullmatch(r"[a-z]{3}", code) else []


def material_type(gmd_name: str | None, content_code: str | None = None) -> str:
    """The catalogue's material type from the GMD name, then the RDA content type.

    >>> material_type("Text"), material_type("Skripsi"), material_type(None, "tdi"), material_type("CD-ROM")
    ('book', 'thesis', 'audiovisual', 'software')
    """
    name = (gmd_name or "").lower()
    for words, kind in _GMD_WORDS:
        if any(w in name for w in words):
            return kind
    return material_types.RDA_CONTENT.get((content_code or "").strip().lower(), material_types.DEFAULT)


def split_title(title: str) -> tuple[str, str | None]:
    """SLiMS titles hold the subtitle after " : " (ISBD).

    >>> split_title("Laskar pelangi : sebuah novel"), split_title("Bumi manusia")
    (('Laskar pelangi', 'sebuah novel'), ('Bumi manusia', None))
    """
    head, sep, tail = title.partition(" : ")
    if sep and head.strip() and tail.strip():
        return head.strip(), tail.strip()
    return title, None


def author_key(name: str) -> str:
    """Key under which two author rows are the same person (case, spaces, punctuation).

    >>> author_key("Toer, Pramoedya Ananta") == author_key("toer,  pramoedya ananta.")
    True
    """
    return re.sub(r"[\W_]+", " ", name.lower()).strip()


def item_status(status_id: str | None, status_name: str | None, no_loan: int | None) -> str:
    """The catalogue's item status for a SLiMS mst_item_status row (None/'0': available).

    >>> item_status(None, None, None), item_status("MIS", "Missing", 1), item_status("NL", "No Loan", 1)
    ('available', 'missing', 'not_for_loan')
    >>> item_status("R", "Repair", 1), item_status("HLG", "Hilang", 1), item_status("X", None, None)
    ('not_for_loan', 'lost', 'available')
    """
    sid = (status_id or "").strip().upper()
    name = (status_name or "").lower()
    if not sid or sid == "0":
        return "available"
    if sid == "MIS" or "missing" in name:
        return "missing"
    if "lost" in name or "hilang" in name:
        return "lost"
    if no_loan or sid in ("NL", "R"):
        return "not_for_loan"
    return "available"
