"""Public catalogue pages: home, record, citations and exports, cover placeholders."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..urls import absolute_url
from ..web import public_page
from . import citation, material_types
from .covers import cover_svg
from .marc import to_marcxml
from .models import Item, Record
from .services import record_marc

bp = Blueprint("catalog", __name__)
#: the labels of ``catalog.material_types`` for every template (macros/catalog_labels.html)
bp.add_app_template_global(material_types.MATERIAL_TYPE_LABELS, "material_type_labels")

STATUS_ORDER = {"available": 0, "on_hold_shelf": 1, "on_loan": 2, "in_transit": 3, "not_for_loan": 4,
                "missing": 5, "lost": 6, "withdrawn": 7}


def find_record(record_id: int, *options) -> Record | None:
    """The record if this visitor may reach it, else None: a public one (``Record.is_public``: not
    hidden by SLiMS ``opac_hide``, not withdrawn) for everyone, any record for staff who edit the
    catalogue. Every page and API that shows patrons a record by its id asks here. Who is looking is
    asked only of a record that is not public: a page of covers loads no user per image."""
    from ..accounts.permissions import can

    record = db.session.scalar(select(Record).where(Record.id == record_id).options(*options))
    return record if record is None or record.is_public or can("catalog_edit") else None


def load_record(record_id: int) -> Record:
    """``find_record`` with the copies and their locations, or 404."""
    record = find_record(record_id, selectinload(Record.items).joinedload(Item.location))
    if record is None:
        abort(404)
    return record


def due_dates_for(items) -> dict[int, object]:
    """Due dates of the items on loan (filled in by the circulation package when present)."""
    hook = current_app.extensions.get("opac_due_dates")
    return hook(items) if hook else {}


@bp.get("/")
@public_page
def home():
    from ..search.documents import LOCAL
    from ..search.interface import SearchParams, SearchUnavailable
    from ..search.services import backend

    newest = []
    try:
        newest = backend().search(SearchParams.build(q="", sort="newest", size=8, facets=False, filters={"library": [LOCAL]})).hits
    except SearchUnavailable:
        pass
    from ..news.views import published_news
    from ..reference.services import plain_text

    return render_template("home.html", newest=newest, news=published_news(3), plain_text=plain_text)


@bp.get("/record/<id:record_id>")
@public_page
def record(record_id: int):
    from ..accounts.permissions import can
    from ..search.services import backend

    rec = load_record(record_id)
    staff_view = can("catalog_edit")
    if staff_view:
        g.public_page = False  # it carries the staff's edit link: private, not for shared or offline caches
    items = sorted((i for i in rec.items if staff_view or i.status != "withdrawn"), key=lambda i: (STATUS_ORDER.get(i.status, 9), i.location.name if i.location else "",
                                             i.barcode))
    url = absolute_url("catalog.record", record_id=rec.id)
    return render_template(
        "catalog/record.html", record=rec, items=items, due_dates=due_dates_for(items),
        similar=backend().more_like_this(rec), url=url, jsonld=_jsonld(rec, url), staff_view=staff_view,
        citations={"APA": citation.apa(rec), "MLA": citation.mla(rec), "Chicago": citation.chicago(rec)},
    )


def _jsonld(rec: Record, url: str) -> dict:
    kind = material_types.of(rec.material_type).schema_org
    data = {"@context": "https://schema.org", "@type": kind, "@id": url, "url": url, "name": rec.full_title}
    if rec.authors:
        data["author"] = [{"@type": "Person" if a.get("kind", "person") == "person" else "Organization",
                           "name": a["name"]} for a in rec.authors]
    if rec.year:
        data["datePublished"] = str(rec.year)
    if rec.publisher:
        data["publisher"] = {"@type": "Organization", "name": rec.publisher}
    if rec.isbns:
        data["isbn"] = rec.isbns[0]
    if rec.languages:
        data["inLanguage"] = rec.languages[0]
    if rec.edition:
        data["bookEdition"] = rec.edition
    if rec.subjects:
        data["about"] = rec.subjects[:10]
    if rec.summary:
        data["description"] = rec.summary[:500]
    if kind == "Book":
        data["bookFormat"] = "https://schema.org/EBook" if rec.material_type == "ebook" else "https://schema.org/Hardcover"
    return data


def _download(body: str | bytes, mimetype: str, filename: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/record/<id:record_id>/cite.ris")
def record_ris(record_id: int):
    rec = load_record(record_id)
    url = absolute_url("catalog.record", record_id=rec.id)
    return _download(citation.ris(rec, url), "application/x-research-info-systems", f"record-{rec.id}.ris")


@bp.get("/record/<id:record_id>/cite.bib")
def record_bibtex(record_id: int):
    rec = load_record(record_id)
    url = absolute_url("catalog.record", record_id=rec.id)
    return _download(citation.bibtex(rec, url), "application/x-bibtex", f"record-{rec.id}.bib")


@bp.get("/record/<id:record_id>/marc.xml")
def record_marcxml(record_id: int):
    rec = load_record(record_id)
    resp = Response(to_marcxml(record_marc(rec)), mimetype="application/marcxml+xml")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.app_template_global("coins")
def coins_title(source, url: str | None = None) -> str:
    """The COinS ``title`` of a record or a search hit's data (for ``<span class="Z3988">``)."""
    from ..oai.provider import repository_host

    data = citation.coins_data(source) if isinstance(source, Record) else source
    if url is None and data.get("id"):
        url = absolute_url("catalog.record", record_id=data["id"])
    return citation.coins(data, url, referrer=f"info:sid/{repository_host()}:opac")


@bp.get("/opensearch.xml")
def opensearch():
    """OpenSearch description: lets browsers add the catalogue as a search engine."""
    from flask import current_app as app

    search = absolute_url("search.results")
    body = render_template("catalog/opensearch.xml", search=search, api=absolute_url("search_api.api_search"),
                           icon=absolute_url("static", filename="pwa/icons/icon-192.png"),
                           self_url=absolute_url("catalog.opensearch"),
                           short_name=app.config["LIBRARY_SHORT_NAME"][:16])
    resp = Response(body, mimetype="application/opensearchdescription+xml")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp




@bp.get("/cover/<id:record_id>.svg")
def cover(record_id: int):
    """A generated cover: title and author on a colour derived from the record."""
    rec = find_record(record_id)
    if rec is None:
        abort(404)
    svg = cover_svg(rec.title, rec.main_author)
    resp = Response(svg, mimetype="image/svg+xml")
    # a record patrons may not reach is drawn for staff only: never kept by a shared cache
    resp.headers["Cache-Control"] = "public, max-age=86400" if rec.is_public else "private, no-store"
    resp.set_etag(hashlib.sha1(svg.encode(), usedforsecurity=False).hexdigest())
    return resp.make_conditional(request)


@bp.get("/api/v1/records/<id:record_id>")
@public_page
def api_record(record_id: int):
    from flask import jsonify

    rec = find_record(record_id, selectinload(Record.items).joinedload(Item.location))
    if rec is None:
        return jsonify(error="not_found", message="No such record."), 404
    if not rec.is_public:
        g.public_page = False  # shown to staff only: not for shared or offline caches
    due = due_dates_for(rec.items)
    return jsonify(
        id=rec.id, control_number=rec.control_number, title=rec.title, subtitle=rec.subtitle,
        responsibility=rec.responsibility, authors=rec.authors or [], subjects=rec.subjects or [], year=rec.year,
        edition=rec.edition, publisher=rec.publisher, place=rec.place, material_type=rec.material_type,
        languages=rec.languages or [], isbns=rec.isbns or [], issns=rec.issns or [], call_number=rec.call_number,
        summary=rec.summary, series=rec.series or [], links=rec.links or [],
        url=url_for("catalog.record", record_id=rec.id),
        items=[{"barcode": i.barcode, "call_number": i.call_number or rec.call_number,
                "location": i.location.code if i.location else None,
                "location_name": i.location.name if i.location else None, "status": i.status,
                "due_date": due[i.id].isoformat() if i.id in due else None} for i in rec.items],
    )
