"""The search interface the rest of the application uses (views, API, alerts, record pages):
``SearchBackend``, with the values it takes and returns. Storage and scoring can change behind it
(``services.WhooshSearch`` is the one implementation: Whoosh segments read as arrays)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from markupsafe import Markup

from .vocabulary import FACET_FIELDS, SORTS


class SearchUnavailable(Exception):
    """The index cannot be opened; the message tells the operator what to run."""



@dataclass
class Hit:
    docnum: int
    score: float
    data: dict
    highlights: dict[str, Markup]
    #: The libraries holding this book (``LOCAL`` or partner names): this record's first, then the
    #: holders of the same book (ISBN or 035) whose records were folded into it.
    held_by: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.data["id"])


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool = False


@dataclass
class SearchResult:
    query: str
    total: int
    page: int
    size: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    available_count: int = 0
    did_you_mean: str | None = None
    corrected: dict[str, str] = field(default_factory=dict)
    fallback: bool = False
    messages: list[str] = field(default_factory=list)
    sort: str = "relevance"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size)) if self.size else 1


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    year: str | None = None
    available: bool = False
    sort: str = "relevance"
    page: int = 1
    size: int = 20
    facets: bool = True

    @classmethod
    def build(cls, q="", filters: dict | None = None, year=None, available=False, sort="relevance", page=1,
              size=20, facets=True):

        flt = tuple(sorted((k, tuple(sorted(set(v)))) for k, v in (filters or {}).items() if k in FACET_FIELDS and v))
        sort = sort if sort in SORTS else "relevance"
        try:
            page = max(1, min(int(page), 500))
        except (TypeError, ValueError):
            page = 1
        size = max(1, min(int(size or 20), 100))
        return cls(q=q or "", filters=flt, year=year or None, available=bool(available), sort=sort, page=page,
                   size=size, facets=facets)



class SearchBackend(Protocol):
    """Search, facets, suggestions and similar records over the catalogue. Every method raises
    ``SearchUnavailable`` when there is no usable index (``more_like_this`` answers ``[]``)."""

    def search(self, params: SearchParams) -> SearchResult:
        """One page of results (cached per index generation), with facets if ``params.facets``."""

    def facets(self, params: SearchParams) -> dict[str, list[FacetValue]]:
        """The facet values of the results of ``params``, without a page of hits (the search page
        offers the whole catalogue's to browse before anything is asked)."""

    def suggest(self, q: str, limit: int = 8) -> list[dict]:
        """Titles, authors and subjects completing what the patron is typing."""

    def more_like_this(self, record, limit: int = 6) -> list[dict]:
        """Hit summaries of records like ``record`` (itself excluded)."""

    def matching_record_ids(self, params: SearchParams, added_from_day: int) -> set[int]:
        """Ids of our own records matching ``params`` added on or after ``added_from_day``."""
