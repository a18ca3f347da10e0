"""Index documents built from catalogue records: one small builder per field."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import NamedTuple

from ..catalog import material_types
from ..catalog.isbn import isbn_forms
from ..catalog.marc import match_key, system_numbers
from ..partners.models import PartnerRecord
from .analysis import fold, normalize_phrase, words

SEP = "\x1f"
#: The Library facet's value for our own records (partner names may not take it).
LOCAL = "local"

LEADING_ARTICLES = ("the ", "a ", "an ", "le ", "la ", "les ", "l'", "der ", "die ", "das ", "el ", "il ")

def key64(text: str, part: int = 0) -> int:
    """Bytes ``8*part .. 8*part+8`` of a folded sort string as an unsigned 64-bit int; two parts
    order like the first 16 bytes of the string.

    >>> key64("kalkulus jilid 1", 1) < key64("kalkulus jilid 2", 1)
    True
    """
    b = text.encode("utf-8")[8 * part : 8 * part + 8].ljust(8, b"\0")
    return int.from_bytes(b, "big")


def hash64(text: str) -> int:
    """Signed 64-bit hash of a normalised phrase (exact-title detection); 0 stays 'none'."""
    if not text:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True) or 1


def sort_title(title: str) -> str:
    t = " ".join(words(title))
    for art in LEADING_ARTICLES:
        if t.startswith(art) and len(t) > len(art):
            return t[len(art):]
    return t


def normalize_call_number(cn: str) -> str:
    """Call numbers compared as typed, ignoring case, spacing and punctuation between parts.

    >>> normalize_call_number(" 005.133 PYT  j"), normalize_call_number("<899.221 3 Tor b>")
    ('005.133 pyt j', '899.221 3 tor b')
    """
    out = []
    for part in (cn or "").replace("<", " ").replace(">", " ").split():
        p = fold(part).strip(",;:")
        if p:
            out.append(p)
    return " ".join(out)


class ItemFacts(NamedTuple):
    """What the index knows of a copy: the same whether read as an ORM item or as a plain row."""

    barcode: str
    call_number: str | None
    status: str
    location_code: str | None

    @classmethod
    def of(cls, item) -> ItemFacts:
        return cls(item.barcode, item.call_number, item.status,
                   item.location.code if item.location is not None else None)


def availability(items) -> dict:
    """Counts of a record's items by status, plus a summary: available / total (withdrawn copies left out)."""
    counts: dict[str, int] = {}
    items = [it for it in items if it.status != "withdrawn"]
    for it in items:
        counts[it.status] = counts.get(it.status, 0) + 1
    loanable = sum(v for k, v in counts.items() if k not in ("lost", "missing"))
    return {"total": len(items), "available": counts.get("available", 0), "holdable": loanable, "by_status": counts}


_NAME_HEADING = re.compile(r"^([^,()]+), ([^,()0-9]+?)(?: \([^)]*\))?(?:, [^,]*\d.*)?$")


def heading_lines(title: str, series: list[str], subjects: list[str]) -> list[str]:
    """The lines whose word pairs make the ``headings`` field: the title, each series, each part
    of each subject heading, and a personal name heading also in reading order.

    >>> heading_lines("Bleak house", [], ["Dickens, Charles, 1812-1870 -- Criticism", "Climate change"])
    ['Bleak house', 'Dickens, Charles, 1812-1870', 'Charles Dickens', 'Criticism', 'Climate change']
    """
    lines = [title, *series]
    for s in subjects:
        for part in s.split(" -- "):
            part = part.strip(" .")
            if not part:
                continue
            lines.append(part)
            m = _NAME_HEADING.match(part)
            if m:
                lines.append(f"{m.group(2)} {m.group(1)}")
    return lines


def _lang_marker(record) -> str:
    langs = record.languages or []
    return f"\x02{langs[0] if langs else ''}\x03"


def is_public(record) -> bool:
    """Whether a record belongs in the search index: partners' records always, ours when patrons
    may reach them (``Record.is_public``)."""
    return isinstance(record, PartnerRecord) or record.is_public


def doc_id(record) -> int:
    """A record's id in the index and the change feed: partner records count down from -1.

    >>> doc_id(PartnerRecord(id=7))
    -7
    """
    return -record.id if isinstance(record, PartnerRecord) else record.id


def build_document(record, items: list[ItemFacts] | None = None) -> dict:
    """The index document of a record and its items (``items`` given, or the ORM record's with their
    locations loaded), or of a partner's record (no items: the hit names the library and links to
    its page). ``record`` is an ORM object or a row with the same column names (a full reindex)."""
    partner = record.partner if isinstance(record, PartnerRecord) else None
    if partner:
        items = []
    elif items is None:
        items = [ItemFacts.of(it) for it in record.items]
    marker = _lang_marker(record)
    authors = [a["name"] for a in record.authors or []]
    subjects = list(record.subjects or [])
    isbn_terms = []
    for i in record.isbns or []:
        isbn_terms.extend(isbn_forms(i) if len(i) == 13 else (i,))
    for s in record.issns or []:
        isbn_terms.extend((s, s.replace("-", "")))
    call_numbers = [record.call_number] if record.call_number else []
    call_numbers += [it.call_number for it in items if it.call_number]
    call_norm = list(dict.fromkeys(normalize_call_number(c) for c in call_numbers if c))
    title_text = record.title + (" " + record.subtitle if record.subtitle else "")
    all_parts = [
        title_text, record.responsibility or "", " ".join(authors), " ".join(subjects),
        " ".join(record.series or []), record.publisher or "", record.place or "", record.edition or "",
        record.summary or "", " ".join(record.notes or []), " ".join(isbn_terms), " ".join(call_numbers),
        record.control_number, str(record.year or ""), material_types.of(record.material_type).index_words,
        " ".join(it.barcode for it in items),
    ]
    avail = availability(items)
    locations = sorted({it.location_code for it in items if it.location_code is not None})
    created = record.created_at or datetime(1970, 1, 1)
    key = record.match_key if partner else match_key(record.isbns, system_numbers(record.marc))
    hit = {
        "id": doc_id(record),
        "control_number": record.control_number,
        "title": record.title,
        "subtitle": record.subtitle,
        "authors": authors,
        "subjects": subjects[:6],
        "year": record.year,
        "material_type": record.material_type,
        "languages": list(record.languages or []),
        "isbns": [i for i in record.isbns or [] if len(i) == 13 and i.isdigit()],
        "call_number": record.call_number or next((it.call_number for it in items if it.call_number), None),
        "publisher": record.publisher,
        "edition": record.edition,
        "availability": {"total": avail["total"], "available": avail["available"]},
        "locations": locations,
        "cover_url": record.cover_url,
    }
    if partner:
        hit.update(library=partner.name, url=record.page_url())
        del hit["availability"], hit["locations"]
    all_text = "\n".join(p for p in all_parts if p)
    title_key = sort_title(record.title)
    author_key = " ".join(words(authors[0])) if authors else "\uffff"
    return {
        "id": str(doc_id(record)),
        "all": marker + all_text,
        "shingles": all_text,
        "headings": "\n".join(heading_lines(title_text, list(record.series or []), subjects)),
        "title": marker + title_text + ("\n" + "\n".join(record.series) if record.series else ""),
        "author": marker + "\n".join(authors + ([record.responsibility] if record.responsibility else [])),
        "subject": marker + "\n".join(subjects),
        "publisher": marker + (record.publisher or ""),
        "series": marker + "\n".join(record.series or []),
        "isbn": SEP.join(t.lower() for t in isbn_terms),
        "callnumber": SEP.join(call_norm),
        "control": fold(record.control_number),
        "f_type": record.material_type or "other",
        "f_lang": SEP.join(record.languages or []),
        "f_subject": SEP.join(dict.fromkeys(s.split(" -- ")[0].strip() for s in subjects if s.strip())),
        "f_author": SEP.join(authors),
        "f_loc": SEP.join(locations),
        "f_avail": "1" if avail["available"] else "0",
        "f_library": partner.name if partner else LOCAL,
        "dup_key": hash64(key or ""),
        "year": int(record.year or 0),
        "added": int(created.timestamp() // 86400) if created.year > 1970 else 0,
        "sort_title": key64(title_key),
        "sort_title2": key64(title_key, 1),
        "sort_author": key64(author_key),
        "sort_author2": key64(author_key, 1),
        "title_key": hash64(normalize_phrase(record.title)),
        "full_title_key": hash64(normalize_phrase(title_text)),
        "holdings": avail["total"],
        "hit": json.dumps(hit, ensure_ascii=False, separators=(",", ":")),
    }
