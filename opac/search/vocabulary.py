"""Search vocabulary in one place: field aliases, sorts, facets and year ranges (frozen maps).

Adding a facet is one more ``Facet`` in FACETS (its field is added to the index schema from there;
``search.documents`` fills it, and SCHEMA_VERSION goes up).

>>> FIELD_ALIASES["pengarang"], FIELD_ALIASES["judul"], FIELD_ALIASES["issn"]
('author', 'title', 'isbn')
>>> [f.name for f in FACETS if f.kind != "values"], FACET_FIELDS["type"], FACET["language"].limit
(['available', 'year'], 'f_type', 12)
>>> SORTS["newest"]
'year_desc'
>>> year_range_label((2000, 2009))
'2000–2009'
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

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


@dataclass(frozen=True)
class Facet:
    """A facet of the results and the filter of the same name (its URL parameter)."""

    name: str
    label: LazyString
    #: "values": counted from ``field``, repeatable filter (OR within one facet, AND across facets);
    #: "range": the year ranges below (a column, no field); "flag": one value "1" (``field`` holds "1" or "0")
    kind: str
    #: the index field holding the values (catalog records' documents fill it in search.documents)
    field: str | None = None
    #: how many values are counted and shown
    limit: int = 0
    #: what the OpenAPI document says of the filter
    api: str = ""


#: The facets and filters, in the order the results page shows them.
FACETS = (
    Facet("available", _l("Availability"), "flag", "f_avail", api="Only records with a copy available now."),
    Facet("library", _l("Library"), "values", "f_library", 20,
          "Library filter: local or a partner library's code (repeatable)."),
    Facet("type", _l("Material type"), "values", "f_type", 20, "Material type filter (repeatable)."),
    Facet("language", _l("Language"), "values", "f_lang", 12, "Language filter, MARC code (repeatable)."),
    Facet("year", _l("Year"), "range", api="Year range, e.g. 2000-2009 or 2020-."),
    Facet("location", _l("Location"), "values", "f_loc", 12, "Location code filter (repeatable)."),
    Facet("subject", _l("Subject"), "values", "f_subject", 12, "Subject filter (repeatable)."),
    Facet("author", _l("Author"), "values", "f_author", 12, "Author filter (repeatable)."),
)
FACET = MappingProxyType({f.name: f for f in FACETS})
FACET_LABELS = MappingProxyType({f.name: f.label for f in FACETS})
#: The "values" facets: URL parameter -> index field.
FACET_FIELDS = MappingProxyType({f.name: f.field for f in FACETS if f.kind == "values"})

#: Year ranges of the year facet (inclusive bounds); None means open.
YEAR_RANGES = (
    (2020, None), (2010, 2019), (2000, 2009), (1990, 1999), (1980, 1989), (1950, 1979), (1900, 1949), (None, 1899),
)

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
