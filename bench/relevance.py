"""Relevance side by side: our engine, SQLite FTS5 bm25 and tantivy BM25 on bench/judgments.jsonl.

    .venv/bin/python bench/relevance.py                   # loads the real catalogue once into --workdir
    .venv/bin/python bench/relevance.py --reuse           # reuse the database; rebuild the three indexes
    .venv/bin/python bench/relevance.py --reuse --no-build   # reuse the indexes too
    .venv/bin/python bench/relevance.py --reuse --no-build --quality --misses 20   # + known items, worst queries

The three engines index the same records with the same four fields (title, author, subject, the
rest) and the same field weights (3, 2, 1.2, 1), all words required (FTS5's and our default; tantivy
``conjunction_by_default``). Reported per kind of query: nDCG@10 (gain 2^grade - 1), P@10 (grade
>= 2 counts as relevant) and, for the known-item queries, MRR. Needs the ``bench`` extra (tantivy).
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fts5_query, shared_data  # noqa: E402
from bench.fts5 import FTS5Search, catalogue_rows  # noqa: E402
from bench.fts5 import build as build_fts5  # noqa: E402
from bench.judgments import load as load_judgments  # noqa: E402
from bench.search_bench import make_app  # noqa: E402

K = 10
BOOSTS = {"title": 3.0, "author": 2.0, "subject": 1.2, "rest": 1.0}


def load_catalogue(workdir: Path):
    """An opac database with the real catalogue (import only; the index is built separately)."""
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    app = make_app(workdir)
    data = shared_data()
    with app.app_context():
        upgrade_database()
        for f in (data / "catalog" / "catalog_combined.jsonl", data / "indonesian" / "indonesian_catalog.jsonl"):
            import_data(f.read_bytes(), name=f.name, commit=db.session.commit, commit_every=1000)
    return app


def _rows(db_path: Path):
    """(control number, title, author, subject, rest) of every record: the fields FTS5 indexes."""
    for r in catalogue_rows(str(db_path)):
        yield r["control_number"], r["title"], r["author"], r["subject"], r["rest"]


class Tantivy:
    def __init__(self, path: Path, db_path: Path | None = None):
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_text_field("cn", stored=True, tokenizer_name="raw")
        for f in BOOSTS:
            sb.add_text_field(f, tokenizer_name="en_stem")
        schema = sb.build()
        if db_path is not None:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            index = tantivy.Index(schema, path=str(path))
            w = index.writer(heap_size=128_000_000, num_threads=1)
            for cn, title, author, subject, rest in _rows(db_path):
                w.add_document(tantivy.Document(cn=cn, title=title, author=author, subject=subject, rest=rest))
            w.commit()
            w.wait_merging_threads()
        self.index = tantivy.Index(schema, path=str(path))
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, q: str, k: int = K) -> list[str]:
        words = re.findall(r"[^\W_]+", q)
        if not words:
            return []
        query = self.index.parse_query(" ".join(words), list(BOOSTS), field_boosts=BOOSTS,
                                       conjunction_by_default=True)
        hits = self.searcher.search(query, k).hits
        return [self.searcher.doc(addr)["cn"][0] for _, addr in hits]


class Ours:
    def __init__(self, app):
        self.app = app
        self.ctx = app.test_request_context()
        self.ctx.push()
        from opac.search.services import get_index

        get_index().snapshot()

    def search(self, q: str, k: int = K) -> list[str]:
        from opac.search.services import SearchParams, search

        return [h.data["control_number"] for h in search(SearchParams.build(q=q, size=k, facets=False)).hits]


class FTS5:
    def __init__(self, path: Path, db_path: Path):
        self.engine = FTS5Search(path)
        conn = sqlite3.connect(db_path)
        self.cn = dict(conn.execute("SELECT id, control_number FROM record").fetchall())
        conn.close()

    def search(self, q: str, k: int = K) -> list[str]:
        words = " ".join(re.findall(r"[^\W_]+", q))
        hits = self.engine.search(fts5_query(words), facets=False, size=k)["hits"] if words else []
        return [self.cn[h["id"]] for h in hits]


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def precision(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    return sum(1 for d in ranked[:k] if grades.get(d, 0) >= 2) / k


def reciprocal_rank(ranked: list[str], grades: dict[str, int]) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked) if grades.get(d, 0) > 0), 0.0)


def evaluate(engines: dict, judged: list[dict]) -> dict:
    """Per engine and kind: mean nDCG@10, P@10, MRR; plus each query's nDCG (for the misses)."""
    res: dict = {}
    for name, eng in engines.items():
        per_kind = defaultdict(lambda: defaultdict(list))
        t = time.perf_counter()
        for q in judged:
            ranked = eng.search(q["query"])
            for kind in (q["kind"], "ALL"):
                per_kind[kind]["ndcg"].append(ndcg(ranked, q["grades"]))
                per_kind[kind]["p"].append(precision(ranked, q["grades"]))
                per_kind[kind]["mrr"].append(reciprocal_rank(ranked, q["grades"]))
            per_kind["_per_query"][q["qid"]] = ndcg(ranked, q["grades"])
        res[name] = {k: ({m: sum(v) / len(v) for m, v in d.items()} if k != "_per_query" else d)
                     for k, d in per_kind.items()}
        res[name]["_seconds"] = time.perf_counter() - t
    return res


def print_table(res: dict, judged: list[dict]) -> None:
    names = list(res)
    counts = defaultdict(int)
    for q in judged:
        counts[q["kind"]] += 1
    counts["ALL"] = len(judged)
    head = "  ".join(f"{n:>16}" for n in names)
    print(f"\nnDCG@10 / P@10 by kind of query ({len(judged)} judged queries; MRR for known items)")
    print(f"{'kind':<11} {'n':>4}  {head}")
    for kind in [*sorted(k for k in counts if k != "ALL"), "ALL"]:
        cells = []
        for n in names:
            m = res[n][kind]
            third = f"{m['mrr']:.2f}" if kind == "known_item" else f"{m['p']:.2f}"
            cells.append(f"{m['ndcg']:.3f} / {third:>4}".rjust(16))
        print(f"{kind:<11} {counts[kind]:>4}  {'  '.join(cells)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-relevance")
    ap.add_argument("--reuse", action="store_true", help="reuse the database of an earlier run")
    ap.add_argument("--no-build", action="store_true", help="reuse the three indexes too")
    ap.add_argument("--misses", type=int, default=0, help="print the N queries where we trail most")
    ap.add_argument("--quality", action="store_true", help="also bench/quality.py's known-item figures (ours)")
    args = ap.parse_args()
    wd = args.workdir
    db_path = wd / "opac.sqlite"
    app = make_app(wd) if args.reuse and db_path.exists() else load_catalogue(wd)
    if not args.no_build:
        from opac.search import sync

        t = time.perf_counter()
        with app.app_context():
            n = sync.rebuild(app)
        print(f"ours: {n:,} records indexed in {time.perf_counter() - t:.0f}s")
        t = time.perf_counter()
        build_fts5(str(db_path), wd / "fts5.sqlite")
        print(f"FTS5 built in {time.perf_counter() - t:.0f}s")
        t = time.perf_counter()
        Tantivy(wd / "tantivy", db_path)
        print(f"tantivy built in {time.perf_counter() - t:.0f}s")
    judged = load_judgments()
    engines = {"ours": Ours(app), "FTS5 bm25": FTS5(wd / "fts5.sqlite", db_path), "tantivy BM25": Tantivy(wd / "tantivy")}
    res = evaluate(engines, judged)
    print_table(res, judged)
    if args.quality:
        from bench.quality import evaluate as known_items

        known_items(app)
    if args.misses:
        gap = sorted(judged, key=lambda q: res["ours"]["_per_query"][q["qid"]]
                     - max(res[n]["_per_query"][q["qid"]] for n in res if n != "ours"))
        for q in gap[: args.misses]:
            print(f"  [{q['kind']}] {q['query']!r}: " + ", ".join(f"{n} {res[n]['_per_query'][q['qid']]:.2f}"
                                                                 for n in res))


if __name__ == "__main__":
    main()
