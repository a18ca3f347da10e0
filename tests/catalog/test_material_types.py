"""The material types of ``opac.catalog.material_types`` are complete: each has a label in English and
Indonesian, every importer recognises it, every export names it in a known vocabulary, and the database,
the index, the search page and OAI-PMH take it. A type added to the vocabulary (or to a mapping) without
the rest fails here, saying what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, force_locale
from lxml import etree

from opac.catalog.importers import material_type_from, read_records
from opac.catalog.marc import fields_to_marc, marc_to_fields, read_marc, to_iso2709
from opac.catalog.material_types import (
    BY_CODE,
    DEFAULT,
    MATERIAL_TYPE_LABELS,
    MATERIAL_TYPES,
    SLIMS_GMD_ORDER,
    TYPES,
)
from opac.slims.mapping import material_type as slims_type

TRANSLATIONS = Path(__file__).resolve().parents[2] / "opac" / "translations"
#: Types no SLiMS GMD name or content type stands for (SLiMS has no "other": an unknown GMD is a book).
NOT_FROM_SLIMS = {"other"}

DCMI_TYPES = {"Collection", "Dataset", "Event", "Image", "InteractiveResource", "MovingImage", "PhysicalObject",
              "Service", "Software", "Sound", "StillImage", "Text"}
RIS_TYPES = set("ABST ADVS AGGR ANCIENT ART BILL BLOG BOOK CASE CHAP CHART CLSWK COMP CONF CPAPER CTLG DATA DBASE "
                "DICT EBOOK ECHAP EDBOOK EJOUR ELEC ENCYC EQUA FIGURE GEN GOVDOC GRANT HEAR ICOMM INPR JFULL JOUR "
                "LEGAL MANSCPT MAP MGZN MPCT MULTI MUSIC NEWS PAMP PAT PCOMM RPRT SER SLIDE SOUND STAND STAT THES "
                "UNBILL UNPB VIDEO".split())
#: BibTeX entry types, and biblatex's @periodical
BIBTEX_TYPES = {"article", "book", "booklet", "inbook", "incollection", "inproceedings", "manual", "mastersthesis",
                "misc", "phdthesis", "proceedings", "techreport", "unpublished", "periodical"}
COINS_GENRES = {"book", "bookitem", "proceeding", "report", "document", "unknown", "journal", "issue", "article",
                "conference", "preprint"}


def labels_in(locale: str, labels) -> dict[str, str]:
    """Lazy labels (key -> label) as a page in ``locale`` shows them, from the compiled catalogue."""
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    with app.app_context(), force_locale(locale):
        return {key: str(label) for key, label in labels.items()}


def indonesian_of() -> dict[str, str]:
    """English msgid -> its Indonesian in messages.po (empty where it is missing)."""
    with open(TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return {m.id: m.string for m in read_po(f, locale="id") if m.id}


def test_every_type_has_an_english_and_an_indonesian_label():
    indonesian = indonesian_of()
    english, shown = labels_in("en", MATERIAL_TYPE_LABELS), labels_in("id", MATERIAL_TYPE_LABELS)
    assert list(english) == list(MATERIAL_TYPES)
    missing = [code for code, label in english.items() if not indonesian.get(label)]
    assert not missing, f"add the Indonesian of these labels to messages.po: {missing}"
    assert shown == {code: indonesian[label] for code, label in english.items()}
    # patrons tell the types apart by their labels, in either language
    assert len(set(english.values())) == len(set(shown.values())) == len(TYPES)


def test_csv_and_json_lines_imports_recognise_every_code_and_name():
    rows = [(code, code) for code in MATERIAL_TYPES] + [(name, t.code) for t in TYPES for name in t.names]
    rows += [(f"[{name.title()}]", t.code) for t in TYPES for name in t.names[:1]]  # as a GMD: "[Skripsi]"
    csv_data = "title,type\n" + "".join(f"Title {i},{value}\n" for i, (value, _) in enumerate(rows))
    jsonl = "".join(json.dumps({"title": f"Title {i}", "gmd": value}) + "\n" for i, (value, _) in enumerate(rows))
    for fmt, data in (("csv", csv_data), ("jsonl", jsonl)):
        got = [(fields["material_type"], notes) for _n, fields, notes, _raw in read_records(data.encode(), fmt)]
        assert [code for code, _ in got] == [code for _, code in rows], fmt
        assert not [notes for _, notes in got if any("material type" in n for n in notes)]
    assert material_type_from("brosur") is None  # not a type: the importer says so and uses the default
    assert DEFAULT in MATERIAL_TYPES


@pytest.mark.parametrize("code", MATERIAL_TYPES)
def test_marc_writes_and_reads_back_every_type(code):
    record = fields_to_marc({"control_number": f"mt-{code}", "title": "A title", "material_type": code})
    assert str(record.leader)[6:8] == BY_CODE[code].leader
    [(_n, again, _notes)] = list(read_marc(to_iso2709(record)))
    assert marc_to_fields(again)[0]["material_type"] == code


def test_slims_gmd_names_and_content_types_reach_every_type():
    assert sorted(SLIMS_GMD_ORDER) == sorted(t.code for t in TYPES if t.slims_gmd), \
        "a type with SLiMS GMD words needs its place in SLIMS_GMD_ORDER (and no other type)"
    for t in TYPES:
        for word in t.slims_gmd:
            assert slims_type(word.title()) == t.code, f"the GMD {word!r} is read as {slims_type(word)!r}"
        for content in t.rda_content:
            assert slims_type(None, content) == slims_type("Unknown GMD", content.upper()) == t.code
    reached = {t.code for t in TYPES if t.slims_gmd or t.rda_content}
    assert set(MATERIAL_TYPES) - reached == NOT_FROM_SLIMS, "how does a SLiMS GMD name or content type say this?"
    assert slims_type("Microform") == DEFAULT


def test_exports_name_every_type_in_their_vocabularies():
    for t in TYPES:
        assert t.dc_type in DCMI_TYPES, t.code
        assert t.ris in RIS_TYPES, t.code
        assert t.bibtex in BIBTEX_TYPES, t.code
        assert t.coins_genre in COINS_GENRES, t.code
        assert t.schema_org.isalpha() and t.schema_org[0].isupper(), t.code
        assert len(t.leader) == 2 and t.leader[0] in "acdefgijkmoprt" and t.leader[1] in "abcdims", t.code
        assert not t.leader06 or t.leader[0] in t.leader06, f"{t.code}: its own leader/06 must read back as it"
    read_as = [c for t in TYPES for c in t.leader06]
    assert len(read_as) == len(set(read_as)), "a leader/06 value read as two types"


def test_every_type_is_stored_indexed_filtered_labelled_and_harvested(app, load_records, search_api):
    from opac.catalog.models import Record
    from opac.extensions import db
    from opac.oai.provider import _dc
    from opac.partners.mapping import dc_fields

    with app.app_context():
        for table in ("record", "partner_record"):  # a new type needs a migration widening the CHECK constraints
            [check] = [c for c in sa.inspect(db.engine).get_check_constraints(table) if "material_type" in c["name"]]
            assert [code for code in MATERIAL_TYPES if f"'{code}'" not in check["sqltext"]] == [], table
    ids = load_records([{"title": f"Kind {code}", "material_type": code} for code in MATERIAL_TYPES])
    shown = labels_in("id", MATERIAL_TYPE_LABELS)
    for code in MATERIAL_TYPES:
        found = search_api("", type=code)
        assert [h["material_type"] for h in found["hits"]] == [code]
        assert [(v["value"], v["label"]) for v in found["facets"]["type"]] == [(code, shown[code])]
    with app.app_context():
        for rid in ids:
            record = db.session.get(Record, rid)
            meta = etree.Element("metadata")
            _dc(meta, record)  # what our OAI-PMH provider serves, harvested back by a partner
            assert dc_fields(meta)[0]["material_type"] == record.material_type
