"""The tantivy baseline behind the same Flask app shape as the FTS5 one: top 20 by BM25, exact
total and the same facets (material type, year ranges, available, language, subject, author,
location) as aggregations over fast fields.

Built from the opac database (``bench.fts5.catalogue_rows``: the same four text fields and field
weights as bench/relevance.py) and served by gunicorn (``gunicorn 'bench.tantivy_engine:app()'``)
for the throughput comparison of bench/throughput.py. Needs the ``bench`` extra.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from bench.fts5 import catalogue_rows

BOOSTS = {"title": 3.0, "author": 2.0, "subject": 1.2, "rest": 1.0}
TERMS = {"language": "languages", "subject": "subject_heads", "author": "authors", "location": "locations"}
YEARS = [("-1899", 1, 1900), ("1900-1949", 1900, 1950), ("1950-1979", 1950, 1980), ("1980-1989", 1980, 1990),
         ("1990-1999", 1990, 2000), ("2000-2009", 2000, 2010), ("2010-2019", 2010, 2020), ("2020-", 2020, None)]


def _schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    for f in BOOSTS:
        sb.add_text_field(f, tokenizer_name="en_stem")
    sb.add_text_field("material_type", tokenizer_name="raw", fast=True)
    for f in TERMS:
        sb.add_text_field(f"f_{f}", tokenizer_name="raw", fast=True)
    sb.add_integer_field("year", fast=True)
    sb.add_integer_field("available", fast=True)
    sb.add_bytes_field("hit", stored=True)
    return sb.build()


def build(opac_db: str, out: Path, heap_mb: int = 128) -> int:
    """Index every record of the opac database into a tantivy index at ``out``; returns the count."""
    import tantivy

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    index = tantivy.Index(_schema(), path=str(out))
    writer = index.writer(heap_size=heap_mb * 1_000_000, num_threads=1)
    n = 0
    for r in catalogue_rows(opac_db):
        doc = {f: r[f] for f in BOOSTS}
        doc.update({f"f_{f}": r[src] for f, src in TERMS.items() if r[src]})
        doc.update(id=r["id"], material_type=r["material_type"], year=r["year"], available=r["available"],
                   hit=json.dumps(r["hit"]).encode())
        writer.add_document(tantivy.Document(**doc))
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    return n


class TantivySearch:
    def __init__(self, path: Path):
        import tantivy

        self.tantivy = tantivy
        self.index = tantivy.Index.open(str(path))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        aggs = {"type": {"terms": {"field": "material_type", "size": 12}},
                "year": {"range": {"field": "year", "ranges": [
                    {"key": k, **({"from": lo} if lo else {}), **({"to": hi} if hi else {})} for k, lo, hi in YEARS]}},
                "available": {"sum": {"field": "available"}}}
        aggs.update({name: {"terms": {"field": f"f_{name}", "size": 12}} for name in TERMS})
        self.aggs = aggs

    def query(self, q: str):
        """Our query syntax (words, "a phrase", field:word, prefix*) as a tantivy query; None: nothing."""
        t = self.tantivy
        q = q.strip()
        if q.endswith("*") and ":" not in q and " " not in q:
            prefix = re.escape(q[:-1].lower())
            return t.Query.boolean_query([(t.Occur.Should, t.Query.regex_query(self.schema, f, f"{prefix}.*"))
                                          for f in BOOSTS])
        if not re.search(r"[^\W_]", q):
            return None
        return self.index.parse_query(q, list(BOOSTS), field_boosts=BOOSTS, conjunction_by_default=True)

    def search(self, q: str, facets: bool = True, size: int = 20) -> dict:
        try:
            query = self.query(q)
        except ValueError as exc:
            return {"total": 0, "hits": [], "error": str(exc)}
        if query is None:
            return {"total": 0, "hits": []}
        res = self.searcher.search(query, size)
        hits = [json.loads(self.searcher.doc(addr)["hit"][0]) for _, addr in res.hits]
        out = {"total": res.count, "hits": hits}
        if facets:
            agg = self.searcher.aggregate(query, self.aggs)
            out["facets"] = {name: ([[b["key"], b["doc_count"]] for b in v["buckets"]
                                     if b["doc_count"] and not str(b["key"]).startswith("*")]
                                    if "buckets" in v else [[int(v.get("value") or 0)]])
                             for name, v in agg.items()}
        return out


def app():
    """A Flask app answering /search?q=... like /api/v1/search (for gunicorn), as bench.fts5.app."""
    from flask import Flask, jsonify, request

    engine = TantivySearch(Path(os.environ["TANTIVY_INDEX"]))
    flask_app = Flask(__name__)

    @flask_app.get("/search")
    def search():
        return jsonify(engine.search(request.args.get("q", "")))

    return flask_app
