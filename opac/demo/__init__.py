"""The demo catalogue: well-known Indonesian and English books with copies in three locations."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from ..catalog.models import Location, Record, utcnow
from ..catalog.services import LocationCache, upsert_record
from ..extensions import db

DATA = Path(__file__).with_name("books.txt")

LOCATIONS = (
    ("PUSAT", "Perpustakaan Pusat", "Jl. Pendidikan No. 1, Gedung A", True),
    ("FKIP", "Ruang Baca FKIP", "Gedung FKIP Lantai 2", True),
    ("REF", "Ruang Referensi", "Perpustakaan Pusat Lantai 3", False),
)


def _cutter(authors: list[dict], title: str) -> str:
    main = authors[0]["name"] if authors and authors[0].get("role") == "author" else title
    letters = re.sub(r"[^A-Za-z]", "", main.split(",")[0])[:3].upper() or "XXX"
    first = re.sub(r"^(the|a|an)\s+", "", title.lower()).strip()[:1]
    return f"{letters} {first}"


def parse_line(line: str) -> dict:
    parts = [p.strip() for p in line.split("|")]
    parts += [""] * (12 - len(parts))
    mtype, lang, ddc, year, title, subtitle, authors, publisher, place, edition, subjects, extra = parts[:12]
    people = []
    for a in filter(None, (x.strip() for x in authors.split(";"))):
        m = re.match(r"^(.*?)\s*\((editor|translator|director)\)$", a)
        name, role = (m.group(1), m.group(2)) if m else (a, "author")
        people.append({"name": name, "role": role, "kind": "person" if "," in name or " " not in name else "organization"})
    links = [{"url": extra, "label": "Project Gutenberg"}] if extra.startswith("http") else []
    fields = {
        "title": title,
        "subtitle": subtitle if subtitle and not subtitle.startswith("[") else None,
        "responsibility": None,
        "edition": edition or None,
        "publisher": publisher or None,
        "place": place or None,
        "year": int(year) if year else None,
        "material_type": mtype,
        "call_number": f"{ddc} {_cutter(people, title)}",
        "summary": None if extra.startswith("http") else (extra or None),
        "physical": None,
        "authors": people,
        "subjects": [s.strip() for s in subjects.split(";") if s.strip()],
        "languages": [lang],
        "isbns": [],
        "issns": [],
        "series": [],
        "notes": [],
        "links": links,
    }
    return fields


def demo_records() -> list[dict]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(parse_line(line))
    return out


def load_demo(force: bool = False) -> int:
    """Load the demo catalogue unless records exist (``force`` loads anyway; re-loading updates)."""
    if not force and db.session.scalar(select(func.count()).select_from(Record)):
        return 0
    for code, name, address, pickup in LOCATIONS:
        if db.session.scalar(select(Location).where(Location.code == code)) is None:
            db.session.add(Location(code=code, name=name, address=address, is_pickup=pickup,
                                    position=len(LOCATIONS)))
    db.session.flush()
    cache = LocationCache()
    records = demo_records()
    now = utcnow()
    barcode = 10000001
    for n, fields in enumerate(records):
        fields["control_number"] = f"DEMO{n + 1:05d}"
        reference = fields["material_type"] == "journal" or fields["call_number"].startswith(("423", "499.221 3", "025.431"))
        if fields["material_type"] == "ebook":
            copies = []
        elif reference:
            copies = [("REF", "not_for_loan")]
        else:
            count = 1 + (n * 7) % 3
            copies = [(("PUSAT", "FKIP")[c % 2] if c < 2 else "PUSAT", "available") for c in range(count)]
        items = []
        for c, (loc, status) in enumerate(copies):
            items.append({"barcode": str(barcode), "call_number": fields["call_number"], "location": loc,
                          "collection": "Referensi" if loc == "REF" else "Sirkulasi", "copy_number": str(c + 1),
                          "status": status})
            barcode += 1
        fields["items"] = items
        record, _outcome, _notes, _counts = upsert_record(fields, source="demo", locations=cache)
        # newer books arrived more recently: gives "new arrivals" a realistic order
        record.created_at = now - timedelta(days=max(0, 2030 - (fields["year"] or 1900)) * 3 + n % 5)
    from .faq import load_faq

    load_faq()
    db.session.commit()
    return len(records)
