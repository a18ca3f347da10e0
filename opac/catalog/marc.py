"""Pure MARC21 handling: reading records robustly and mapping them to catalogue fields.

Nothing here touches the database. ``read_marc`` yields ``(number, record_or_None, problem)`` so
an importer can skip a broken record and report it by number without losing the rest;
``marc_to_fields`` maps one pymarc record to a plain dict; ``fields_to_marc`` goes back.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterator

import pymarc
from defusedxml import ElementTree as ET  # staff upload MARCXML: no entity expansion, no external entities
from pymarc import Field, Leader, Subfield

from . import material_types
from .isbn import compact, normalize_isbn, normalize_issn

logging.getLogger("pymarc").setLevel(logging.ERROR)

MARCXML_NS = "http://www.loc.gov/MARC21/slim"
_TRAILING = re.compile(r"[\s/:;,=.]+$")
_YEAR = re.compile(r"(1[0-9]{3}|20[0-9]{2})")


class MarcProblem(Exception):
    """A record that cannot be read; its message says why."""


def clean(value: str | None) -> str:
    """Strip ISBD punctuation and whitespace at the end: ``"Laskar pelangi /"`` -> ``"Laskar pelangi"``."""
    if not value:
        return ""
    value = _TRAILING.sub("", value.strip())
    if value.endswith("]") and "[" not in value:
        value = value[:-1]
    if value.startswith("[") and "]" not in value:
        value = value[1:]
    return value.strip()


# --------------------------------------------------------------------------- reading

def _looks_utf8(raw: bytes) -> bool:
    """True when the non-ASCII bytes of ``raw`` form valid UTF-8 (MARC-8 combining bytes never do)."""
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_binary(raw: bytes) -> tuple[pymarc.Record, list[str]]:
    """One ISO 2709 record, decoded by what its bytes are rather than what its leader claims."""
    notes: list[str] = []
    if len(raw) < 24 or not raw[:5].isdigit():
        raise MarcProblem("leader is missing or its record length is not a number")
    claims_utf8 = raw[9:10] == b"a"
    body = raw[24:]
    if claims_utf8:
        try:
            body.decode("utf-8")
            kwargs = {"force_utf8": True}
        except UnicodeDecodeError:
            if b"\x1b" in body or not _looks_utf8(body):
                notes.append("leader says UTF-8 but the text is not valid UTF-8; invalid bytes replaced")
            kwargs = {"force_utf8": True, "utf8_handling": "replace"}
    elif _looks_utf8(body):
        notes.append("leader says MARC-8 but the text is UTF-8; read as UTF-8")
        kwargs = {"force_utf8": True}
    else:
        kwargs = {"force_utf8": False}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            record = pymarc.Record(data=raw, to_unicode=True, hide_utf8_warnings=True, **kwargs)
        except (pymarc.exceptions.PymarcException, ValueError, UnicodeError, IndexError) as exc:
            raise MarcProblem(_describe(exc)) from exc
    for w in caught:
        notes.append(str(w.message)[:120])
    if not record.fields:
        raise MarcProblem("record has no fields")
    notes.extend(_directory_problems(raw))
    if not kwargs["force_utf8"]:
        record.leader = Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    _normalize_nfc(record)
    return record, notes


def _directory_problems(raw: bytes) -> list[str]:
    """Directory entries whose field lies (partly) past the end of the record: pymarc keeps such a
    field empty or cut short without a word, so the record would lose it silently.

    >>> _directory_problems(b"00049    a2200037   4500001000400099\x1eabc\x1e\x1d")
    ['field 001 lies past the end of the record (directory entry points to byte 99); its data is lost']
    """
    try:
        base = int(raw[12:17])
    except ValueError:
        return []
    directory = raw[24:base - 1] if 24 < base <= len(raw) else b""
    data_length = len(raw) - base
    problems = []
    for i in range(0, len(directory) - 11, 12):
        entry = directory[i:i + 12]
        tag, length, start = entry[:3], entry[3:7], entry[7:12]
        if not (length.isdigit() and start.isdigit()):
            continue
        if int(start) + int(length) > data_length:
            problems.append(f"field {tag.decode('ascii', 'replace')} lies past the end of the record "
                            f"(directory entry points to byte {int(start)}); its data is lost")
    return problems


def _describe(exc: Exception) -> str:
    names = {
        "BaseAddressInvalid": "base address in the leader points past the end of the record",
        "BaseAddressNotFound": "base address of the data is missing",
        "RecordDirectoryInvalid": "directory is corrupt",
        "NoFieldsFound": "record has no fields",
        "RecordLengthInvalid": "record length in the leader is wrong",
        "FieldNotFound": "a field could not be found",
    }
    name = type(exc).__name__
    if name in names:
        return names[name]
    if isinstance(exc, UnicodeError):
        return f"text is not valid in the declared encoding ({exc.reason})"
    return f"{name}: {exc}"[:200]


def _normalize_nfc(record: pymarc.Record) -> None:
    for f in record.fields:
        if f.is_control_field():
            f.data = unicodedata.normalize("NFC", f.data)
        else:
            f.subfields = [Subfield(s.code, unicodedata.normalize("NFC", s.value)) for s in f.subfields]


def split_binary(data: bytes) -> Iterator[bytes]:
    """Raw records split on the record terminator (0x1D), so one bad length cannot desync the rest."""
    for chunk in data.split(b"\x1d"):
        chunk = chunk.lstrip(b"\r\n\x00 ")
        if chunk.strip(b"\x1e\x1f \r\n\x00"):
            yield chunk + b"\x1d"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _xml_roots(data: bytes):
    """Parse MARCXML with or without ``<collection>`` (several bare ``<record>``s are wrapped)."""
    try:
        return ET.fromstring(data)
    except (ET.ParseError, ValueError) as first:
        text = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data)
        try:
            return ET.fromstring(b"<collection>" + text + b"</collection>")
        except (ET.ParseError, ValueError):
            raise MarcProblem(f"XML is not well formed: {first}") from first


def xml_record(elem) -> tuple[pymarc.Record, list[str]]:
    notes: list[str] = []
    record = pymarc.Record(force_utf8=True)
    for child in elem:
        name = _local(child.tag)
        if name == "leader":
            text = (child.text or "").ljust(24)[:24]
            record.leader = Leader(text[:9] + "a" + text[10:])
        elif name == "controlfield":
            tag = (child.get("tag") or "").strip()
            record.add_field(Field(tag=tag.zfill(3), data=child.text or ""))
        elif name == "datafield":
            tag = (child.get("tag") or "").strip()
            if not (len(tag) == 3 and tag.isalnum()):
                notes.append(f"field with invalid tag {tag!r} kept as {tag.zfill(3)!r}")
                tag = tag.zfill(3)[:3]
            inds = [(child.get("ind1") or " ")[:1], (child.get("ind2") or " ")[:1]]
            subs = [Subfield((s.get("code") or "?")[:1], s.text or "") for s in child if _local(s.tag) == "subfield"]
            record.add_field(Field(tag=tag, indicators=inds, subfields=subs))
    if not record.fields:
        raise MarcProblem("record has no fields")
    _normalize_nfc(record)
    return record, notes


def read_marc(data: bytes) -> Iterator[tuple[int, pymarc.Record | None, list[str] | str]]:
    """Records of a MARC21 (ISO 2709) or MARCXML byte string, numbered from 1.

    Yields ``(number, record, notes)`` for a readable record and ``(number, None, reason)``
    for a broken one; the batch always goes on.
    """
    head = data.lstrip()[:200]
    if head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf<"):
        try:
            root = _xml_roots(data.lstrip(b"\xef\xbb\xbf"))
        except MarcProblem as exc:
            yield 1, None, str(exc)
            return
        records = [root] if _local(root.tag) == "record" else [e for e in root.iter() if _local(e.tag) == "record"]
        for n, elem in enumerate(records, 1):
            try:
                rec, notes = xml_record(elem)
            except MarcProblem as exc:
                yield n, None, str(exc)
            else:
                yield n, rec, notes
        return
    for n, raw in enumerate(split_binary(data), 1):
        try:
            rec, notes = decode_binary(raw)
        except MarcProblem as exc:
            yield n, None, str(exc)
        else:
            yield n, rec, notes


# --------------------------------------------------------------------------- mapping

LANGUAGE_ALIASES = {
    "id": "ind", "in": "ind", "ind": "ind", "indonesia": "ind", "indonesian": "ind", "bahasa indonesia": "ind",
    "en": "eng", "eng": "eng", "english": "eng", "inggris": "eng", "en-us": "eng", "en-gb": "eng",
    "ms": "may", "may": "may", "msa": "may", "ar": "ara", "ara": "ara", "arab": "ara", "nl": "dut",
    "jv": "jav", "jav": "jav", "jawa": "jav", "su": "sun", "sun": "sun", "fr": "fre", "de": "ger",
    "ja": "jpn", "zh": "chi", "he": "heb", "ru": "rus", "es": "spa", "hi": "hin", "ne": "nep",
}


def language_code(value: str | None) -> str | None:
    """A MARC language code from a MARC code, an ISO 639-1 code or a name; None if unknown."""
    if not value:
        return None
    v = value.strip().lower()
    if v in LANGUAGE_ALIASES:
        return LANGUAGE_ALIASES[v]
    if len(v) == 3 and v.isalpha() and v not in ("und", "zxx", "mul", "   "):
        return v
    return None


def _subs(field: Field, codes: str) -> list[str]:
    return [s.value for s in field.subfields if s.code in codes and s.value and s.value.strip()]


def _join(field: Field, codes: str, sep: str = " ") -> str:
    if sep == " ":
        return clean(sep.join(v.strip() for v in _subs(field, codes)))
    return sep.join(c for c in (clean(v) for v in _subs(field, codes)) if c)


RELATOR_CODES = {
    "aut": "author", "edt": "editor", "trl": "translator", "ill": "illustrator", "cmp": "composer",
    "ctb": "contributor", "pht": "photographer", "prf": "performer", "drt": "director", "nrt": "narrator",
    "ths": "thesis advisor", "com": "compiler", "pbl": "publisher", "cre": "author",
}
RELATOR_WORDS = {
    "author": "author", "editor": "editor", "ed": "editor", "eds": "editor", "translator": "translator",
    "tr": "translator", "trans": "translator", "illustrator": "illustrator", "ill": "illustrator",
    "compiler": "compiler", "comp": "compiler", "composer": "composer", "penerjemah": "translator",
    "penyunting": "editor", "editor.": "editor", "pengarang": "author", "penulis": "author",
}


def _role(field: Field, default: str) -> str:
    for code in _subs(field, "4"):
        code = code.strip().lower()[:3]
        if code in RELATOR_CODES:
            return RELATOR_CODES[code]
    for word in _subs(field, "e"):
        w = clean(word).lower()
        if w in RELATOR_WORDS:
            return RELATOR_WORDS[w]
        if w:
            return w[:40]
    return default


def _name(field: Field) -> tuple[str, str | None]:
    codes = "abcq" if field.tag[1:] in ("00",) else "abcdn" if field.tag[1:] == "11" else "ab"
    if field.tag[1:] == "00":
        name = clean(" ".join(_subs(field, codes)))
        dates = clean(" ".join(_subs(field, "d"))) or None
        return name.rstrip(","), dates
    return clean(" ".join(_subs(field, codes))), None


def material_type_of(leader: str, record: pymarc.Record) -> str:
    """Our material type from leader/06-07, 007, 245 $h and the thesis note 502."""
    rtype = leader[6:7]
    level = leader[7:8]
    gmd = " ".join(v.lower() for f in record.get_fields("245") for v in _subs(f, "h"))
    electronic = "electronic" in gmd or any(
        (f.data or "")[:1] == "c" for f in record.get_fields("007")
    )
    if record.get_fields("502") or re.search(r"\b(skripsi|tesis|thesis|disertasi|dissertation)\b", gmd):
        return "thesis"
    if rtype in ("a", "t"):
        if level in ("s", "i"):
            return "journal"
        if level in ("a", "b"):
            return "article"
        if rtype == "t":
            return "manuscript"
        return "ebook" if electronic else "book"
    return material_types.LEADER06.get(rtype, material_types.DEFAULT)


def _year(record: pymarc.Record) -> tuple[int | None, str | None]:
    for tag in ("264", "260"):
        for f in record.get_fields(tag):
            if tag == "264" and f.indicator2 not in ("1", " "):
                continue
            for c in _subs(f, "c"):
                m = _YEAR.search(c)
                if m:
                    return int(m.group(1)), clean(c)
    f008 = record.get_fields("008")
    if f008:
        y = (f008[0].data or "")[7:11]
        if y.isdigit() and 1000 <= int(y) <= 2100:
            return int(y), y
    return None, None


def _call_number(record: pymarc.Record) -> str | None:
    for tag, codes in (("090", "ab"), ("099", "a"), ("092", "ab"), ("082", "a"), ("050", "ab"),
                       ("084", "a"), ("060", "ab"), ("086", "a")):
        for f in record.get_fields(tag):
            v = " ".join(x.strip() for x in _subs(f, codes))
            if v:
                return v.replace("/", "")[:128] if tag == "082" else v[:128]
    return None


def _items(record: pymarc.Record, notes: list[str]) -> list[dict]:
    items = []
    for f in record.get_fields("852"):
        barcode = (_subs(f, "p") or [""])[0].strip()
        if not barcode:
            continue
        call = " ".join(x.strip() for x in _subs(f, "hi")) or " ".join(x.strip() for x in _subs(f, "kj")).strip()
        status = "available"
        note = " ".join(_subs(f, "z")).lower()
        if "missing" in note:
            status = "missing"
        elif "lost" in note:
            status = "lost"
        items.append({
            "barcode": barcode[:64], "call_number": call or None,
            "location": (_subs(f, "b") or _subs(f, "a") or [None])[0],
            "collection": (_subs(f, "c") or [None])[0], "copy_number": (_subs(f, "t") or [None])[0],
            "status": status,
        })
    for f in record.get_fields("952"):
        barcode = (_subs(f, "p") or [""])[0].strip()
        if not barcode:
            if _subs(f, "ab"):
                notes.append("952 without a barcode ($p) ignored")
            continue
        status = "available"
        if (_subs(f, "1") or ["0"])[0].strip() not in ("", "0"):
            status = "lost"
        elif (_subs(f, "0") or ["0"])[0].strip() not in ("", "0"):
            status = "not_for_loan"
        elif (_subs(f, "7") or ["0"])[0].strip() not in ("", "0"):
            status = "not_for_loan"
        items.append({
            "barcode": barcode[:64], "call_number": (_subs(f, "o") or [None])[0],
            "location": (_subs(f, "a") or _subs(f, "b") or [None])[0],
            "collection": (_subs(f, "8") or _subs(f, "c") or [None])[0],
            "copy_number": (_subs(f, "t") or [None])[0], "status": status,
        })
    return items


def fallback_control_number(title: str, author: str | None, year, isbns: list[str]) -> str:
    """A stable key for records without 001, so re-importing them updates instead of duplicating."""
    if isbns:
        return f"isbn{isbns[0]}"
    basis = "|".join([title.lower().strip(), (author or "").lower().strip(), str(year or "")])
    return "h" + hashlib.sha1(basis.encode(), usedforsecurity=False).hexdigest()[:16]


def marc_to_fields(record: pymarc.Record) -> tuple[dict, list[str]]:
    """Catalogue fields (and items) of a MARC record; raises MarcProblem when it has no title."""
    notes: list[str] = []
    leader = str(record.leader)
    f245 = (record.get_fields("245") or [None])[0]
    title = _join(f245, "anp") if f245 else ""
    subtitle = _join(f245, "b") if f245 else ""
    responsibility = _join(f245, "c") if f245 else ""
    if not title:
        for tag in ("246", "240", "130", "740"):
            for f in record.get_fields(tag):
                title = _join(f, "a")
                if title:
                    notes.append(f"no 245 $a: title taken from {tag}")
                    break
            if title:
                break
    if not title:
        raise MarcProblem("record has no title (245 $a)")

    authors = []
    for tag, default in (("100", "author"), ("110", "author"), ("111", "author"),
                         ("700", "contributor"), ("710", "contributor"), ("711", "contributor")):
        for f in record.get_fields(tag):
            name, dates = _name(f)
            if name:
                a = {"name": name, "role": _role(f, default), "kind": "person" if tag[1:] == "00" else "organization"}
                if dates:
                    a["dates"] = dates
                if not any(x["name"] == name for x in authors):
                    authors.append(a)
    subjects = []
    for tag in ("600", "610", "611", "630", "648", "650", "651", "653", "655"):
        for f in record.get_fields(tag):
            parts = [clean(v) for v in _subs(f, "abcdqtvxyz" if tag[1] != "5" or tag == "655" else "avxyz")]
            if tag == "653":
                parts = [clean(v) for v in _subs(f, "a")]
                for p in parts:
                    if p and p not in subjects:
                        subjects.append(p)
                continue
            heading = " -- ".join(p for p in parts if p)
            if heading and heading not in subjects:
                subjects.append(heading)

    isbns, bad = [], []
    for f in record.get_fields("020"):
        for raw in _subs(f, "a"):
            n = normalize_isbn(raw)
            if n:
                if n not in isbns:
                    isbns.append(n)
            else:
                c = compact(raw.split("(")[0])
                if c and c not in bad:
                    bad.append(c)
                    notes.append(f"invalid ISBN {raw.strip()!r} kept as typed")
    issns = []
    for f in record.get_fields("022"):
        for raw in _subs(f, "a"):
            n = normalize_issn(raw)
            if n and n not in issns:
                issns.append(n)

    publisher = place = None
    for tag in ("264", "260"):
        for f in record.get_fields(tag):
            if tag == "264" and f.indicator2 not in ("1", " "):
                continue
            publisher = publisher or _join(f, "b") or None
            place = place or _join(f, "a") or None
    year, _ = _year(record)

    languages = []
    f008 = record.get_fields("008")
    if f008 and len(f008[0].data or "") >= 38:
        code = language_code(f008[0].data[35:38])
        if code:
            languages.append(code)
    for f in record.get_fields("041"):
        for v in _subs(f, "a"):
            v = v.strip().lower()
            for i in range(0, len(v) - 2, 3):  # old records concatenate codes: "engfre"
                code = language_code(v[i : i + 3])
                if code and code not in languages:
                    languages.append(code)

    series = []
    for tag in ("490", "830", "440", "800", "810"):
        for f in record.get_fields(tag):
            s = _join(f, "atv" if tag[0] == "8" else "av", " ; ")
            if s and s not in series:
                series.append(s)
    notes_out = []
    for tag in ("500", "502", "504", "505", "546"):
        for f in record.get_fields(tag):
            s = _join(f, "agrt", " ")
            if s:
                notes_out.append(s)
    summary = " ".join(" ".join(v.strip() for v in _subs(f, "a")) for f in record.get_fields("520")).strip() or None
    links = []
    for f in record.get_fields("856"):
        for url in _subs(f, "u"):
            if url.startswith(("http://", "https://")):
                label = (_subs(f, "y") or _subs(f, "3") or _subs(f, "z") or [None])[0]
                links.append({"url": url.strip(), "label": clean(label) if label else None})
    edition = " ".join(_join(f, "ab") for f in record.get_fields("250")) or None
    physical = " ".join(_join(f, "abc") for f in record.get_fields("300")) or None

    cn_field = record.get_fields("001")
    control = (cn_field[0].data or "").strip() if cn_field else ""
    if not control:
        for f in record.get_fields("035"):
            control = (_subs(f, "a") or [""])[0].strip()
            if control:
                notes.append(f"no control number (001): {control} from 035 used")
                break
    if not control:
        control = fallback_control_number(title, authors[0]["name"] if authors else None, year, isbns)
        notes.append(f"no control number (001): {control} assigned")

    fields = {
        "control_number": control[:64],
        "title": title,
        "subtitle": subtitle or None,
        "responsibility": responsibility or None,
        "edition": edition,
        "publisher": publisher,
        "place": place,
        "year": year,
        "material_type": material_type_of(leader, record),
        "call_number": _call_number(record),
        "summary": summary,
        "physical": physical,
        "authors": authors,
        "subjects": subjects,
        "languages": languages,
        "isbns": isbns + bad,
        "issns": issns,
        "series": series,
        "notes": notes_out,
        "links": links,
        "items": _items(record, notes),
    }
    return fields, notes


# --------------------------------------------------------------------------- writing


def fields_to_marc(fields: dict, items: list[dict] | None = None) -> pymarc.Record:
    """A MARC21 record for catalogue fields (used for CSV/JSON input and for export)."""
    rec = pymarc.Record(force_utf8=True)
    tl = material_types.of(fields.get("material_type") or material_types.DEFAULT).leader
    rec.leader = Leader(f"00000n{tl} a2200000 i 4500")
    rec.add_field(Field(tag="001", data=str(fields["control_number"])))
    lang = (fields.get("languages") or ["und"])[0]
    year = str(fields.get("year") or "    ")
    rec.add_field(Field(tag="008", data=f"000000s{year:4.4}    xx            000 0 {lang:3.3} d"))
    for isbn in fields.get("isbns") or []:
        rec.add_field(Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", isbn)]))
    for issn in fields.get("issns") or []:
        rec.add_field(Field(tag="022", indicators=[" ", " "], subfields=[Subfield("a", issn)]))
    if len(fields.get("languages") or []) > 1:
        rec.add_field(Field(tag="041", indicators=["0", " "], subfields=[Subfield("a", c) for c in fields["languages"]]))
    if fields.get("call_number"):
        rec.add_field(Field(tag="090", indicators=[" ", " "], subfields=[Subfield("a", fields["call_number"])]))
    authors = fields.get("authors") or []
    for i, a in enumerate(authors):
        person = a.get("kind", "person") == "person"
        tag = ("100" if person else "110") if i == 0 and a.get("role") == "author" else ("700" if person else "710")
        subs = [Subfield("a", a["name"])]
        if a.get("dates"):
            subs.append(Subfield("d", a["dates"]))
        if a.get("role") and a["role"] not in ("author", "contributor") or (tag[0] == "7" and a.get("role") == "author"):
            subs.append(Subfield("e", a["role"]))
        rec.add_field(Field(tag=tag, indicators=["1" if person else "2", " "], subfields=subs))
    t = [Subfield("a", fields["title"])]
    if fields.get("material_type") == "ebook":
        t.append(Subfield("h", "[electronic resource]"))
    if fields.get("subtitle"):
        t.append(Subfield("b", fields["subtitle"]))
    if fields.get("responsibility"):
        t.append(Subfield("c", fields["responsibility"]))
    rec.add_field(Field(tag="245", indicators=["1" if authors else "0", "0"], subfields=t))
    if fields.get("edition"):
        rec.add_field(Field(tag="250", indicators=[" ", " "], subfields=[Subfield("a", fields["edition"])]))
    pub = []
    if fields.get("place"):
        pub.append(Subfield("a", fields["place"]))
    if fields.get("publisher"):
        pub.append(Subfield("b", fields["publisher"]))
    if fields.get("year"):
        pub.append(Subfield("c", str(fields["year"])))
    if pub:
        rec.add_field(Field(tag="264", indicators=[" ", "1"], subfields=pub))
    if fields.get("physical"):
        rec.add_field(Field(tag="300", indicators=[" ", " "], subfields=[Subfield("a", fields["physical"])]))
    for s in fields.get("series") or []:
        rec.add_field(Field(tag="490", indicators=["0", " "], subfields=[Subfield("a", s)]))
    for n in fields.get("notes") or []:
        rec.add_field(Field(tag="500", indicators=[" ", " "], subfields=[Subfield("a", n)]))
    if fields.get("material_type") == "thesis":
        rec.add_field(Field(tag="502", indicators=[" ", " "], subfields=[Subfield("a", "Thesis")]))
    if fields.get("summary"):
        rec.add_field(Field(tag="520", indicators=[" ", " "], subfields=[Subfield("a", fields["summary"])]))
    for s in fields.get("subjects") or []:
        parts = [p.strip() for p in s.split(" -- ")]
        subs = [Subfield("a", parts[0])] + [Subfield("x", p) for p in parts[1:]]
        rec.add_field(Field(tag="650", indicators=[" ", "4"], subfields=subs))
    for link in fields.get("links") or []:
        subs = [Subfield("u", link["url"])]
        if link.get("label"):
            subs.append(Subfield("y", link["label"]))
        rec.add_field(Field(tag="856", indicators=["4", "0"], subfields=subs))
    for it in items or []:
        subs = [Subfield("p", it["barcode"])]
        if it.get("location"):
            subs.append(Subfield("b", it["location"]))
        if it.get("collection"):
            subs.append(Subfield("c", it["collection"]))
        if it.get("call_number"):
            subs.append(Subfield("h", it["call_number"]))
        if it.get("copy_number"):
            subs.append(Subfield("t", str(it["copy_number"])))
        rec.add_field(Field(tag="852", indicators=[" ", " "], subfields=subs))
    return rec


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def scrub_controls(record: pymarc.Record) -> pymarc.Record:
    r"""Fold control characters in data (line breaks, tabs, and MARC's own delimiters 0x1D-0x1F, which
    would end a field or the record early) to a space, so an export stays one well-formed record.

    >>> r = pymarc.Record(); r.add_field(Field(tag="245", indicators=["0", "0"],
    ...     subfields=[Subfield("a", "Judul\x1e\x1dPalsu\r\nbaru")]))
    >>> scrub_controls(r)["245"]["a"]
    'Judul Palsu baru'
    """
    for field in record.get_fields():
        if field.is_control_field():
            field.data = _CONTROL.sub(" ", field.data or "")
        else:
            field.subfields = [Subfield(sf.code, _CONTROL.sub(" ", sf.value or "")) for sf in field.subfields]
    return record


def to_iso2709(record: pymarc.Record) -> bytes:
    scrub_controls(record)
    record.force_utf8 = True
    record.leader = Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    return record.as_marc()


def to_marcxml(record: pymarc.Record) -> bytes:
    return pymarc.record_to_xml(scrub_controls(record), namespace=True)


def from_iso2709(data: bytes) -> pymarc.Record:
    return pymarc.Record(data=data, to_unicode=True, force_utf8=True, utf8_handling="replace")


def write_collection(records, fmt: str, out: io.BufferedIOBase) -> int:
    """Write pymarc records as MARCXML (``xml``) or MARC21 (``mrc``); returns how many."""
    n = 0
    if fmt == "xml":
        out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="%s">\n' % MARCXML_NS.encode())
        for rec in records:
            out.write(pymarc.record_to_xml(scrub_controls(rec), namespace=False) + b"\n")
            n += 1
        out.write(b"</collection>\n")
    else:
        for rec in records:
            out.write(to_iso2709(rec))
            n += 1
    return n


# --------------------------------------------------------------------------- the same book in two catalogues


def system_numbers(raw: bytes | None) -> list[str]:
    """The 035 $a values of an ISO 2709 record, read from its directory without parsing the rest
    (it runs for every record of an index rebuild).

    >>> rec = fields_to_marc({"control_number": "1", "title": "T"})
    >>> rec.add_field(Field(tag="035", indicators=[" ", " "], subfields=[Subfield("a", "(OCoLC)12345")]))
    >>> system_numbers(to_iso2709(rec))
    ['(OCoLC)12345']
    """
    if not raw or len(raw) < 24:
        return []
    try:
        base = int(raw[12:17])
    except ValueError:
        return []
    out = []
    for pos in range(24, min(base, len(raw)) - 1, 12):
        entry = raw[pos : pos + 12]
        if entry[:3] != b"035" or len(entry) < 12:
            continue
        try:
            length, start = int(entry[3:7]), int(entry[7:12])
        except ValueError:
            continue
        data = raw[base + start : base + start + length].decode("utf-8", "replace")
        for sub in data.split("\x1f")[1:]:
            if sub[:1] == "a" and sub[1:].strip("\x1e\x1d "):
                out.append(sub[1:].strip("\x1e\x1d "))
    return out


def match_key(isbns: list[str], numbers: list[str]) -> str | None:
    """What makes two libraries' records the same book: the smallest valid ISBN-13, else the first
    035 with an organisation prefix (a bare local number would match unrelated books).

    >>> match_key(["9786020332956", "9789792248616"], [])
    'isbn:9786020332956'
    >>> match_key(["12345"], ["(OCoLC)ocm 0012345", "(Perpusnas)99"]), match_key([], ["4711"])
    ('035:(ocolc)12345', None)
    """
    valid = sorted(i for i in isbns or [] if len(i) == 13 and i.isdigit())
    if valid:
        return "isbn:" + valid[0]
    for n in numbers or []:
        n = re.sub(r"\s+", "", n).lower()
        m = re.match(r"^(\([^)]+\))(?:ocm|ocn|on)?0*(\S+)$", n)
        if m:
            return ("035:" + m.group(1) + m.group(2))[:80]
    return None
