"""MARC mapping against golden files, and the reader's handling of encodings and broken records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opac.catalog.marc import (
    MarcProblem,
    decode_binary,
    fields_to_marc,
    marc_to_fields,
    read_marc,
    split_binary,
    to_iso2709,
)

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.xml")))
def test_golden_mapping(name):
    data = (GOLDEN / f"{name}.xml").read_bytes()
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    [(number, record, notes)] = list(read_marc(data))
    assert record is not None, notes
    fields, _notes = marc_to_fields(record)
    assert fields == expected


def test_isbn10_and_isbn13_normalise_to_the_same_value():
    [(_, record, _)] = list(read_marc((GOLDEN / "koha_952.xml").read_bytes()))
    fields, notes = marc_to_fields(record)
    assert fields["isbns"][0] == "9789793062792"  # from 979-3062-79-7 (an ISBN-10)
    assert any("12345" in n for n in notes)  # the invalid one is kept and reported


def test_roundtrip_fields_to_marc_and_back():
    [(_, record, _)] = list(read_marc((GOLDEN / "koha_952.xml").read_bytes()))
    fields, _ = marc_to_fields(record)
    rebuilt = fields_to_marc(fields, fields["items"])
    again, _ = marc_to_fields(decode_binary(to_iso2709(rebuilt))[0])
    for key in ("control_number", "title", "subtitle", "responsibility", "edition", "publisher", "place", "year",
                "material_type", "summary", "authors", "subjects", "languages", "isbns", "series", "links"):
        if key == "subjects":
            assert again[key] == fields[key]
        else:
            assert again[key] == fields[key], key
    assert sorted(i["barcode"] for i in again["items"]) == ["B0001", "B0002", "B0003"]


def test_record_without_title_is_a_problem():
    rec = fields_to_marc({"control_number": "x", "title": "t"})
    rec.remove_fields("245")
    with pytest.raises(MarcProblem, match="title"):
        marc_to_fields(rec)


def test_truncated_stream_reports_each_record_and_keeps_the_rest():
    good = to_iso2709(fields_to_marc({"control_number": "1", "title": "Satu"}))
    also_good = to_iso2709(fields_to_marc({"control_number": "3", "title": "Tiga"}))
    broken = b"00099     2299937   4500" + b"garbage\x1e\x1d"
    results = list(read_marc(good + broken + also_good))
    assert [n for n, rec, _ in results] == [1, 2, 3]
    assert results[0][1] is not None and results[2][1] is not None
    assert results[1][1] is None and "base address" in results[1][2]


def test_split_binary_ignores_trailing_newlines():
    good = to_iso2709(fields_to_marc({"control_number": "1", "title": "Satu"}))
    assert len(list(split_binary(good + b"\n\r\n" + good + b"\n"))) == 2


def test_marc8_record_decodes_diacritics():
    # "Sociét\xe2e" : MARC-8 combining acute (0xE2) before the letter it decorates
    rec = fields_to_marc({"control_number": "m8", "title": "placeholder"})
    raw = bytearray(to_iso2709(rec))
    raw[9] = ord(" ")  # claim MARC-8
    title = b"Soci\xe2et\xe2e litt\xe2eraire"
    raw = bytes(raw).replace(b"placeholder", title[:11])  # same length keeps the directory valid
    decoded, notes = decode_binary(raw)
    assert decoded["245"]["a"].startswith("Société")


def test_utf8_content_under_a_marc8_leader_reads_as_utf8():
    rec = fields_to_marc({"control_number": "u", "title": "Люди"})
    raw = bytearray(to_iso2709(rec))
    raw[9] = ord(" ")
    decoded, notes = decode_binary(bytes(raw))
    assert decoded["245"]["a"] == "Люди"
    assert any("UTF-8" in n for n in notes)


def test_marcxml_without_collection_and_with_prefixes():
    xml = b"""<?xml version="1.0"?>
<m:record xmlns:m="http://www.loc.gov/MARC21/slim"><m:leader>00000nam a2200000 a 4500</m:leader>
<m:controlfield tag="001">x1</m:controlfield>
<m:datafield tag="245" ind1="0" ind2="0"><m:subfield code="a">Tanpa koleksi</m:subfield></m:datafield></m:record>"""
    [(n, rec, notes)] = list(read_marc(xml))
    assert marc_to_fields(rec)[0]["title"] == "Tanpa koleksi"
    two = b"<record><datafield tag='245' ind1=' ' ind2=' '><subfield code='a'>A</subfield></datafield></record>" * 2
    assert len([r for _, r, _ in read_marc(two) if r is not None]) == 2


def test_material_types():
    def kind(leader, extra=()):
        rec = fields_to_marc({"control_number": "k", "title": "t"})
        rec.leader = leader
        for f in extra:
            rec.add_field(f)
        return marc_to_fields(rec)[0]["material_type"]

    from pymarc import Field, Subfield

    assert kind("00000nam a2200000 i 4500") == "book"
    assert kind("00000nas a2200000 i 4500") == "journal"
    assert kind("00000ngm a2200000 i 4500") == "audiovisual"
    assert kind("00000nem a2200000 i 4500") == "map"
    assert kind("00000nam a2200000 i 4500", [Field(tag="502", indicators=[" ", " "],
                                                   subfields=[Subfield("a", "Skripsi (S1)")])]) == "thesis"
    assert kind("00000nam a2200000 i 4500", [Field(tag="007", data="cr |||")]) == "ebook"


def test_shared_edge_cases_all_readable_records_map(shared_data):
    edge = shared_data / "marc" / "edge"
    totals = {}
    for path in sorted(edge.iterdir()):
        ok = bad = 0
        for number, rec, notes in read_marc(path.read_bytes()):
            if rec is None:
                bad += 1
                assert isinstance(notes, str) and notes
                continue
            fields, _ = marc_to_fields(rec)
            assert fields["title"] and fields["control_number"]
            ok += 1
        totals[path.name] = (ok, bad)
    # every deliberately broken record of bad_records.mrc is reported, the readable ones import
    assert totals["bad_records.mrc"][1] >= 5 and totals["bad_records.mrc"][0] >= 1
    for name in ("lul_fre_100.mrc", "FSL.marc", "hebrew.marc", "nepali.marc", "serials_marc21.xml", "badisbns.xml",
                 "bad_tag.xml", "marc8.dat", "diacritic.dat", "utf8_invalid.mrc", "utf8_errors.dat",
                 "bad_indicator.dat", "bad_subfield_code.dat", "bad_marc8_escape.dat"):
        assert totals[name][1] == 0, name
    assert totals["lul_fre_100.mrc"][0] == 100


def test_shared_edge_diacritics_are_decoded(shared_data):
    titles = [marc_to_fields(r)[0]["title"] for _, r, _ in read_marc((shared_data / "marc/edge/lul_fre_100.mrc").read_bytes())]
    assert any("littéraire" in t for t in titles)
    fsl = [marc_to_fields(r)[0]["title"] for _, r, _ in read_marc((shared_data / "marc/edge/FSL.marc").read_bytes())]
    assert fsl[0].startswith("Люди с чистой совестью")
