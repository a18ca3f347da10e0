"""Search vocabulary in one place: field aliases, sorts, facets and year ranges (frozen maps).

>>> FIELD_ALIASES["pengarang"], FIELD_ALIASES["judul"], FIELD_ALIASES["issn"]
('author', 'title', 'isbn')
>>> SORTS["newest"]
'year_desc'
>>> year_range_label((2000, 2009))
'2000–2009'
"""

from __future__ import annotations

from types import MappingProxyType

from flask_babel import lazy_gettext as _l

#: Words a patron may type before a colon (``judul:laskar``), in English and Indonesian.
FIELD_ALIASES = MappingProxyType({
    "title": "title", "ti": "title", "judul": "title",
    "author": "author", "au": "author", "pengarang": "author", "penulis": "author", "creator": "author",
    "subject": "subject", "su": "subject", "subjek": "subject", "topik": "subject", "topic": "subject",
    "isbn": "isbn", "issn": "isbn",
    "year": "year", "tahun": "year", "date": "year", "py": "year",
    "callnumber": "callnumber", "call": "callnumber", "cn": "callnumber", "klasifikasi": "callnumber",
    "nomorpanggil": "callnumber", "callno": "callnumber",
    "publisher": "publisher", "penerbit": "publisher", "pb": "publisher",
    "series": "series", "seri": "series",
    "type": "type", "jenis": "type",
    "language": "language", "lang": "language", "bahasa": "language",
    "control": "control", "id": "control",
})

#: Index fields that hold free text (scored) for each search field.
TEXT_FIELD_OF = MappingProxyType({
    "title": "title", "author": "author", "subject": "subject", "publisher": "publisher", "series": "series",
})

#: Sort options shown to patrons -> internal order.
SORTS = MappingProxyType({
    "relevance": "score", "newest": "year_desc", "oldest": "year_asc", "title": "title", "author": "author",
})
SORT_LABELS = MappingProxyType({
    "relevance": _l("Relevance"), "newest": _l("Newest"), "oldest": _l("Oldest"),
    "title": _l("Title A–Z"), "author": _l("Author A–Z"),
})

#: Facets in display order: URL parameter -> label.
FACET_LABELS = MappingProxyType({
    "available": _l("Availability"), "type": _l("Material type"), "language": _l("Language"),
    "year": _l("Year"), "subject": _l("Subject"), "author": _l("Author"), "location": _l("Location"),
    "library": _l("Library"),
})

#: Year ranges of the year facet (inclusive bounds); None means open.
YEAR_RANGES = (
    (2020, None), (2010, 2019), (2000, 2009), (1990, 1999), (1980, 1989), (1950, 1979), (1900, 1949), (None, 1899),
)

MATERIAL_TYPE_LABELS = MappingProxyType({
    "book": _l("Book"), "ebook": _l("E-book"), "journal": _l("Journal"), "article": _l("Article"),
    "thesis": _l("Thesis"), "audiovisual": _l("Audio-visual"), "audio": _l("Audio"), "music": _l("Music score"),
    "map": _l("Map"), "software": _l("Software"), "manuscript": _l("Manuscript"), "kit": _l("Kit"),
    "other": _l("Other"),
})

LANGUAGE_LABELS = MappingProxyType({
    "ind": _l("Indonesian"), "eng": _l("English"), "may": _l("Malay"), "jav": _l("Javanese"),
    "sun": _l("Sundanese"), "ara": _l("Arabic"), "dut": _l("Dutch"), "fre": _l("French"), "ger": _l("German"),
    "jpn": _l("Japanese"), "chi": _l("Chinese"), "spa": _l("Spanish"), "rus": _l("Russian"), "heb": _l("Hebrew"),
    "nep": _l("Nepali"), "hin": _l("Hindi"), "ita": _l("Italian"), "por": _l("Portuguese"), "kor": _l("Korean"),
    "lat": _l("Latin"),
})


def year_range_label(rng) -> str:
    lo, hi = rng
    if lo is None:
        return f"≤ {hi}"
    if hi is None:
        return f"{lo}+"
    return f"{lo}–{hi}"


def year_range_key(rng) -> str:
    """URL value of a year range: ``2000-2009``, ``2020-``, ``-1899``."""
    lo, hi = rng
    return f"{lo or ''}-{hi or ''}"


def parse_year_range(value: str) -> tuple[int | None, int | None] | None:
    """``"2000-2009"`` -> (2000, 2009); ``"2020-"`` -> (2020, None); ``"1999"`` -> (1999, 1999).

    >>> parse_year_range("2000-2009"), parse_year_range("-1899"), parse_year_range("x")
    ((2000, 2009), (None, 1899), None)
    """
    value = (value or "").strip().replace("–", "-").replace(" TO ", "-").replace(" to ", "-")
    if value.isdigit():
        return int(value), int(value)
    if "-" not in value:
        return None
    lo, _, hi = value.partition("-")
    lo, hi = lo.strip(" [{"), hi.strip(" ]}")
    if (lo and not lo.isdigit()) or (hi and not hi.isdigit()) or not (lo or hi):
        return None
    return (int(lo) if lo else None, int(hi) if hi else None)
