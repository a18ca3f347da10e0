"""Citations (APA 7, MLA 9, Chicago 17 bibliography) and RIS / BibTeX exports of a record.

Names in MARC are inverted (``Hirata, Andrea``); Indonesian data often has them as written
(``Andrea Hirata``) or as one name (``Soekarno``): all three forms are handled.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from . import material_types


def split_name(name: str) -> tuple[str, str]:
    """(family, given) of a personal name.

    >>> split_name("Hirata, Andrea"), split_name("Pramoedya Ananta Toer"), split_name("Soekarno")
    (('Hirata', 'Andrea'), ('Toer', 'Pramoedya Ananta'), ('Soekarno', ''))
    """
    name = re.sub(r"\s+", " ", name or "").strip().rstrip(",.")
    if "," in name:
        family, given = name.split(",", 1)
        return family.strip(), given.strip()
    parts = name.split(" ")
    if len(parts) == 1:
        return parts[0], ""
    return parts[-1], " ".join(parts[:-1])


def _initials(given: str) -> str:
    return " ".join(p[0] + "." for p in re.split(r"[\s-]+", given) if p and p[0].isalpha())


def _persons(record) -> list[dict]:
    return [a for a in record.authors or [] if a.get("role") in ("author", "contributor", None, "editor")] or []


def _title(record) -> str:
    return f"{record.title}: {record.subtitle}" if record.subtitle else record.title


def _edition(record) -> str:
    return (record.edition or "").strip().rstrip(".")


def apa(record) -> Markup:
    names = []
    for a in _persons(record)[:20]:
        if a.get("kind") == "organization":
            names.append(a["name"])
            continue
        family, given = split_name(a["name"])
        names.append(f"{family}, {_initials(given)}".rstrip(", ") if given else family)
    if len(names) > 1:
        # "Hirata, A., & Toer, P. A." but "Dimyati & Mudjiono" for single names
        sep = ", & " if "," in names[-2] else " & "
        authors = ", ".join(names[:-1]) + sep + names[-1]
    else:
        authors = names[0] if names else ""
    year = f"({record.year})" if record.year else "(n.d.)"
    ed = f" ({_edition(record)})" if _edition(record) else ""
    pub = f" {record.publisher}." if record.publisher else ""
    lead = f"{escape(authors)} {year}. " if authors else ""
    title_first = "" if authors else f"{year}. "
    # every interpolated value below is escaped
    return Markup(  # noqa: S704
        f"{lead}<i>{escape(_title(record))}</i>{escape(ed)}. {escape(title_first)}{escape(pub.strip())}".strip())


def mla(record) -> Markup:
    people = _persons(record)
    if not people:
        authors = ""
    else:
        family, given = split_name(people[0]["name"])
        first = f"{family}, {given}" if given else family
        if len(people) == 2:
            f2, g2 = split_name(people[1]["name"])
            authors = f"{first}, and {(g2 + ' ' + f2).strip()}"
        elif len(people) > 2:
            authors = f"{first}, et al"
        else:
            authors = first
    parts = []
    if _edition(record):
        parts.append(_edition(record))
    if record.publisher:
        parts.append(record.publisher)
    if record.year:
        parts.append(str(record.year))
    tail = ", ".join(parts)
    lead = f"{escape(authors)}. " if authors else ""
    # every interpolated value below is escaped
    return Markup(  # noqa: S704
        f"{lead}<i>{escape(_title(record))}</i>. {escape(tail)}{'.' if tail else ''}".strip())


def chicago(record) -> Markup:
    people = _persons(record)
    names = []
    for i, a in enumerate(people[:10]):
        family, given = split_name(a["name"])
        names.append((f"{family}, {given}" if i == 0 else f"{given} {family}").strip(", "))
    if len(names) > 1:
        authors = ", ".join(names[:-1]) + ", and " + names[-1]
    else:
        authors = names[0] if names else ""
    ed = f" {_edition(record)}." if _edition(record) else ""
    where = ": ".join(x for x in (record.place, record.publisher) if x)
    imprint = ", ".join(x for x in (where, str(record.year) if record.year else "") if x)
    lead = f"{escape(authors)}. " if authors else ""
    # every interpolated value below is escaped
    return Markup(  # noqa: S704
        f"{lead}<i>{escape(_title(record))}</i>.{escape(ed)} {escape(imprint)}{'.' if imprint else ''}".strip())


#: every line break Python, RIS readers or BibTeX parsers might honour (CR, LF, VT, FF, NEL, LS, PS, …)
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def one_line(value) -> str:
    """A field value folded onto one line, so it cannot end its record or start a new one.

    >>> one_line("Judul\\r\\nER  - \\r\\nTY  - BOOK")
    'Judul ER  -  TY  - BOOK'
    """
    return _LINE_BREAKS.sub(" ", str(value or "")).strip()


def ris(record, url: str | None = None) -> str:
    lines = [f"TY  - {material_types.of(record.material_type).ris}", f"TI  - {one_line(_title(record))}"]
    for a in record.authors or []:
        tag = "A2" if a.get("role") == "editor" else "AU"
        lines.append(f"{tag}  - {one_line(a['name'])}")
    if record.year:
        lines.append(f"PY  - {record.year}")
    for tag, value in (("PB", record.publisher), ("CY", record.place), ("ET", record.edition),
                       ("CN", record.call_number), ("AB", record.summary)):
        if value:
            lines.append(f"{tag}  - {one_line(value)}")
    for i in record.isbns or []:
        lines.append(f"SN  - {one_line(i)}")
    for s in record.subjects or []:
        lines.append(f"KW  - {one_line(s)}")
    for lang in record.languages or []:
        lines.append(f"LA  - {one_line(lang)}")
    if url:
        lines.append(f"UR  - {one_line(url)}")
    lines.append(f"ID  - {one_line(record.control_number)}")
    lines.append("ER  - ")
    return "\r\n".join(lines) + "\r\n"


def _bib_escape(s: str) -> str:
    return re.sub(r"([{}\\%&$#_])", r"\\\1", one_line(s))


def bibtex(record, url: str | None = None) -> str:
    kind = material_types.of(record.material_type).bibtex
    first = split_name(record.authors[0]["name"])[0] if record.authors else "anon"
    key = re.sub(r"[^A-Za-z0-9]", "", first.lower())[:20] + str(record.year or "") + re.sub(
        r"[^a-z0-9]", "", (record.title.split() or ["x"])[0].lower())[:12]
    fields = [("title", _title(record))]
    people = [a["name"] for a in record.authors or [] if a.get("role") != "editor"]
    editors = [a["name"] for a in record.authors or [] if a.get("role") == "editor"]
    if people:
        fields.append(("author", " and ".join(people)))
    if editors:
        fields.append(("editor", " and ".join(editors)))
    for name, value in (("year", record.year), ("publisher", record.publisher), ("address", record.place),
                        ("edition", record.edition), ("isbn", ", ".join(record.isbns or []) or None),
                        ("url", url), ("note", f"Call number {record.call_number}" if record.call_number else None)):
        if value:
            fields.append((name, str(value)))
    body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields)
    return f"@{kind}{{{key or 'record'},\n{body}\n}}\n"


def coins(data: dict, url: str | None = None, referrer: str | None = None) -> str:
    """The OpenURL ContextObject (Z39.88-2004, KEV) for a COinS ``<span class="Z3988" title=…>``.

    ``data`` holds title, subtitle, authors (names), year, publisher, place, edition, isbns,
    material_type: a search hit's data or :func:`coins_data` of a record.

    >>> coins({"title": "Laskar Pelangi", "authors": ["Hirata, Andrea"], "year": 2005, "isbns": ["9789793062792"]})
    'ctx_ver=Z39.88-2004&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Abook&rft.genre=book&rft.btitle=Laskar+Pelangi&rft.au=Hirata%2C+Andrea&rft.date=2005&rft.isbn=9789793062792'
    """
    from urllib.parse import urlencode

    genre = material_types.of(data.get("material_type")).coins_genre
    journal = genre in ("journal", "article")
    title = f"{data['title']}: {data['subtitle']}" if data.get("subtitle") else data.get("title") or ""
    pairs = [("ctx_ver", "Z39.88-2004"),
             ("rft_val_fmt", "info:ofi/fmt:kev:mtx:" + ("journal" if journal else "book"))]
    if referrer:
        pairs.append(("rfr_id", referrer))
    if url:
        pairs.append(("rft_id", url))
    pairs += [("rft.genre", genre), ("rft.jtitle" if genre == "journal" else "rft.atitle" if journal else "rft.btitle",
                                     title)]
    pairs += [("rft.au", a) for a in (data.get("authors") or [])[:10]]
    for key, value in (("rft.date", data.get("year")), ("rft.pub", data.get("publisher")),
                       ("rft.place", data.get("place")), ("rft.edition", data.get("edition"))):
        if value:
            pairs.append((key, str(value)))
    pairs += [("rft.isbn", i) for i in (data.get("isbns") or [])[:3]]
    return urlencode(pairs)


def coins_data(record) -> dict:
    return {"title": record.title, "subtitle": record.subtitle, "authors": record.author_names, "year": record.year,
            "publisher": record.publisher, "place": record.place, "edition": record.edition,
            "isbns": record.isbns, "material_type": record.material_type}
