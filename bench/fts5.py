"""The SQLite FTS5 baseline: the same records and queries, top 20 by bm25, exact total, facets.

Used in-process by search_bench.py and served by gunicorn (``gunicorn 'bench.fts5:app()'``) for
the throughput comparison, so both engines answer the same work in the same run.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE VIRTUAL TABLE fts USING fts5(title, author, subject, rest, tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE meta(id INTEGER PRIMARY KEY, title TEXT, authors TEXT, year INTEGER, material_type TEXT,
                  available INTEGER, json TEXT);
CREATE TABLE meta_lang(id INTEGER, value TEXT);
CREATE TABLE meta_subject(id INTEGER, value TEXT);
CREATE TABLE meta_author(id INTEGER, value TEXT);
CREATE TABLE meta_loc(id INTEGER, value TEXT);
"""
INDEXES = """
CREATE INDEX ix_lang ON meta_lang(id); CREATE INDEX ix_subj ON meta_subject(id);
CREATE INDEX ix_auth ON meta_author(id); CREATE INDEX ix_loc ON meta_loc(id);
"""


def catalogue_rows(opac_db: str):
    """What the baseline engines index and answer, per record of the opac database: the four
    text fields (title, author, subject, rest), the hit JSON and the facet values."""
    src = sqlite3.connect(opac_db)
    items: dict[int, list] = {}
    for rid, status, loc in src.execute(
            "SELECT i.record_id, i.status, l.code FROM item i LEFT JOIN location l ON l.id = i.location_id"):
        items.setdefault(rid, []).append((status, loc))
    rows = src.execute("SELECT id, title, subtitle, authors, subjects, languages, year, material_type, publisher, "
                       "summary, notes, isbns, call_number, series, control_number FROM record")
    for (rid, title, subtitle, authors, subjects, langs, year, mtype, publisher, summary, notes, isbns, cn, series,
         control) in rows:
        authors = [a["name"] for a in json.loads(authors or "[]")]
        subjects = json.loads(subjects or "[]")
        its = items.get(rid, [])
        rest = " ".join(filter(None, [publisher, summary, " ".join(json.loads(notes or "[]")),
                                      " ".join(json.loads(isbns or "[]")), cn, " ".join(json.loads(series or "[]")),
                                      control, str(year or "")]))
        yield {"id": rid, "control_number": control, "title": f"{title} {subtitle or ''}",
               "author": " ".join(authors), "subject": " ".join(subjects), "rest": rest,
               "hit": {"id": rid, "title": title, "authors": authors, "year": year, "material_type": mtype},
               "year": year or 0, "material_type": mtype, "available": int(any(s == "available" for s, _ in its)),
               "languages": json.loads(langs or "[]"), "subject_heads": [s.split(" -- ")[0] for s in subjects],
               "authors": authors, "locations": sorted({loc for _, loc in its if loc})}
    src.close()


def build(opac_db: str, out: Path) -> int:
    """Copy every record of the opac database into an FTS5 database; returns the count."""
    if out.exists():
        out.unlink()
    dst = sqlite3.connect(out)
    dst.executescript(SCHEMA)
    n = 0
    batch = []
    for r in catalogue_rows(opac_db):
        rid = r["id"]
        batch.append((rid, r["title"], r["author"], r["subject"], r["rest"]))
        dst.execute("INSERT INTO meta VALUES (?,?,?,?,?,?,?)", (rid, r["hit"]["title"], json.dumps(r["authors"]),
                                                                r["year"], r["material_type"], r["available"],
                                                                json.dumps(r["hit"])))
        dst.executemany("INSERT INTO meta_lang VALUES (?,?)", [(rid, x) for x in r["languages"]])
        dst.executemany("INSERT INTO meta_subject VALUES (?,?)", [(rid, s) for s in r["subject_heads"]])
        dst.executemany("INSERT INTO meta_author VALUES (?,?)", [(rid, a) for a in r["authors"]])
        dst.executemany("INSERT INTO meta_loc VALUES (?,?)", [(rid, loc) for loc in r["locations"]])
        n += 1
        if len(batch) >= 5000:
            dst.executemany("INSERT INTO fts(rowid, title, author, subject, rest) VALUES (?,?,?,?,?)", batch)
            batch.clear()
    if batch:
        dst.executemany("INSERT INTO fts(rowid, title, author, subject, rest) VALUES (?,?,?,?,?)", batch)
    dst.executescript(INDEXES)
    dst.execute("INSERT INTO fts(fts) VALUES('optimize')")
    dst.commit()
    dst.close()
    return n


YEAR_CASE = ("CASE WHEN year >= 2020 THEN '2020-' WHEN year >= 2010 THEN '2010-2019' WHEN year >= 2000 THEN '2000-2009' "
             "WHEN year >= 1990 THEN '1990-1999' WHEN year >= 1980 THEN '1980-1989' WHEN year >= 1950 THEN '1950-1979' "
             "WHEN year >= 1900 THEN '1900-1949' WHEN year > 0 THEN '-1899' END")


class FTS5Search:
    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.execute("PRAGMA temp_store=MEMORY")

    def search(self, match: str, facets: bool = True, size: int = 20) -> dict:
        c = self.conn
        try:
            top = c.execute("SELECT m.json FROM fts JOIN meta m ON m.id = fts.rowid WHERE fts MATCH ? "
                            "ORDER BY bm25(fts, 3.0, 2.0, 1.2, 1.0) LIMIT ?", (match, size)).fetchall()
            if not facets:
                total = c.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
                return {"total": total, "hits": [json.loads(r[0]) for r in top]}
            c.execute("DROP TABLE IF EXISTS temp.hits")
            c.execute("CREATE TEMP TABLE hits AS SELECT rowid AS id FROM fts WHERE fts MATCH ?", (match,))
        except sqlite3.OperationalError as exc:
            return {"total": 0, "hits": [], "error": str(exc)}
        total = c.execute("SELECT count(*) FROM hits").fetchone()[0]
        f = {}
        f["type"] = c.execute("SELECT m.material_type, count(*) FROM hits JOIN meta m USING(id) GROUP BY 1").fetchall()
        f["year"] = c.execute(f"SELECT {YEAR_CASE} AS y, count(*) FROM hits JOIN meta m USING(id) GROUP BY y").fetchall()
        f["available"] = c.execute("SELECT sum(m.available) FROM hits JOIN meta m USING(id)").fetchall()
        for name, table in (("language", "meta_lang"), ("subject", "meta_subject"), ("author", "meta_author"),
                            ("location", "meta_loc")):
            f[name] = c.execute(f"SELECT t.value, count(*) AS n FROM hits JOIN {table} t USING(id) GROUP BY 1 "
                                "ORDER BY n DESC LIMIT 12").fetchall()
        return {"total": total, "hits": [json.loads(r[0]) for r in top], "facets": f}


def app():
    """A Flask app answering /search?q=... like /api/v1/search (for gunicorn): the same framework
    and JSON work around a different engine, so the comparison measures the engines."""
    from flask import Flask, jsonify, request

    from bench.common import fts5_query

    engine = FTS5Search(Path(os.environ["FTS5_DB"]))
    flask_app = Flask(__name__)

    @flask_app.get("/search")
    def search():
        return jsonify(engine.search(fts5_query(request.args.get("q", ""))))

    return flask_app
