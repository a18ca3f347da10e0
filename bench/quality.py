"""Known-item search quality on the real catalogue: success@1 and @10 per kind of query.

Known items are drawn with a fixed seed from the MARC-derived records (Evergreen, Temple, Koha,
Open Library) and the Indonesian records of the real catalogue; each query singles out one
record (or its exact duplicates: same title, first author and year, which no query can tell
apart). Kinds: exact title, author surname + title words, ISBN (hyphenated 13 or ISBN-10),
Indonesian title with an affixed word replaced by its root, one-letter typo (found directly or
through "did you mean").
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import defaultdict
from pathlib import Path

MARC_SOURCES = ("evergreen", "temple_tul_cob", "koha_misc4dev", "openlibrary_tests", "pymarc")


def _norm(s):
    from opac.search.analysis import normalize_phrase

    return normalize_phrase(s or "")


def hyphenate13(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3:6]}-{isbn[6:9]}-{isbn[9:12]}-{isbn[12]}"


def to_isbn10(isbn13: str) -> str | None:
    if not isbn13.startswith("978"):
        return None
    d9 = isbn13[3:12]
    total = sum((10 - i) * int(c) for i, c in enumerate(d9))
    r = (11 - total % 11) % 11
    return d9 + ("X" if r == 10 else str(r))


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["sub", "del", "ins", "swap"])
    letters = "abcdefghijklmnopqrstuvwxyz"
    if op == "sub":
        return word[:i] + rng.choice([c for c in letters if c != word[i]]) + word[i + 1:]
    if op == "del":
        return word[:i] + word[i + 1:]
    if op == "ins":
        return word[:i] + rng.choice(letters) + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:] if i + 1 < len(word) else word[:-1]


def build_cases(db_path: Path, per_kind: int = 45, seed: int = 2026) -> list[dict]:
    from opac.search.analysis import STOP_WORDS, stem_id, words

    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT id, control_number, title, subtitle, authors, year, isbns, languages FROM record").fetchall()
    conn.close()
    recs = []
    for rid, cn, title, subtitle, authors, year, isbns, langs in rows:
        authors = [a["name"] for a in json.loads(authors or "[]")]
        recs.append({"id": rid, "cn": cn, "title": title, "subtitle": subtitle, "authors": authors, "year": year,
                     "isbns": [i for i in json.loads(isbns or "[]") if len(i) == 13], "langs": json.loads(langs or "[]")})
    key = lambda r: (_norm(r["title"]), _norm(r["authors"][0]) if r["authors"] else "", r["year"])  # noqa: E731
    groups = defaultdict(set)
    by_title = defaultdict(set)
    for r in recs:
        groups[key(r)].add(r["id"])
        by_title[_norm(r["title"])].add(key(r))
    eligible_src = [r for r in recs if r["cn"].split(":")[0] in MARC_SOURCES]
    indonesian = [r for r in recs if "/" in r["cn"].split(":")[0]]  # "<repo>:<biblio_id>" ids of the Indonesian set
    rng = random.Random(seed)
    pool = eligible_src + indonesian
    rng.shuffle(pool)
    cases = []
    counts = defaultdict(int)

    def add(kind, q, r):
        cases.append({"kind": kind, "q": q, "target": r["id"], "ok": groups[key(r)], "title": r["title"]})
        counts[kind] += 1

    for r in pool:
        nt = _norm(r["title"])
        tw = [w for w in words(r["title"]) if w not in STOP_WORDS]
        unique_title = len(by_title[nt]) == 1 and len(tw) >= 2
        if counts["exact_title"] < per_kind and unique_title and len(r["title"]) < 120:
            add("exact_title", r["title"], r)
            continue
        if counts["author_title"] < per_kind and r["authors"] and len(tw) >= 2:
            surname = [w for w in words(r["authors"][0].split(",")[0]) if len(w) > 2]
            distinct = sorted(set(tw), key=lambda w: (-len(w), w))[:2]  # no set order: fixed cases
            if surname and len(distinct) == 2:
                add("author_title", f"{surname[0]} {distinct[0]} {distinct[1]}", r)
                continue
        if counts["isbn"] < per_kind and r["isbns"]:
            isbn = r["isbns"][0]
            ten = to_isbn10(isbn)
            q = ten if (ten and counts["isbn"] % 2) else hyphenate13(isbn)
            add("isbn", q, r)
            continue
        if counts["affix"] < per_kind and r in indonesian and unique_title:
            ws = words(r["title"])
            affixed = [w for w in ws if stem_id(w) != w and len(stem_id(w)) >= 4]
            if affixed:
                w = rng.choice(affixed)
                add("affix", " ".join(stem_id(x) if x == w else x for x in ws), r)
                continue
        if counts["typo"] < per_kind and unique_title:
            ws = words(r["title"])
            long_words = [w for w in ws if len(w) >= 5 and w.isalpha() and w.isascii()]
            if long_words:
                w = rng.choice(long_words)
                add("typo", " ".join(typo(w, rng) if x == w else x for x in ws), r)
                continue
        if all(counts[k] >= per_kind for k in ("exact_title", "author_title", "isbn", "affix", "typo")):
            break
    return cases


def evaluate(app, data_dir: Path | None = None, per_kind: int = 45) -> dict:
    from opac.search.services import SearchParams, search

    db_path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    cases = build_cases(db_path, per_kind)
    res = defaultdict(lambda: {"n": 0, "at1": 0, "at10": 0})
    misses = defaultdict(list)
    with app.test_request_context():
        for c in cases:
            r = search(SearchParams.build(q=c["q"], size=10, facets=False))
            ids = [h.id for h in r.hits]
            at1 = bool(ids) and ids[0] in c["ok"]
            at10 = any(i in c["ok"] for i in ids)
            if c["kind"] == "typo" and not at10 and r.did_you_mean:
                r2 = search(SearchParams.build(q=r.did_you_mean, size=10, facets=False))
                at10 = any(h.id in c["ok"] for h in r2.hits)
            s = res[c["kind"]]
            s["n"] += 1
            s["at1"] += at1
            s["at10"] += at10
            if not at10:
                misses[c["kind"]].append((c["q"], c["title"]))
    total = {"n": sum(v["n"] for v in res.values()), "at1": sum(v["at1"] for v in res.values()),
             "at10": sum(v["at10"] for v in res.values())}
    print(f"\nknown-item quality: {total['n']} queries")
    for kind, s in list(res.items()) + [("ALL", total)]:
        print(f"  {kind:<13} n={s['n']:<4} success@1 {s['at1'] / s['n']:.2f}   success@10 {s['at10'] / s['n']:.2f}")
    for kind, m in misses.items():
        for q, t in m[:3]:
            print(f"  miss [{kind}] {q!r} -> {t!r}")
    return {k: dict(v) for k, v in res.items()} | {"all": total}
