"""Facets and filters are declared once (``opac.search.vocabulary.FACETS``): the index schema, the
documents, the OpenAPI document and the results page follow it, so a facet added there without the
rest fails here."""

from __future__ import annotations

import re
from html import unescape

from opac.api.openapi import catalog_paths
from opac.catalog.material_types import MATERIAL_TYPE_LABELS
from opac.catalog.models import Item, Location, Record
from opac.search.documents import ItemFacts, build_document
from opac.search.schema import build_schema
from opac.search.vocabulary import FACET_FIELDS, FACET_LABELS, FACETS
from tests.catalog.test_material_types import indonesian_of, labels_in


def test_every_facet_field_is_in_the_index_schema_and_filled_by_the_documents():
    record = Record(id=1, control_number="c1", title="Laskar Pelangi", material_type="book", year=2005,
                    authors=[{"name": "Hirata, Andrea"}], subjects=["Pendidikan"], languages=["ind"])
    item = Item(barcode="B1", status="available", location=Location(code="pusat", name="Pusat"))
    document, names = build_document(record, [ItemFacts.of(item)]), set(build_schema().names())
    for f in FACETS:
        assert f.kind in ("values", "range", "flag"), f.name
        if f.field:
            assert f.field in names and document.get(f.field), f"{f.name}: search.documents does not fill {f.field}"
        assert (f.kind == "values") == (f.name in FACET_FIELDS) == (f.limit > 0) and f.api, f.name
    assert len({f.name for f in FACETS}) == len(FACETS)


def test_every_facet_has_an_english_and_an_indonesian_label():
    indonesian = indonesian_of()
    assert [name for name, label in labels_in("en", FACET_LABELS).items() if not indonesian.get(label)] == []


def test_the_api_documents_every_filter():
    paths, _schemas = catalog_paths()
    names = [p["name"] for p in paths["/api/v1/search"]["get"]["parameters"]]
    assert sorted(names) == sorted([f.name for f in FACETS] + ["q", "sort", "page", "size"])


def test_every_filter_is_read_shown_in_order_and_cleared(client, load_records):
    load_records([{"title": "Laskar Pelangi", "year": 2005, "material_type": "thesis", "subjects": ["Pendidikan"],
                   "authors": ["Hirata, Andrea"], "items": [{"barcode": "B1", "location": "pusat"}]}])
    chosen = {"type": "thesis", "language": "ind", "library": "local", "year": "2000-2009", "available": "1",
              "location": "pusat", "subject": "Pendidikan", "author": "Hirata, Andrea"}
    assert set(chosen) == {f.name for f in FACETS}
    page = unescape(client.get("/search", query_string={"q": "laskar", **chosen}).get_data(as_text=True))
    shown = labels_in("id", FACET_LABELS)
    headings = re.findall(r'<section class="facet">\s*<h3>([^<]+)</h3>', page)
    assert headings == [shown[f.name] for f in FACETS]  # every facet, in the declared order
    chips = re.findall(r'class="chip" href="[^"]*"[^>]*>\s*([^:<]+):', page)
    assert sorted(chips) == sorted(shown.values())
    assert page.count('href="/search?q=laskar"') == 1  # "Clear all" drops every filter and keeps the words
    thesis = labels_in("id", MATERIAL_TYPE_LABELS)["thesis"]
    assert f'<span class="type type-thesis">{thesis}</span>' in page  # the hit names its type
    api = client.get("/api/v1/search", query_string={"q": "laskar", **chosen}).get_json()
    assert list(api["facets"]) == [f.name for f in FACETS]  # the API lists them in the same order
