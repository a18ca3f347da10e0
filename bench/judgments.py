"""Graded relevance judgments derived from the records themselves (not from any engine).

    .venv/bin/python bench/judgments.py   # rewrites bench/judgments.jsonl from /tmp/opac-relevance/opac.sqlite

The catalogue is the real one of the search benchmark (catalog_combined + the Indonesian records,
loaded into an opac database). Queries and grades come from the catalogue fields with fixed rules,
a fixed seed and a tokenizer of its own (``_toks``: lower case, accents off, runs of letters and
digits, a trailing plural ``s`` dropped) — no code of ``opac.search`` and no engine's score is used,
so the judgments do not reward our engine for agreeing with itself. Grades (0 = not judged relevant):

- ``subject``: a two- or three-word subject heading (a part between `` -- ``) used by 3 to 40
  records. 3: a heading part is exactly the phrase; 2: the words are a phrase in a heading or in
  the title; 1: all words in the title and headings (not as a phrase), or the phrase in the summary
  or notes. Words scattered over notes and contents get 0.
- ``person``: a personal-name heading (``Surname, Forename, dates``) searched as "forename surname".
  3: a heading is about the person; 1: the person is an author (a work by them, not about them).
- ``initials``: an author with two or more initials ("Tolkien, J. R. R."), searched three ways
  ("j.r.r. tolkien", "j. r. r. tolkien", "jrr tolkien"). 3: an author with that surname and
  initials (written in any of the ways); 2: a heading about them.
- ``compound``: a hyphenated word of titles and headings ("e-learning"), searched hyphenated, split
  and closed. 3: the compound (any of the three forms) in the title or a heading; 1: elsewhere.
- ``music_key``: a key named in titles ("F sharp major", "fis-Dur", "F♯ major"), searched in English
  words, with a sign, and in German. 3: the key (any notation) in the title; 2: in headings or notes.
- ``series``: a series name (volume numbers off) of 3 to 40 records. 3: the record is in the series;
  1: the name is a phrase of its title.
- ``edition``: a work in several records (same title words and first author's surname), searched by
  title. 3: the version with the most holdings (items); 2: the other text versions; 1: an audiovisual
  version with the same title (the book above its film for a text query).
- ``known_item``: bench/quality.py's exact-title and author+title cases; 3: the record and its
  exact duplicates.

The file is versioned (``VERSION``); change the rules, bump it, regenerate, commit the file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VERSION = 1
OUT = Path(__file__).resolve().parent / "judgments.jsonl"
STOP = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "by", "with", "at", "from", "or", "as", "its", "etc",
        "dan", "di", "ke", "dari", "yang", "untuk", "dengan", "pada", "dalam"}
AV_TYPES = {"audiovisual", "audio", "music"}


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def _toks(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[^\W_]+", _fold(text)):
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def _raw(text: str) -> str:
    """The words of ``text`` as a patron would type them (folded, nothing dropped)."""
    return " ".join(re.findall(r"[^\W_]+", _fold(text)))


def _has_phrase(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def load_records(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    holdings = dict(conn.execute("SELECT record_id, count(*) FROM item GROUP BY record_id").fetchall())
    recs = []
    for rid, cn, title, subtitle, authors, subjects, series, notes, summary, mtype in conn.execute(
            "SELECT id, control_number, title, subtitle, authors, subjects, series, notes, summary, material_type "
            "FROM record ORDER BY id"):
        subjects = json.loads(subjects or "[]")
        parts = [p.strip(" .") for s in subjects for p in s.split(" -- ")]
        full_title = f"{title} {subtitle or ''}"
        recs.append({
            "id": rid, "cn": cn, "title": full_title, "title_only": title,
            "authors": [a["name"] for a in json.loads(authors or "[]")],
            "subjects": subjects, "parts": parts, "series": json.loads(series or "[]"),
            "notes": " ".join(json.loads(notes or "[]")) + " " + (summary or ""), "type": mtype,
            "holdings": holdings.get(rid, 0),
            "t_title": _toks(full_title), "t_parts": [_toks(p) for p in parts],
        })
    conn.close()
    return recs


class Judge:
    def __init__(self, recs: list[dict]):
        self.recs = recs
        self.by_word: dict[str, set[int]] = defaultdict(set)  # word -> record indexes (title, headings)
        self.rest_word: dict[str, set[int]] = defaultdict(set)  # word -> record indexes (anywhere)
        for i, r in enumerate(recs):
            head = set(r["t_title"]).union(*r["t_parts"]) if r["t_parts"] else set(r["t_title"])
            for w in head:
                self.by_word[w].add(i)
            r["t_notes"] = _toks(r["notes"])
            for w in head | set(r["t_notes"]) | set(_toks(" ".join(r["authors"]))):
                self.rest_word[w].add(i)

    def candidates(self, words: list[str], anywhere: bool = False) -> set[int]:
        table = self.rest_word if anywhere else self.by_word
        sets = [table.get(w, set()) for w in words if w not in STOP]
        return set.intersection(*sets) if sets else set()

    def topical(self, phrase: list[str]) -> dict[int, int]:
        grades = {}
        content = [w for w in phrase if w not in STOP]
        for i in self.candidates(phrase, anywhere=True):
            r = self.recs[i]
            if any(p == phrase for p in r["t_parts"]):
                g = 3
            elif any(_has_phrase(p, phrase) for p in r["t_parts"]) or _has_phrase(r["t_title"], phrase):
                g = 2
            elif all(w in r["t_title"] or any(w in p for p in r["t_parts"]) for w in content) \
                    or _has_phrase(r["t_notes"], phrase):
                g = 1
            else:
                continue
            grades[i] = g
        return grades


NAME_HEADING = re.compile(r"^([^,()]+), ([^,()0-9]+?)(?: \([^)]*\))?, (?:b\. |ca\. )?\d{3,4}\??-(?:\d{3,4}\??)?$")


def subject_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    counts: dict[tuple, set[int]] = defaultdict(set)
    typed: dict[tuple, str] = {}
    for i, r in enumerate(judge.recs):
        for p, t in zip(r["parts"], r["t_parts"], strict=True):
            if "," in p or "(" in p or not 2 <= len(t) <= 3:
                continue
            if t[0] in STOP or t[-1] in STOP or not all(w.isalpha() and len(w) > 1 for w in t):
                continue
            counts[tuple(t)].add(i)
            typed.setdefault(tuple(t), _raw(p))
    cands = sorted(k for k, v in counts.items() if 3 <= len(v) <= 40)
    rng.shuffle(cands)
    out = []
    for phrase in cands:
        grades = judge.topical(list(phrase))
        # only phrases whose words also occur apart: a topical query has to rank, not just match
        if sum(1 for g in grades.values() if g < 3) < 3:
            continue
        out.append({"kind": "subject", "query": typed[phrase], "grades": grades})
        if len(out) >= n:
            break
    return out


def person_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    about: dict[tuple, set[int]] = defaultdict(set)
    for i, r in enumerate(judge.recs):
        for s in r["subjects"]:
            m = NAME_HEADING.match(s.split(" -- ")[0].strip(" ."))
            if m:
                about[(m.group(1).strip(), m.group(2).strip())].add(i)
    cands = sorted(k for k, v in about.items() if 2 <= len(v) <= 40 and len(_toks(k[1])) <= 3)
    rng.shuffle(cands)
    out = []
    for surname, forename in cands[:n]:
        grades = {i: 3 for i in about[(surname, forename)]}
        sur, fore = _toks(surname), _toks(forename)
        for i in judge.candidates(sur + fore, anywhere=True):
            if i not in grades and any(_toks(a) and set(sur + fore) <= set(_toks(a)) for a in judge.recs[i]["authors"]):
                grades[i] = 1
        out.append({"kind": "person", "query": f"{forename} {surname}", "grades": grades})
    return out


def _initials_of(name: str) -> tuple[str, str] | None:
    """(surname, initials) of "Tolkien, J. R. R.", "J.R.R. Tolkien", "Tolkien, John Ronald Reuel"."""
    name = re.sub(r"\([^)]*\)|,? *\d{3,4}.*$", "", name).strip(" ,.")
    if "," in name:
        surname, given = name.split(",", 1)
    else:
        parts = name.rsplit(" ", 1)
        if len(parts) < 2:
            return None
        given, surname = parts
    letters = [w[0] for w in _toks(given.replace(".", " ")) if w.isalpha()]
    s = _toks(surname)
    return (" ".join(s), "".join(letters)) if s and letters else None


def initials_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    written: dict[tuple, set[int]] = defaultdict(set)
    for i, r in enumerate(judge.recs):
        for a in r["authors"]:
            if re.search(r"\b[A-Z]\.\s?[A-Z]\.", a):
                key = _initials_of(a)
                if key and len(key[1]) >= 2:
                    written[key].add(i)
    cands = sorted(k for k, v in written.items() if len(v) >= 2 and len(k[1]) <= 3 and " " not in k[0])
    rng.shuffle(cands)
    out = []
    for surname, initials in cands[:n]:
        grades = {}
        for i in judge.candidates([surname], anywhere=True):
            r = judge.recs[i]
            if any(_initials_of(a) == (surname, initials) for a in r["authors"]):
                grades[i] = 3
            elif any(_initials_of(p.split(" -- ")[0]) == (surname, initials) for p in r["subjects"]):
                grades[i] = 2
        for q in (".".join(initials) + ". " + surname, " ".join(c + "." for c in initials) + " " + surname,
                  initials + " " + surname):
            out.append({"kind": "initials", "query": q, "grades": grades})
    return out


def compound_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    found: dict[tuple, set[int]] = defaultdict(set)
    for i, r in enumerate(judge.recs):
        for text in [r["title"], *r["parts"]]:
            for a, b in re.findall(r"\b([a-z]{1,12})-([a-z]{3,14})\b", _fold(text)):
                if a not in STOP and a.isascii() and b.isascii():
                    found[(a, b)].add(i)
    cands = sorted(k for k, v in found.items() if 2 <= len(v) <= 60)
    short = [k for k in cands if len(k[0]) <= 4]
    rng.shuffle(short)
    out = []
    for a, b in short[:n]:
        pat = re.compile(rf"\b{a}(?:-| |){b}s?\b")
        grades = {}
        for i, r in enumerate(judge.recs):
            if any(pat.search(_fold(t)) for t in [r["title"], *r["parts"]]):
                grades[i] = 3
            elif pat.search(_fold(r["notes"])):
                grades[i] = 1
        for q in (f"{a}-{b}", f"{a} {b}", f"{a}{b}"):
            out.append({"kind": "compound", "query": q, "grades": grades})
    return out


_EN_KEY = re.compile(r"\b([a-g])(?:[ -](sharp|flat)|(#|♯|♭))?[ -](major|minor)\b")
_DE_KEY = re.compile(r"\b([a-h])(is|es|s)?[ -](dur|moll)\b")
_GERMAN = {("c", "sharp"): "cis", ("d", "sharp"): "dis", ("f", "sharp"): "fis", ("g", "sharp"): "gis",
           ("a", "sharp"): "ais", ("d", "flat"): "des", ("e", "flat"): "es", ("g", "flat"): "ges",
           ("a", "flat"): "as", ("b", "flat"): "b", ("c", "flat"): "ces"}


def _keys_in(text: str) -> set[tuple[str, str, str]]:
    """(letter, accidental, mode) of every key named in ``text``."""
    t = _fold(text)
    keys = set()
    for letter, word, sign, mode in _EN_KEY.findall(t):
        acc = word or {"#": "sharp", "♯": "sharp", "♭": "flat"}.get(sign, "")
        keys.add((letter, acc, mode))
    for letter, suffix, mode in _DE_KEY.findall(t):
        mode = "major" if mode == "dur" else "minor"
        if letter == "h":
            keys.add(("b", "", mode))
        elif letter == "b" and not suffix:
            keys.add(("b", "flat", mode))
        elif suffix == "is":
            keys.add((letter, "sharp", mode))
        elif suffix in ("es", "s"):
            keys.add((letter, "flat", mode))
        else:
            keys.add((letter, "", mode))
    return keys


def music_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    where: dict[tuple, dict[int, int]] = defaultdict(dict)
    for i, r in enumerate(judge.recs):
        for k in _keys_in(r["title"]):
            where[k][i] = 3
        for k in _keys_in(" ".join(r["parts"]) + " " + r["notes"]):
            where[k].setdefault(i, 2)
    cands = sorted(k for k, v in where.items() if len(v) >= 2)
    rng.shuffle(cands)
    out = []
    for letter, acc, mode in cands[:n]:
        grades = where[(letter, acc, mode)]
        german = _GERMAN.get((letter, acc), letter if not acc else None)
        forms = [f"{letter} {acc} {mode}" if acc else f"{letter} {mode}"]
        if acc:
            forms.append(f"{letter}{'#' if acc == 'sharp' else '♭'} {mode}")
        if german:
            forms.append(f"{german}-{'dur' if mode == 'major' else 'moll'}")
        for q in forms:
            out.append({"kind": "music_key", "query": q, "grades": grades})
    return out


def _series_name(s: str) -> str:
    return re.split(r"\s*[;,]\s*(?:v\.|vol|no\.|#|\d)|\s*;\s*|\s+\d+$", s.strip(), maxsplit=1)[0].strip(" .,;")


def series_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    members: dict[tuple, set[int]] = defaultdict(set)
    typed: dict[tuple, str] = {}
    for i, r in enumerate(judge.recs):
        for s in r["series"]:
            t = _toks(_series_name(s))
            if 2 <= len(t) <= 6:
                members[tuple(t)].add(i)
                typed.setdefault(tuple(t), _raw(_series_name(s)))
    cands = sorted(k for k, v in members.items() if 3 <= len(v) <= 40)
    rng.shuffle(cands)
    out = []
    for name in cands[:n]:
        grades = {i: 3 for i in members[name]}
        for i in judge.candidates(list(name)):
            if i not in grades and _has_phrase(judge.recs[i]["t_title"], list(name)):
                grades[i] = 1
        out.append({"kind": "series", "query": typed[name], "grades": grades})
    return out


def edition_queries(judge: Judge, rng: random.Random, n: int) -> list[dict]:
    works: dict[tuple, list[int]] = defaultdict(list)
    by_title: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(judge.recs):
        t = tuple(_toks(r["title_only"]))
        by_title[t].append(i)
        surname = _toks(r["authors"][0].split(",")[0])[:1] if r["authors"] else []
        if surname and len([w for w in t if w not in STOP]) >= 2:
            works[(t, surname[0])].append(i)
    cands = sorted(k for k, v in works.items() if len(v) >= 2 and len({judge.recs[i]["holdings"] for i in v}) > 1)
    cands += sorted(k for k, v in works.items() if len(v) >= 3 and k not in cands)
    rng.shuffle(cands)
    out = []
    for title, _surname in cands[:n]:
        members = works[(title, _surname)]
        top = max(judge.recs[i]["holdings"] for i in members)
        grades = {}
        for i in members:
            r = judge.recs[i]
            grades[i] = 1 if r["type"] in AV_TYPES else (3 if r["holdings"] == top else 2)
        for i in by_title[title]:
            if judge.recs[i]["type"] in AV_TYPES:
                grades.setdefault(i, 1)
        out.append({"kind": "edition", "query": judge.recs[members[0]]["title_only"], "grades": grades})
    return out


def known_item_queries(db: Path, recs: list[dict], n: int) -> list[dict]:
    from bench.quality import build_cases

    index_of = {r["id"]: i for i, r in enumerate(recs)}
    out = []
    for c in build_cases(db, per_kind=n):
        if c["kind"] in ("exact_title", "author_title"):
            out.append({"kind": "known_item", "query": c["q"], "grades": {index_of[i]: 3 for i in c["ok"]}})
    return out


def build(db: Path, seed: int = 2026) -> list[dict]:
    recs = load_records(db)
    judge = Judge(recs)
    rng = random.Random(seed)
    qs = (subject_queries(judge, rng, 60) + person_queries(judge, rng, 25) + initials_queries(judge, rng, 10)
          + compound_queries(judge, rng, 10) + music_queries(judge, rng, 8) + series_queries(judge, rng, 20)
          + edition_queries(judge, rng, 20) + known_item_queries(db, recs, 25))
    out, seen = [], set()
    for q in qs:
        if not q["grades"] or (q["kind"], q["query"]) in seen:
            continue
        seen.add((q["kind"], q["query"]))
        grades = {recs[i]["cn"]: g for i, g in sorted(q["grades"].items())}
        out.append({"qid": len(out) + 1, "kind": q["kind"], "query": q["query"], "grades": grades})
    return out


def load(path: Path = OUT) -> list[dict]:
    """The judged queries of ``path`` (its first line is a header)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[1:]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "opac-relevance" / "opac.sqlite",
                    help="an opac database holding the benchmark catalogue (bench/relevance.py builds one)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    qs = build(args.db)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"version": VERSION, "records": "catalog_combined.jsonl + indonesian_catalog.jsonl",
                            "ids": "record control numbers", "procedure": "bench/judgments.py"}) + "\n")
        for q in qs:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    kinds = defaultdict(int)
    for q in qs:
        kinds[q["kind"]] += 1
    print(f"{len(qs)} judged queries -> {args.out}: {dict(kinds)}")


if __name__ == "__main__":
    main()
