"""The Whoosh schema of the catalogue index, and its version.

Bump ``SCHEMA_VERSION`` whenever fields, analysis or the storage of segments (the sidecar format,
``segments.SIDECAR_VERSION``, or what a segment keeps where) change: at start-up an index with another
version is rebuilt (or the app names the command to run), so older code never reads a newer index.
"""

from __future__ import annotations

from whoosh import columns, fields, formats

from .analysis import LibraryAnalyzer, ShingleAnalyzer, ValuesAnalyzer
from .vocabulary import FACETS

SCHEMA_VERSION = 11  # 11: a reindex's segments keep their terms in their sidecars alone

#: Free-text fields searched by default, with their weight in the score.
TEXT_FIELDS = {"all": 1.0, "title": 3.0, "author": 2.0, "subject": 2.0}


def _text(phrase: bool) -> fields.FieldType:
    fmt = formats.Positions() if phrase else formats.Frequency()
    return fields.FieldType(fmt, LibraryAnalyzer(), scorable=True)


def _values() -> fields.FieldType:
    return fields.FieldType(formats.Existence(), ValuesAnalyzer(), scorable=False)


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        # No positions in "all": phrases there are word pairs (the shingles field), and reading
        # positions with every posting block of the most searched field cost a third of a query.
        all=_text(phrase=False),
        title=_text(phrase=True),
        author=_text(phrase=False),
        subject=_text(phrase=False),
        publisher=_text(phrase=False),
        series=_text(phrase=False),
        shingles=fields.FieldType(formats.Existence(), ShingleAnalyzer(), scorable=False),
        # Word pairs of the title, series and each subject heading part (names also as "forename
        # surname"): a query whose words form a phrase there is about that topic (phrase bonus).
        headings=fields.FieldType(formats.Existence(), ShingleAnalyzer(), scorable=False),
        isbn=_values(),
        callnumber=_values(),
        control=_values(),
        # the facets' values (f_type, f_lang, …, f_avail, f_library)
        **{f.field: _values() for f in FACETS if f.field},
        year=fields.COLUMN(columns.NumericColumn("i", default=0)),
        added=fields.COLUMN(columns.NumericColumn("i", default=0)),
        sort_title=fields.COLUMN(columns.NumericColumn("Q", default=0)),
        sort_title2=fields.COLUMN(columns.NumericColumn("Q", default=0)),
        sort_author=fields.COLUMN(columns.NumericColumn("Q", default=0)),
        sort_author2=fields.COLUMN(columns.NumericColumn("Q", default=0)),
        title_key=fields.COLUMN(columns.NumericColumn("q", default=0)),
        full_title_key=fields.COLUMN(columns.NumericColumn("q", default=0)),
        # the same book at several libraries (ISBN or 035): hash64 of catalog.marc.match_key, 0 none
        dup_key=fields.COLUMN(columns.NumericColumn("q", default=0)),
        holdings=fields.COLUMN(columns.NumericColumn("i", default=0)),
        hit=fields.STORED(),
    )


#: Columns the search engine reads as arrays: name -> numpy dtype (big-endian on disk).
COLUMNS = {
    "year": ">i4",
    "added": ">i4",
    "sort_title": ">u8",
    "sort_title2": ">u8",
    "sort_author": ">u8",
    "sort_author2": ">u8",
    "title_key": ">i8",
    "full_title_key": ">i8",
    "dup_key": ">i8",
    "holdings": ">i4",
}
