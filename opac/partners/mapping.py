"""Harvested metadata (oai_dc or MARCXML) to our record shape (``catalog.models.Description``).

MARCXML goes through the catalogue's own MARC mapping (``catalog.marc``); Dublin Core is mapped
here, the way SLiMS's ``oai2.php`` and our own provider write it.
"""

from __future__ import annotations

import re

from sqlalchemy import String

from ..catalog.importers import material_type_from
from ..catalog.isbn import normalize_isbn, normalize_issn
from ..catalog.marc import MarcProblem, clean, language_code, marc_to_fields, match_key, xml_record
from ..catalog.material_types import DEFAULT, MATERIAL_TYPES
from ..catalog.services import RECORD_FIELDS
from .models import PartnerRecord

DC_NS = "http://purl.org/dc/elements/1.1/"
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")
_LISTS = ("authors", "subjects", "languages", "isbns", "issns", "series", "notes", "links")


class RecordProblem(Exception):
    """A harvested record that cannot be mapped (reported with its identifier and skipped)."""


def _dc(meta, name: str) -> list[str]:
    return [" ".join(e.text.split()) for e in meta.iter(f"{{{DC_NS}}}{name}") if e.text and e.text.strip()]


def _unique(values) -> list:
    return list(dict.fromkeys(v for v in values if v))


def dc_fields(meta) -> tuple[dict, str | None, list[str]]:
    """Fields of an ``oai_dc:dc`` element, the record page URL it names, and no 035 numbers.

    The first http(s) ``dc:identifier`` is taken as the record's page (SLiMS and this app write it
    first); later ones are links. ISBNs and ISSNs come from ``dc:identifier`` (``urn:isbn:…`` or plain).
    """
    titles = _dc(meta, "title")
    if not titles or not clean(titles[0]):
        raise RecordProblem("no dc:title")
    url, links, isbns, issns = None, [], [], []
    for ident in _dc(meta, "identifier"):
        low = ident.lower()
        if low.startswith(("http://", "https://")):
            if url is None:
                url = ident
            else:
                links.append({"url": ident, "label": None})
        elif "issn" in low:
            issns.append(normalize_issn(ident.split(":")[-1]))
        else:
            isbns.append(normalize_isbn(ident.split(":")[-1] if low.startswith("urn:isbn:") else ident))
    types = _dc(meta, "type")
    material = next((t.lower() for t in types if t.lower() in MATERIAL_TYPES), None)
    material = material or next((m for m in map(material_type_from, types) if m), DEFAULT)
    years = [int(m.group(1)) for d in _dc(meta, "date") if (m := _YEAR.search(d))]
    descriptions = _dc(meta, "description")
    fields = {
        "title": clean(titles[0]),
        "authors": [{"name": clean(n), "role": role, "kind": "person"}
                    for tag, role in (("creator", "author"), ("contributor", "contributor"))
                    for n in _unique(_dc(meta, tag)) if clean(n)],
        "subjects": _unique(clean(s) for s in _dc(meta, "subject")),
        "summary": descriptions[0] if descriptions else None,
        "notes": descriptions[1:],
        "publisher": clean((_dc(meta, "publisher") or [""])[0]) or None,
        "year": years[0] if years else None,
        "material_type": material,
        "physical": (_dc(meta, "format") or [None])[0],
        "languages": _unique(language_code(v) for v in _dc(meta, "language")),
        "isbns": _unique(isbns),
        "issns": _unique(issns),
        "series": _unique(_dc(meta, "relation")),
        "links": links,
    }
    return fields, url, []


def marc_fields(meta) -> tuple[dict, str | None, list[str]]:
    """Fields of a MARCXML ``record`` element (the catalogue's MARC mapping), no page URL, its 035 numbers."""
    try:
        rec, _notes = xml_record(meta)
        fields, _notes = marc_to_fields(rec)
    except MarcProblem as exc:
        raise RecordProblem(str(exc)) from None
    numbers = [s for f in rec.get_fields("035") for s in f.get_subfields("a")]
    return fields, None, numbers


def _fit(fields: dict) -> dict:
    """Only our columns, strings cut to their column's length (a partner's long edition statement must
    not fail the page's transaction on PostgreSQL)."""
    out = {}
    columns = PartnerRecord.__table__.columns
    for k in RECORD_FIELDS:
        v = fields.get(k)
        if v is None and k in _LISTS:
            v = []
        col = columns[k].type
        if isinstance(v, str) and isinstance(col, String) and col.length:
            v = v[: col.length]
        out[k] = v
    return out


def record_values(prefix: str, meta) -> dict:
    """The values of a ``PartnerRecord`` for harvested ``meta`` in format ``prefix``; raises RecordProblem."""
    if meta is None:
        raise RecordProblem("record has no metadata")
    fields, url, numbers = (dc_fields if prefix == "oai_dc" else marc_fields)(meta)
    values = _fit(fields)
    values["url"] = url
    values["match_key"] = match_key(values["isbns"], numbers)
    return values
