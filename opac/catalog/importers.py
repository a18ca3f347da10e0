"""Turning input files into catalogue field dicts (no database access).

Formats: MARC21 binary (UTF-8 or MARC-8, whatever the leader says), MARCXML (with or without
``<collection>``), CSV and JSON lines with the columns documented in ``COLUMNS`` below.
Each yields ``(number, fields | None, notes | reason)`` so one broken record never stops a batch.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from .isbn import compact, normalize_isbn, normalize_issn
from .marc import MarcProblem, fallback_control_number, language_code, marc_to_fields, read_marc, to_iso2709
from .material_types import DEFAULT, NAMES
from .models import ITEM_STATUSES

#: Documented CSV / JSON-lines columns (first name is canonical; the others are accepted aliases).
#: Lists are JSON arrays in JSON lines and ``;``-separated in CSV.
COLUMNS = {
    "control_number": ("control_number", "id", "001", "biblio_id", "record_id"),
    "title": ("title", "judul"),
    "subtitle": ("subtitle",),
    "responsibility": ("responsibility", "sor", "statement_of_responsibility"),
    "authors": ("authors", "author", "pengarang"),
    "subjects": ("subjects", "subject", "topik"),
    "isbn": ("isbn", "isbns", "isbn_issn"),
    "issn": ("issn", "issns"),
    "publisher": ("publisher", "penerbit"),
    "place": ("place", "publish_place", "kota_terbit"),
    "year": ("year", "publish_year", "tahun"),
    "edition": ("edition", "edisi"),
    "languages": ("languages", "language", "language_id", "bahasa"),
    "material_type": ("material_type", "type", "gmd"),
    "call_number": ("call_number", "call_numbers", "classification"),
    "summary": ("summary", "abstract", "abstrak"),
    "physical": ("physical", "collation"),
    "series": ("series", "series_title"),
    "notes": ("notes", "note", "catatan"),
    "links": ("links", "url", "urls"),
    "items": ("items",),
    "barcodes": ("barcodes", "barcode"),
    "location": ("location", "item_location"),
    "item_call_number": ("item_call_number",),
    "collection": ("collection",),
}

#: Columns holding names or free text as a string or a list of strings (a number or true/false here
#: is a mistake in the file, reported); ``authors`` and ``links`` entries may also be objects.
NAME_LISTS = frozenset({"authors", "subjects", "series", "languages", "notes", "links"})
#: Limit of one CSV field (Python's csv default): a longer one is a broken file, reported per row.
CSV_FIELD_LIMIT = 128 * 1024


class RowTypeError(ValueError):
    """A JSON value of a type the column cannot hold (the line is reported and skipped)."""


def _type_name(v) -> str:
    return {bool: "true/false", int: "a number", float: "a number", dict: "an object", list: "a list"}.get(
        type(v), type(v).__name__)


def _scalar(v) -> str | None:
    """Text and numbers as text (``9786020312345`` is an ISBN); anything else is None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else str(v)
    return None


def _coerce_value(key: str, name: str, v):
    if key == "items":
        if isinstance(v, str):
            return v
        if not isinstance(v, list) or not all(isinstance(it, dict) for it in v):
            raise RowTypeError(f'"{name}" must be a list of objects, not {_type_name(v)}')
        out = []
        for it in v:
            item = {}
            for k, x in it.items():
                if x is not None and _scalar(x) is None:
                    raise RowTypeError(f'"{name}.{k}" must be text, not {_type_name(x)}')
                item[k] = _scalar(x)
            out.append(item)
        return out
    if key in NAME_LISTS:
        objects_ok = key in ("authors", "links")
        if isinstance(v, str):
            return v
        if isinstance(v, list) and all(isinstance(x, str) or (objects_ok and isinstance(x, dict)) for x in v):
            return v
        bad = v if not isinstance(v, list) else next(x for x in v if not isinstance(x, str | dict))
        raise RowTypeError(f'"{name}" must be text or a list of text, not {_type_name(bad)}')
    if _scalar(v) is not None:
        return _scalar(v)
    if isinstance(v, list) and all(_scalar(x) is not None for x in v):
        return [_scalar(x) for x in v]
    raise RowTypeError(f'"{name}" must be text, not {_type_name(v)}')


def coerce_types(obj: dict) -> dict:
    """The row with numbers in text columns turned into text; raises ``RowTypeError`` for a value
    no column can use (``"authors": 42``, ``"notes": true``)."""
    out = dict(obj)
    for key, names in COLUMNS.items():
        for name in names:
            if name in obj and obj[name] not in (None, ""):
                out[name] = _coerce_value(key, name, obj[name])
    return out


_PLACEHOLDER = {"", "-", "--", "n/a", "na", "none", "null", "[s.n.]", "s.n.", "[s.l.]", "s.l.", "?"}


def _get(obj: dict, key: str):
    for name in COLUMNS[key]:
        if name in obj and obj[name] not in (None, ""):
            return obj[name]
    return None


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, list):
        v = "; ".join(str(x) for x in v if x)
    s = re.sub(r"\s+", " ", str(v)).strip()
    return None if s.lower() in _PLACEHOLDER else s


def _list(v, sep=";") -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = v.split(sep) if sep in v else [v]
    out = []
    for x in v:
        t = _text(x)
        if t and t not in out:
            out.append(t)
    return out


def _authors(v) -> list[dict]:
    out = []
    for entry in v if isinstance(v, list) else _list(v):
        if isinstance(entry, dict):
            name = _text(entry.get("name"))
            role = _text(entry.get("role")) or "author"
        else:
            name, role = _text(entry), "author"
            m = re.match(r"^(.*?)\s*\((editor|translator|illustrator|penyunting|penerjemah|ed\.|eds\.|trans\.)\)$",
                         name or "", re.I)
            if m:
                name = m.group(1)
                role = {"penyunting": "editor", "penerjemah": "translator", "ed.": "editor", "eds.": "editor",
                        "trans.": "translator"}.get(m.group(2).lower(), m.group(2).lower())
        if name and not any(a["name"] == name for a in out):
            out.append({"name": name.rstrip(",. "), "role": role if out or role != "author" else "author",
                        "kind": "person"})
    return out


def material_type_from(value) -> str | None:
    """The material type a type/gmd column names (a code, or one of the names in ``material_types``).

    >>> material_type_from("[Skripsi]"), material_type_from("ebook"), material_type_from("brosur")
    ('thesis', 'ebook', None)
    """
    return NAMES.get((_text(value) or "").lower().strip("[]"))


def _call_number(v) -> str | None:
    values = _list(v) if not isinstance(v, str) else [v]
    best = None
    for cn in values:
        cn = _text(cn)
        if not cn:
            continue
        scheme, sep, rest = cn.partition(":")
        if sep and scheme in ("050", "082", "LCC", "DDC", "090", "084", "060"):
            cn = rest.strip()
            if scheme in ("082", "DDC", "090", "084"):
                return cn[:128]
        best = best or cn
    return best[:128] if best else None


def _links(v) -> list[dict]:
    out = []
    for x in v if isinstance(v, list) else _list(v):
        if isinstance(x, dict):
            url, label = x.get("url"), x.get("label")
        else:
            url, label = x, None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            out.append({"url": url, "label": label})
    return out


def _items(obj: dict, notes: list[str]) -> list[dict]:
    items = []
    raw = obj.get("items")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if isinstance(raw, list):
        for it in raw:
            if not isinstance(it, dict):
                continue
            barcode = _text(it.get("barcode"))
            if not barcode:
                notes.append("an item without a barcode was skipped")
                continue
            status = (_text(it.get("status")) or "available").lower().replace(" ", "_")
            items.append({
                "barcode": barcode[:64], "call_number": _text(it.get("call_number")),
                "location": _text(it.get("location")), "collection": _text(it.get("collection")),
                "copy_number": _text(it.get("copy_number")),
                "status": status if status in ITEM_STATUSES else "available",
            })
    for barcode in _list(_get(obj, "barcodes")):
        items.append({"barcode": barcode[:64], "call_number": _text(_get(obj, "item_call_number")),
                      "location": _text(_get(obj, "location")), "collection": _text(_get(obj, "collection")),
                      "copy_number": None, "status": "available"})
    return items


def row_to_fields(obj: dict) -> tuple[dict, list[str]]:
    """Catalogue fields from one CSV row / JSON object (raises MarcProblem without a title,
    RowTypeError for a value of the wrong type)."""
    notes: list[str] = []
    obj = coerce_types(obj)
    title = _text(_get(obj, "title"))
    if not title:
        raise MarcProblem("record has no title")
    isbns, bad = [], []
    for raw in _list(_get(obj, "isbn")):
        n = normalize_isbn(raw)
        if n:
            if n not in isbns:
                isbns.append(n)
        else:
            c = compact(raw)
            if c and c not in bad:
                bad.append(c)
                notes.append(f"invalid ISBN {raw!r} kept as typed")
    issns = [i for i in (normalize_issn(x) for x in _list(_get(obj, "issn"))) if i]
    year = None
    y = _text(_get(obj, "year"))
    if y:
        m = re.search(r"(1[0-9]{3}|20[0-9]{2})", y)
        if m:
            year = int(m.group(1))
        else:
            notes.append(f"year {y!r} not understood")
    languages = []
    for lv in _list(_get(obj, "languages")):
        code = language_code(lv)
        if code and code not in languages:
            languages.append(code)
    mt = _get(obj, "material_type")
    material_type = material_type_from(mt) or DEFAULT
    if mt and not material_type_from(mt):
        notes.append(f"material type {mt!r} not known; {DEFAULT!r} used")
    authors = _authors(_get(obj, "authors"))
    control = _text(_get(obj, "control_number"))
    if not control:
        control = fallback_control_number(title, authors[0]["name"] if authors else None, year, isbns)
        notes.append(f"no control number: {control} assigned")
    fields = {
        "control_number": control[:64],
        "title": title,
        "subtitle": _text(obj.get("subtitle")),
        "responsibility": _text(_get(obj, "responsibility")),
        "edition": _text(_get(obj, "edition")),
        "publisher": _text(_get(obj, "publisher")),
        "place": _text(_get(obj, "place")),
        "year": year,
        "material_type": material_type,
        "call_number": _call_number(_get(obj, "call_number")),
        "summary": _text(_get(obj, "summary")),
        "physical": _text(_get(obj, "physical")),
        "authors": authors,
        "subjects": _list(_get(obj, "subjects")),
        "languages": languages,
        "isbns": isbns + bad,
        "issns": issns,
        "series": _list(_get(obj, "series")),
        "notes": _list(_get(obj, "notes"), sep="\n"),
        "links": _links(_get(obj, "links")),
        "items": _items(obj, notes),
    }
    return fields, notes


def detect_format(name: str, head: bytes) -> str:
    """``marc``, ``xml``, ``csv`` or ``jsonl`` from the file name, else from the first bytes."""
    lower = name.lower()
    for ext, fmt in ((".xml", "xml"), (".marcxml", "xml"), (".csv", "csv"), (".jsonl", "jsonl"),
                     (".ndjson", "jsonl"), (".json", "jsonl"), (".mrc", "marc"), (".marc", "marc"),
                     (".dat", "marc"), (".iso", "marc"), (".iso2709", "marc")):
        if lower.endswith(ext):
            return fmt
    h = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if h.startswith(b"<"):
        return "xml"
    if h.startswith(b"{"):
        return "jsonl"
    if h[:5].isdigit():
        return "marc"
    return "csv"


def read_records(data: bytes, fmt: str) -> Iterator[tuple[int, dict | None, list[str] | str, bytes | None]]:
    """``(number, fields, notes, marc_bytes)`` for readable records, ``(number, None, reason, None)`` else."""
    if fmt in ("marc", "xml"):
        for n, rec, notes in read_marc(data):
            if rec is None:
                yield n, None, notes, None
                continue
            try:
                fields, more = marc_to_fields(rec)
                marc_bytes = to_iso2709(rec)
            except MarcProblem as exc:
                yield n, None, str(exc), None
                continue
            except Exception as exc:  # noqa: BLE001 - any mapping failure is this record's problem
                yield n, None, f"could not be read ({type(exc).__name__}: {exc})"[:200], None
                continue
            yield n, fields, list(notes) + more, marc_bytes
        return
    if fmt == "jsonl":
        text = data.decode("utf-8-sig", errors="replace")
        stripped = text.lstrip()
        if stripped.startswith("["):  # a JSON array is accepted too
            try:
                rows = json.loads(stripped)
            except ValueError as exc:
                yield 1, None, f"not valid JSON ({exc})", None
                return
            lines = [json.dumps(r) for r in rows]
        else:
            lines = text.splitlines()
        array = stripped.startswith("[")
        for number, line in enumerate(lines, 1):  # a line number (a position in an array)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                fields, notes = row_to_fields(obj)
            except (ValueError, MarcProblem) as exc:
                what = "entry" if array else "line"
                yield number, None, f"{what} is not a usable record ({exc})"[:200], None
                continue
            except Exception as exc:  # noqa: BLE001 - any mapping failure is this line's problem
                yield number, None, f"could not be read ({type(exc).__name__}: {exc})"[:200], None
                continue
            yield number, fields, notes, None
        return
    yield from _read_csv(data.decode("utf-8-sig", errors="replace"))


def _read_csv(text: str):
    """CSV rows, numbered from 1 after the header; a broken row (a field over ``CSV_FIELD_LIMIT``,
    say) is reported with its number and the rest is read."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, len(text) + 1))  # measured per field below, row by row
    try:
        reader = csv.DictReader(io.StringIO(text))
        try:
            reader.fieldnames  # noqa: B018 - reads the header now, inside the raised limit
        except csv.Error as exc:
            yield 1, None, f"the header row cannot be read ({exc})", None
            return
        for n, row in enumerate(reader, 1):
            too_long = [k for k, v in row.items() if isinstance(v, str) and len(v) > CSV_FIELD_LIMIT]
            if too_long:
                yield n, None, f"field {too_long[0]!r} is longer than {CSV_FIELD_LIMIT // 1024} KB", None
                continue
            try:
                fields, notes = row_to_fields({(k or "").strip().lower(): v for k, v in row.items()})
            except (MarcProblem, ValueError) as exc:
                yield n, None, str(exc), None
                continue
            except Exception as exc:  # noqa: BLE001 - any mapping failure is this row's problem
                yield n, None, f"could not be read ({type(exc).__name__}: {exc})"[:200], None
                continue
            yield n, fields, notes, None
    finally:
        csv.field_size_limit(old_limit)
