"""Search benchmark: indexing rates, index size, latency side by side with SQLite FTS5, memory,
suggestions, known-item quality and (optionally) HTTP throughput under gunicorn.

    .venv/bin/python bench/search_bench.py                      # real catalogue (31k + 6.6k)
    .venv/bin/python bench/search_bench.py --synthetic 200000   # plus the seeded 200k catalogue
    .venv/bin/python bench/search_bench.py --throughput         # plus gunicorn + wrk, both engines

Prints numbers; compare ratios within one run (these machines are noisy).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Timer,
    dir_size_mb,
    fts5_query,
    query_mix,
    rss_mb,
    shared_data,
    stats_ms,
    synthetic_records,
    write_jsonl,
)
from bench.fts5 import FTS5Search  # noqa: E402
from bench.fts5 import build as build_fts5


def make_app(workdir: Path):
    from opac import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'opac.sqlite'}",
        "INDEX_DIR": str(workdir / "index"),
        "SECRET_KEY": "bench",
        "SEARCH_RESULT_CACHE_SIZE": 0,  # measure the engine, not the result cache
    })


def load(workdir: Path, files: list[Path]) -> tuple[object, dict]:
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db
    from opac.search import sync

    workdir.mkdir(parents=True, exist_ok=True)
    app = make_app(workdir)
    out = {}
    with app.app_context():
        upgrade_database()
        sync.rebuild(app)
        n = 0
        with Timer() as t_import:
            for f in files:
                r = import_data(f.read_bytes(), name=f.name, commit=db.session.commit, commit_every=1000)
                n += r.imported + r.updated
        with Timer() as t_index:
            sync.follow_once(app, timeout=600)
        with Timer() as t_reindex:
            count = sync.rebuild(app)
        out.update(records=count, import_s=t_import.seconds, index_s=t_index.seconds,
                   import_index_rate=n / (t_import.seconds + t_index.seconds), index_only_rate=n / t_index.seconds,
                   reindex_rate=count / t_reindex.seconds,
                   index_mb=dir_size_mb(workdir / "index" / "current"),
                   db_mb=(workdir / "opac.sqlite").stat().st_size / 1e6)
    return app, out


def sample_records(db_path: Path, n: int, seed: int = 3) -> list[dict]:
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT title, authors, subjects FROM record").fetchall()
    conn.close()
    rng = random.Random(seed)
    rows = rng.sample(rows, min(n, len(rows)))
    return [{"title": t, "authors": [a["name"] for a in json.loads(a or "[]")], "subjects": json.loads(s or "[]")}
            for t, a, s in rows]


def latency(app, fts: FTS5Search, qmix, passes=2) -> dict:
    from opac.search.services import SearchParams, get_index, search

    res = {}
    with app.test_request_context():
        get_index().snapshot()
        for p in range(passes):
            label = "cold" if p == 0 else "warm"
            all_ours, all_fts = [], []
            for facets in (False, True):
                ours, theirs, by_kind = [], [], {}
                for kind, q in qmix:
                    t = time.perf_counter()
                    search(SearchParams.build(q=q, facets=facets))
                    dt = time.perf_counter() - t
                    ours.append(dt)
                    by_kind.setdefault(kind, []).append(dt)
                    t = time.perf_counter()
                    fts.search(fts5_query(q), facets=facets)
                    theirs.append(time.perf_counter() - t)
                all_ours += ours
                all_fts += theirs
                key = f"{label}/{'facets' if facets else 'plain'}"
                res[key] = {"ours": stats_ms(ours), "fts5": stats_ms(theirs),
                            "ours_by_kind_p95": {k: round(stats_ms(v)["p95"], 2) for k, v in by_kind.items()}}
            res[label] = {"ours_all": stats_ms(all_ours), "fts5_all": stats_ms(all_fts)}
    return res


def suggest_latency(app, records) -> dict:
    from opac.search.services import suggest

    prefixes = []
    for r in records[:120]:
        words = r["title"].split()[:3]
        text = " ".join(words)
        for i in range(3, min(len(text), 18) + 1, 2):
            prefixes.append(text[:i])
    samples = []
    with app.test_request_context():
        for p in prefixes:
            t = time.perf_counter()
            suggest(p)
            samples.append(time.perf_counter() - t)
    return stats_ms(samples)


def _memory_child(workdir: str, queries: list, q) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from opac.search.services import SearchParams, get_index, search

    app = make_app(Path(workdir))
    with app.test_request_context():
        get_index().snapshot()
        gc.collect()
        before = rss_mb()
        for i, q_ in enumerate(queries):
            search(SearchParams.build(q=q_, facets=i % 2 == 0))
        gc.collect()
        q.put((before, rss_mb()))


def memory_after(workdir: Path, records, n=1000) -> dict:
    """RSS of a fresh worker-like process: index opened, then after 1,000 searches."""
    import multiprocessing

    queries = [q for _, q in query_mix(records, n, seed=99)]
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_memory_child, args=(str(workdir), queries, q))
    p.start()
    before, after = q.get(timeout=900)
    p.join()
    return {"rss_before_mb": round(before, 1), "rss_after_1000_mb": round(after, 1)}


def report_dataset(name, app, info, workdir, queries):
    print(f"\n=== {name} ===")
    print(f"records {info['records']:,}; import+index {info['import_index_rate']:,.0f} rec/s "
          f"(import {info['import_s']:.0f}s, index {info['index_s']:.0f}s = {info['index_only_rate']:,.0f} rec/s); "
          f"reindex {info['reindex_rate']:,.0f} rec/s; index {info['index_mb']:.1f} MB; database {info['db_mb']:.1f} MB")
    fts_path = workdir / "fts5.sqlite"
    with Timer() as t:
        build_fts5(str(workdir / "opac.sqlite"), fts_path)
    print(f"FTS5 baseline built in {t.seconds:.1f}s ({info['records'] / t.seconds:,.0f} rec/s), "
          f"{fts_path.stat().st_size / 1e6:.1f} MB")
    fts = FTS5Search(fts_path)
    records = sample_records(workdir / "opac.sqlite", 3000)
    qmix = query_mix(records, queries)
    lat = latency(app, fts, qmix)
    print(f"latency over {len(qmix)} queries (ms)        ours p50 / p95      FTS5 p50 / p95     p95 ratio")
    for key, v in lat.items():
        if "/" not in key:
            continue
        o, f = v["ours"], v["fts5"]
        print(f"  {key:<14} {o['p50']:9.2f} / {o['p95']:7.2f}   {f['p50']:8.2f} / {f['p95']:7.2f}   "
              f"{o['p95'] / f['p95']:6.2f}x")
    for key in ("cold", "warm"):
        plain, fac = lat[f"{key}/plain"]["ours"], lat[f"{key}/facets"]["ours"]
        o_all, f_all = lat[key]["ours_all"], lat[key]["fts5_all"]
        print(f"  whole mix ({key}, with and without facets): ours p50 {o_all['p50']:.2f} / p95 {o_all['p95']:.2f}, "
              f"FTS5 p50 {f_all['p50']:.2f} / p95 {f_all['p95']:.2f} -> p95 ratio {o_all['p95'] / f_all['p95']:.2f}x")
        print(f"  facets cost ({key}): p50 {fac['p50'] / plain['p50']:.2f}x, p95 {fac['p95'] / plain['p95']:.2f}x of a plain query")
    print(f"  ours p95 by kind (warm, facets): {lat['warm/facets']['ours_by_kind_p95']}")
    s = suggest_latency(app, records)
    print(f"suggestions: {s['n']} prefixes, p50 {s['p50']:.2f} ms, p95 {s['p95']:.2f} ms")
    m = memory_after(workdir, records)
    print(f"worker memory: RSS {m['rss_before_mb']} MB with the index open, {m['rss_after_1000_mb']} MB after 1,000 searches")
    return {"info": info, "latency": lat, "suggest": s, "memory": m, "fts5_path": str(fts_path), "queries": qmix}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", type=int, default=0, help="also run a seeded synthetic catalogue of N records")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-bench")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--quality", action="store_true", help="known-item quality on the real catalogue")
    ap.add_argument("--throughput", action="store_true", help="gunicorn + wrk against both engines")
    ap.add_argument("--reuse", action="store_true", help="reuse databases built by an earlier run")
    args = ap.parse_args()
    results = {}
    data = shared_data()
    if not args.skip_real:
        wd = args.workdir / "real"
        if args.reuse and (wd / "opac.sqlite").exists():
            app = make_app(wd)
            info = json.loads((wd / "info.json").read_text())
        else:
            import shutil

            shutil.rmtree(wd, ignore_errors=True)
            app, info = load(wd, [data / "catalog" / "catalog_combined.jsonl",
                                  data / "indonesian" / "indonesian_catalog.jsonl"])
            (wd / "info.json").write_text(json.dumps(info))
        results["real"] = report_dataset("real catalogue (catalog_combined + Indonesian)", app, info, wd, args.queries)
        if args.quality:
            from bench.quality import evaluate

            evaluate(app, data)
        if args.throughput:
            from bench.throughput import run as run_throughput

            run_throughput(wd)
    if args.synthetic:
        wd = args.workdir / f"synthetic-{args.synthetic}"
        if args.reuse and (wd / "opac.sqlite").exists():
            app = make_app(wd)
            info = json.loads((wd / "info.json").read_text())
        else:
            import shutil

            shutil.rmtree(wd, ignore_errors=True)
            wd.mkdir(parents=True)
            path = wd / "synthetic.jsonl"
            write_jsonl(synthetic_records(args.synthetic), path)
            app, info = load(wd, [path])
            (wd / "info.json").write_text(json.dumps(info))
        results["synthetic"] = report_dataset(f"synthetic {args.synthetic:,} (seed 20261122)", app, info, wd,
                                              args.queries)
        if args.throughput:
            from bench.throughput import run as run_throughput

            run_throughput(wd)
    out = args.workdir / "results.json"
    out.write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "queries"} for k, v in results.items()},
                              indent=1, default=str))
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
