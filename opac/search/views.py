"""Search pages (HTML) and the search JSON API."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from flask import Blueprint, jsonify, make_response, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..catalog.material_types import MATERIAL_TYPE_LABELS
from ..web import public_page
from . import misses
from .interface import FacetValue, SearchParams, SearchUnavailable
from .services import backend, library_names
from .vocabulary import (
    FACET,
    FACET_FIELDS,
    FACET_LABELS,
    LANGUAGE_LABELS,
    SORT_LABELS,
    parse_year_range,
    year_range_label,
)

bp = Blueprint("search", __name__)
api_bp = Blueprint("search_api", __name__, url_prefix="/api/v1")

MULTI = tuple(FACET_FIELDS)


def params_from(args: MultiDict) -> SearchParams:
    filters = {k: [v for v in args.getlist(k) if v][:10] for k in MULTI}
    year = args.get("year") or None
    if year and not parse_year_range(year):
        year = None
    size = args.get("size", type=int) or 20
    return SearchParams.build(q=args.get("q", "")[:10_000], filters=filters, year=year,
                              available=args.get("available") in ("1", "true", "on"), sort=args.get("sort", "relevance"),
                              page=args.get("page", 1), size=size)


@lru_cache(maxsize=8)
def _labels(locale: str) -> dict:
    """Translated facet labels of one locale, computed once (gettext per value was measurable)."""
    return {"type": {k: str(v) for k, v in MATERIAL_TYPE_LABELS.items()},
            "language": {k: str(v) for k, v in LANGUAGE_LABELS.items()},
            "available": _("Available now")}


def facet_label(name: str, value: str, labels: dict | None = None) -> str:
    """The label shown for a facet value; ``labels`` is ``_labels(locale)`` when the caller has it."""
    if name in ("type", "language"):
        return (labels or _labels(str(get_locale())))[name].get(value, value)
    if name == "available":
        return (labels or _labels(str(get_locale())))["available"]
    if name == "year":
        rng = parse_year_range(value)
        return year_range_label(rng) if rng else value
    if name == "location":
        from .services import location_names

        return location_names().get(value, value)
    if name == "library":
        return library_names().get(value, value)
    return value


def facets_in_order(facets: dict[str, list[FacetValue]]) -> dict[str, list[FacetValue]]:
    """``facets`` in the order of ``vocabulary.FACETS``."""
    return {name: facets[name] for name in FACET if name in facets}


def result_facets(result, params: SearchParams) -> dict[str, list[FacetValue]]:
    """A result's facets in the declared order, the availability flag among them."""
    return facets_in_order({**result.facets, "available": [FacetValue("1", result.available_count, params.available)]})


def search_url(args: MultiDict, **changes) -> str:
    """The search URL with ``changes`` applied: ``toggle=(facet, value)``, ``remove=facet``, or plain params."""
    new = MultiDict(args)
    new.pop("page", None)
    toggle = changes.pop("toggle", None)
    if toggle:
        name, value = toggle
        if FACET[name].kind != "values":
            if new.get(name) == value:
                new.pop(name, None)
            else:
                new[name] = value
        else:
            values = new.getlist(name)
            new.setlist(name, [v for v in values if v != value] if value in values else values + [value])
    for name in changes.pop("remove", ()) or ():
        new.pop(name, None)
    for k, v in changes.items():
        if v is None:
            new.pop(k, None)
        else:
            new[k] = v
    items = [(k, v) for k, v in new.items(multi=True) if v not in ("", None)]
    return url_for("search.results") + ("?" + urlencode(items) if items else "")


@bp.get("/search")
@public_page
def results():
    params = params_from(request.args)
    active = [(k, v) for k, vs in params.filters for v in vs]
    if params.year:
        active.append(("year", params.year))
    if params.available:
        active.append(("available", "1"))
    try:
        if params.q.strip() or active:
            result = backend().search(params)
            facets = result_facets(result, params)
        else:  # nothing asked yet: the whole catalogue's facets, to browse by
            result, facets = None, facets_in_order(backend().facets(params))
    except SearchUnavailable as exc:
        return render_template("search/unavailable.html", problem=str(exc)), 503
    facets = {name: values for name, values in facets.items() if any(v.count or v.selected for v in values)}
    page = render_template(
        "search/results.html", params=params, result=result, active=active, args=request.args, facets=facets,
        search_url=lambda **kw: search_url(request.args, **kw), facet_label=facet_label,
        facet_labels=FACET_LABELS, sort_labels=SORT_LABELS,
        library_names=library_names([c for h in (result.hits if result else []) for c in h.held_by]),
    )
    if result is not None and misses.should_count(params, result.total):
        # aggregate statistics, counted once the page is sent; never fails the search
        return misses.count_miss_after(make_response(page), params.q)
    return page


def hit_json(hit, record_url: str, names: dict[str, str]) -> dict:
    """A hit as JSON; ``record_url`` is a record URL with ``{}`` for the id and ``names`` the
    libraries' names (both looked up once per page)."""
    d = hit.data
    if "library" in d:  # a partner's record: no copies here, its page is at the partner
        availability, url = None, d.get("url")
    else:
        availability = {**d.get("availability", {}), "locations": d.get("locations", [])}
        url = record_url.replace("{}", str(d["id"]))
    return {
        "id": d["id"], "control_number": d["control_number"], "title": d["title"], "subtitle": d.get("subtitle"),
        "authors": d.get("authors", []), "year": d.get("year"), "material_type": d.get("material_type"),
        "languages": d.get("languages", []), "isbns": d.get("isbns", []), "call_number": d.get("call_number"),
        "publisher": d.get("publisher"),
        "availability": availability,
        "held_by": [names.get(code, code) for code in hit.held_by],
        "url": url,
        "highlight": {"title": str(hit.highlights["title"]), "authors": [str(a) for a in hit.highlights["authors"]]},
        "score": round(hit.score, 4),
    }


@api_bp.get("/search")
@public_page
def api_search():
    params = params_from(request.args)
    if not params.q.strip() and not params.filters and not params.year and not params.available:
        return jsonify(error="missing_query", message=_("Type something to search for.")), 400
    try:
        result = backend().search(params)
    except SearchUnavailable as exc:
        return jsonify(error="index_unavailable", message=str(exc)), 503
    labels = _labels(str(get_locale()))
    record_url = url_for("catalog.record", record_id=2**31 - 1).replace(str(2**31 - 1), "{}")  # once per page
    names = library_names([c for h in result.hits for c in h.held_by])
    facets = {
        name: [{"value": v.value, "label": facet_label(name, v.value, labels), "count": v.count, "selected": v.selected}
               for v in values]
        for name, values in result_facets(result, params).items()
    }
    response = jsonify(
        query=params.q, total=result.total, page=result.page, size=result.size, pages=result.pages,
        sort=result.sort, hits=[hit_json(h, record_url, names) for h in result.hits], facets=facets,
        did_you_mean=result.did_you_mean, corrected=result.corrected, fallback=result.fallback,
        messages=result.messages,
    )
    if misses.should_count(params, result.total):
        misses.count_miss_after(response, params.q)
    return response


@api_bp.get("/suggest")
@public_page
def api_suggest():
    q = request.args.get("q", "")
    try:
        items = backend().suggest(q)
    except SearchUnavailable:
        items = []
    for it in items:
        if it["type"] == "title" and it.get("id"):
            it["url"] = url_for("catalog.record", record_id=it["id"])
        else:
            field = {"author": "author", "subject": "subject"}.get(it["type"], "title")
            it["url"] = search_url(MultiDict(), q=f'{field}:"{it["label"]}"')
    return jsonify(query=q, suggestions=items)

