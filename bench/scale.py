"""How search cost grows with the catalogue: 10k, 100k and a million synthetic records.

    .venv/bin/python bench/scale.py                               # 10k, 100k, 1M (seed 20261122)
    .venv/bin/python bench/scale.py --sizes 10k,100k              # some sizes only
    nice .venv/bin/python bench/scale.py --sizes 1M --merge       # add 1M to the earlier run's table
    .venv/bin/python bench/scale.py --report-only                 # table and plot from the saved JSON

Per size, in a fresh SQLite database under ``--workdir``:

1. **Bulk load** of the seeded synthetic catalogue (``bench.common.synthetic_records``, streamed,
   so a million records take bounded memory): each row goes through the importer's own mapping
   (``row_to_fields``, MARC built as the importer builds it, shelf keys as the app computes them)
   and is written with batched SQL inserts — not through the per-record importer (~300 records/s),
   which would dominate the run. The load is not part of any goal.
2. **Reindex**: ``flask --app opac reindex`` in a subprocess (what an operator runs;
   ``opac.search.sync.rebuild``): wall time, records/s, peak RSS of that process, index size.
3. **Serving**: gunicorn, ``--workers`` sync workers (the project's gunicorn.conf.py, no embedded
   follower), the result cache off unless ``--result-cache``. Both workers open the index (the
   first requests, reported apart), then the query mix of ``bench.common.query_mix`` (words,
   phrases, fields, prefixes; drawn from records spread over the catalogue) is sent one request at
   a time through /api/v1/search, which always computes the facets: the **cold** pass is each
   query's first time on the freshly started workers, the **warm** pass the same queries again.
   More distinct queries follow until the workers have served ``--searches`` (1,000) searches
   each on average; then each worker's RSS, PSS and private memory (/proc/PID/smaps_rollup).

Goals (issue 14) are printed pass/fail: reindex ≤ 10 min at 1M; p95 ≤ 50 ms warm and ≤ 150 ms cold;
RSS ≤ 400 MB per worker up to 200k records and ≤ 1 GB at 1M; reindex ≥ 3,000 records/s. Writes a
markdown table (``--table``), the numbers (``--json``) and a self-contained SVG plot (``--out``).
Compare sizes within one run; say the machine's load average (printed) beside any number quoted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Gunicorn,
    dir_size_mb,
    http_get,
    query_mix,
    serve_env,
    smaps_mb,
    stats_ms,
    synthetic_records,
)

OUT = ROOT / "bench" / "out"
SEED = 20261122
MB_GOAL_SMALL, MB_GOAL_LARGE = 400, 1024  # RSS per worker: up to 200k records, and at 1M
SMALL = 200_000
LATENCY_GOALS = {"warm": 50.0, "cold": 150.0}  # p95, ms
REINDEX_GOAL_S, REINDEX_GOAL_AT = 600, 1_000_000
RATE_GOAL = 3000
WARMUP_Q = "zzqxwarmup"  # matches nothing: opens the index without touching the mix's terms


def parse_size(text: str) -> int:
    """``10k``, ``1M``, ``250000`` -> records.

    >>> [parse_size(s) for s in ("10k", "1M", "2500", "0.5m")]
    [10000, 1000000, 2500, 500000]
    """
    t = text.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t.rstrip("km")) * mult)


def label(n: int) -> str:
    """A short axis label.

    >>> [label(n) for n in (200, 10_000, 1_000_000, 2_500_000)]
    ['200', '10k', '1M', '2.5M']
    """
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div:
            v = n / div
            return f"{v:g}{unit}"
    return str(n)


# ----------------------------------------------------------------------------- 1. bulk load


def _chunks(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _convert(chunk: list[dict]) -> list[tuple[dict, list[dict]]]:
    """(record columns, copies) of each row, as the importer maps them (run in a worker process)."""
    from opac.catalog.importers import row_to_fields
    from opac.catalog.marc import fields_to_marc, to_iso2709
    from opac.catalog.services import RECORD_FIELDS
    from opac.patron_services.callnumber import call_number_key

    out = []
    for row in chunk:
        fields, _notes = row_to_fields(row)
        items = fields.pop("items")
        rec = {k: fields.get(k) for k in RECORD_FIELDS}
        rec.update(control_number=fields["control_number"], source="jsonl",
                   marc=to_iso2709(fields_to_marc(fields, items)))
        for it in items:
            it["shelf_key"] = call_number_key(it["call_number"] or fields["call_number"])
        out.append((rec, items))
    return out


def bulk_load(workdir: Path, n: int, seed: int = SEED, batch: int = 2000, procs: int = 0) -> dict:
    """A fresh database with ``n`` synthetic records and their copies, written in batched inserts.

    Rows are generated as a stream and converted in ``procs`` worker processes (0: one per core),
    ``batch`` at a time, so memory stays bounded at any ``n``."""
    import multiprocessing

    from sqlalchemy import insert, select

    from bench.search_bench import make_app
    from opac.catalog.models import Item, Location, Record
    from opac.cli import upgrade_database
    from opac.extensions import db

    app = make_app(workdir)
    items_n = 0
    procs = procs or os.cpu_count() or 1
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # alembic's log of every migration
            upgrade_database()
        t0 = time.perf_counter()
        locations = {code: lid for lid, code in db.session.execute(select(Location.id, Location.code))}
        db.session.commit()
        with db.engine.connect() as conn, multiprocessing.get_context("fork").Pool(procs) as pool:
            next_id = 1
            chunks = _chunks(synthetic_records(n, seed), batch)
            for converted in pool.imap(_convert, chunks) if procs > 1 else map(_convert, chunks):
                recs, its = [], []
                for rec, items in converted:
                    rec["id"] = next_id
                    recs.append(rec)
                    for it in items:
                        code = it["location"]
                        if code and code not in locations:
                            locations[code] = conn.execute(insert(Location).values(code=code, name=code)
                                                           .returning(Location.id)).scalar_one()
                        its.append({"record_id": next_id, "barcode": it["barcode"], "call_number": it["call_number"],
                                    "location_id": locations.get(code), "collection": it["collection"],
                                    "copy_number": it["copy_number"], "status": it["status"],
                                    "shelf_key": it["shelf_key"]})
                    next_id += 1
                conn.execute(insert(Record), recs)
                if its:
                    conn.execute(insert(Item), its)
                conn.commit()
                items_n += len(its)
    seconds = time.perf_counter() - t0
    db_mb = sum(p.stat().st_size for p in workdir.glob("opac.sqlite*")) / 1e6
    return {"records": n, "items": items_n, "load_s": seconds, "load_rate": n / seconds, "load_procs": procs,
            "db_mb": db_mb}


# ----------------------------------------------------------------------------- 2. reindex


def reindex(workdir: Path) -> dict:
    """``flask --app opac reindex`` as an operator runs it: wall time and the process's peak RSS."""
    env = serve_env(workdir)
    flask = str(Path(sys.executable).with_name("flask"))
    log = workdir / "reindex.log"
    with open(log, "wb") as out:
        t = time.perf_counter()
        proc = subprocess.Popen([flask, "--app", "opac", "reindex"], env=env, cwd=workdir, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"reindex failed ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
    return {"reindex_s": seconds, "reindex_peak_rss_mb": usage.ru_maxrss / 1024,
            "index_mb": dir_size_mb(workdir / "index" / "current")}


# ----------------------------------------------------------------------------- 3. serving


def sample_records(db_path: Path, n_records: int, k: int, seed: int) -> list[dict]:
    """``k`` records spread over the whole catalogue, read by id (no full scan at a million)."""
    ids = sorted(random.Random(seed).sample(range(1, n_records + 1), min(k, n_records)))
    conn = sqlite3.connect(db_path)
    out = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = conn.execute(f"SELECT title, authors, subjects FROM record WHERE id IN ({','.join('?' * len(chunk))})",
                            chunk).fetchall()
        out += [{"title": t, "authors": [a["name"] for a in json.loads(a or "[]")], "subjects": json.loads(s or "[]")}
                for t, a, s in rows]
    conn.close()
    return out


def distinct_queries(records: list[dict], n: int, seed: int, exclude: set = frozenset()) -> list[str]:
    """Up to ``n`` distinct queries of the mix, none in ``exclude`` (drawn until enough or exhausted)."""
    out: dict[str, None] = {}
    for k in range(20):
        for _, q in query_mix(records, max(n, 50) * 2, seed=seed * 1000 + k):
            if q not in exclude:
                out.setdefault(q)
        if len(out) >= n:
            break
    return list(out)[:n]


def _timed_pass(base: str, queries: list[str]) -> tuple[list[float], int, int]:
    """Seconds of each search, non-200 answers, answers without hits."""
    samples, errors, empty = [], 0, 0
    for q in queries:
        status, body, s = http_get(f"{base}/api/v1/search?q={quote(q)}")
        samples.append(s)
        errors += status != 200
        empty += status == 200 and not json.loads(body)["total"]
    return samples, errors, empty


def serve_and_measure(workdir: Path, n_records: int, queries: int, searches: int, workers: int,
                      result_cache: bool) -> dict:
    records = sample_records(workdir / "opac.sqlite", n_records, 3000, seed=3)
    mix = distinct_queries(records, queries, seed=7)
    extra = {} if result_cache else {"OPAC_SEARCH_RESULT_CACHE_SIZE": "0"}
    with Gunicorn("wsgi:app", serve_env(workdir, **extra), workers=workers, ready_path="/healthz",
                  log=workdir / "gunicorn.log") as server:
        opening = server.open_every_worker(f"/api/v1/search?q={WARMUP_Q}")
        cold, cold_err, empty = _timed_pass(server.base, mix)
        warm, warm_err, _ = _timed_pass(server.base, mix)
        done = len(opening) + len(cold) + len(warm)
        left = max(0, searches * workers - done)  # the requests spread over the workers
        more = distinct_queries(records, left, seed=8, exclude=set(mix)) or mix
        more = (more * (1 + left // len(more)))[:left]
        _, more_err, _ = _timed_pass(server.base, more)
        done += len(more)
        mem = [smaps_mb(pid) for pid in server.worker_pids()]
    return {
        "queries": len(mix), "searches": done, "queries_without_hits": empty, "errors": cold_err + warm_err + more_err,
        "open_ms": max(opening) * 1000, "cold": stats_ms(cold), "warm": stats_ms(warm),
        "rss_mb": max(m["rss"] for m in mem), "pss_mb": max(m["pss"] for m in mem),
        "private_mb": max(m["private"] for m in mem), "workers": len(mem), "result_cache": result_cache,
    }


# ----------------------------------------------------------------------------- goals, table, plot


def goals(r: dict) -> list[tuple[str, str, bool]]:
    """(goal, measured, passed) for one size's results."""
    n = r["records"]
    out = []
    for kind, limit in LATENCY_GOALS.items():
        p95 = r[kind]["p95"]
        out.append((f"p95 {kind} ≤ {limit:.0f} ms", f"{p95:.1f} ms", p95 <= limit))
    mb = MB_GOAL_SMALL if n <= SMALL else MB_GOAL_LARGE
    out.append((f"RSS per worker ≤ {mb} MB ({'≤ 200k' if n <= SMALL else 'at 1M'})", f"{r['rss_mb']:.0f} MB",
                r["rss_mb"] <= mb))
    rate = n / r["reindex_s"]
    if n < 10_000:  # the process start and the first commit dominate: too small to judge the rate
        return out
    out.append((f"reindex ≥ {RATE_GOAL:,} rec/s", f"{rate:,.0f} rec/s", rate >= RATE_GOAL))
    at_goal = REINDEX_GOAL_AT / rate
    if n >= REINDEX_GOAL_AT:
        out.append((f"reindex of 1M ≤ {REINDEX_GOAL_S // 60} min", f"{r['reindex_s'] / 60:.1f} min",
                    r["reindex_s"] <= REINDEX_GOAL_S))
    else:
        out.append((f"reindex of 1M ≤ {REINDEX_GOAL_S // 60} min (projected at this rate)",
                    f"~{at_goal / 60:.0f} min", at_goal <= REINDEX_GOAL_S))
    return out


def table(results: list[dict], meta: dict) -> str:
    lines = [
        f"Synthetic catalogue (seed {meta['seed']}), SQLite, gunicorn {meta['workers']} sync workers, "
        f"/api/v1/search with facets, {meta['queries']} distinct queries one at a time, result cache "
        f"{'on' if meta['result_cache'] else 'off'}; load average {meta['load']} ({meta['when']}). "
        "Records bulk-loaded with batched SQL inserts (not the per-record importer).",
        "",
        "| records | bulk load | reindex | rate | peak RSS reindex | index | open index | cold p50 / p95 "
        "| warm p50 / p95 | RSS / PSS / private per worker (searches in all) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['records']:,} | {r['load_s']:.0f} s | {r['reindex_s']:.0f} s | {r['records'] / r['reindex_s']:,.0f} rec/s "
            f"| {r['reindex_peak_rss_mb']:.0f} MB | {r['index_mb']:.0f} MB | {r['open_ms']:.0f} ms "
            f"| {r['cold']['p50']:.1f} / {r['cold']['p95']:.1f} ms | {r['warm']['p50']:.1f} / {r['warm']['p95']:.1f} ms "
            f"| {r['rss_mb']:.0f} / {r['pss_mb']:.0f} / {r['private_mb']:.0f} MB ({r['searches']:,}) |")
    lines += ["", "| records | goal | measured | |", "|---:|---|---:|---|"]
    for r in results:
        for g, measured, ok in goals(r):
            lines.append(f"| {r['records']:,} | {g} | {measured} | {'pass' if ok else '**FAIL**'} |")
    return "\n".join(lines) + "\n"


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    return next(m * e for m in (1, 2, 2.5, 5, 10) if m * e >= v)


def svg_panel(x0: float, title: str, unit: str, xs: list[int], series: dict, goal_lines: dict,
              w: float = 300, h: float = 280) -> str:
    """One line chart (log x, linear y from 0) at horizontal offset ``x0``; series: name -> ys."""
    left, top, pw, ph = x0 + 48, 34, w - 60, h - 100
    ymax = _nice_max(max([y for ys in series.values() for y in ys if y is not None] + list(goal_lines.values()) + [0]))
    lx = [math.log10(x) for x in xs]
    lo, hi = (min(lx), max(lx)) if len(set(lx)) > 1 else (lx[0] - 1, lx[0] + 1)
    lo, hi = math.floor(lo), math.ceil(hi)

    def px(x):
        return left + (math.log10(x) - lo) / (hi - lo) * pw

    def py(y):
        return top + ph - y / ymax * ph

    out = [f'<text x="{x0 + w / 2:.0f}" y="18" text-anchor="middle" font-size="13" font-weight="bold">'
           f'{_esc(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for i in range(5):
        y = ymax * i / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{py(y) + 4:.1f}" text-anchor="end" font-size="10">{y:g}</text>')
    for e in range(lo, hi + 1):
        x = left + (e - lo) / (hi - lo) * pw
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>'
                   f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle" font-size="10">{label(10 ** e)}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph + 28}" text-anchor="middle" font-size="10">'
               f'records (log scale)</text>'
               f'<text x="{x0 + 12}" y="{top + ph / 2:.0f}" font-size="10" text-anchor="middle" '
               f'transform="rotate(-90 {x0 + 12} {top + ph / 2:.0f})">{_esc(unit)}</text>')
    for name, y in goal_lines.items():
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#888" '
                   f'stroke-dasharray="4 3"/><text x="{left + pw - 2}" y="{py(y) - 3:.1f}" text-anchor="end" '
                   f'font-size="9" fill="#666">{_esc(name)}</text>')
    for k, (name, ys) in enumerate(series.items()):
        c = COLOURS[k % len(COLOURS)]
        pts = [(px(x), py(y)) for x, y in zip(xs, ys, strict=True) if y is not None]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{c}"/>' for a, b in pts]
        ly = top + ph + 48 + 12 * (k // 2)
        lx_ = left + (k % 2) * pw / 2
        out.append(f'<rect x="{lx_:.0f}" y="{ly - 8}" width="10" height="3" fill="{c}"/>'
                   f'<text x="{lx_ + 14:.0f}" y="{ly - 4}" font-size="10">{_esc(name)}</text>')
    return "\n".join(out)


def svg(results: list[dict], meta: dict) -> str:
    xs = [r["records"] for r in results]
    panels = [
        ("Search latency, facets", "ms", {
            "cold p95": [r["cold"]["p95"] for r in results], "cold p50": [r["cold"]["p50"] for r in results],
            "warm p95": [r["warm"]["p95"] for r in results], "warm p50": [r["warm"]["p50"] for r in results]},
         {"goal cold p95": LATENCY_GOALS["cold"], "goal warm p95": LATENCY_GOALS["warm"]}),
        ("Memory per worker", "MB", {"RSS": [r["rss_mb"] for r in results], "PSS": [r["pss_mb"] for r in results],
                                     "private": [r["private_mb"] for r in results]},
         {"goal ≤200k": MB_GOAL_SMALL, "goal 1M": MB_GOAL_LARGE}),
        ("Full reindex", "minutes", {"reindex": [r["reindex_s"] / 60 for r in results]},
         {"goal 1M": REINDEX_GOAL_S / 60}),
    ]
    w, h = 300, 280
    body = "\n".join(svg_panel(i * w, title, unit, xs, series, goal_lines, w, h)
                     for i, (title, unit, series, goal_lines) in enumerate(panels))
    note = (f"opac bench/scale.py: synthetic seed {meta['seed']}, gunicorn {meta['workers']} workers, "
            f"load average {meta['load']}, {meta['when']}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(panels)}" height="{h + 14}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n{body}\n'
            f'<text x="6" y="{h + 10}" font-size="9" fill="#666">{_esc(note)}</text></svg>\n')


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ----------------------------------------------------------------------------- main


def run_size(n: int, args) -> dict:
    wd = args.workdir / f"scale-{n}"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    print(f"\n=== {n:,} records (load average {load_average()}) ===", flush=True)
    r = {"records": n, "load_at_start": load_average()}
    r.update(bulk_load(wd, n, seed=args.seed, procs=args.load_procs))
    print(f"bulk load (batched SQL inserts, not the per-record importer; {r['load_procs']} processes): "
          f"{r['load_s']:.0f} s ({r['load_rate']:,.0f} rec/s), {r['items']:,} copies, database {r['db_mb']:.0f} MB", flush=True)
    r.update(reindex(wd))
    print(f"reindex (flask --app opac reindex): {r['reindex_s']:.0f} s = {n / r['reindex_s']:,.0f} rec/s, "
          f"peak RSS {r['reindex_peak_rss_mb']:.0f} MB, index {r['index_mb']:.0f} MB", flush=True)
    r.update(serve_and_measure(wd, n, args.queries, args.searches, args.workers, args.result_cache))
    print(f"serving: index opened in {r['open_ms']:.0f} ms (first request per worker); {r['queries']} queries: "
          f"cold p50 {r['cold']['p50']:.1f} / p95 {r['cold']['p95']:.1f} ms, warm p50 {r['warm']['p50']:.1f} / "
          f"p95 {r['warm']['p95']:.1f} ms; after {r['searches']:,} searches in all RSS {r['rss_mb']:.0f} MB, "
          f"PSS {r['pss_mb']:.0f} MB, private {r['private_mb']:.0f} MB per worker (max of {r['workers']}); "
          f"{r['errors']} non-200 answers, {r['queries_without_hits']} queries without hits", flush=True)
    r["load_at_end"] = load_average()
    if not args.keep:
        shutil.rmtree(wd, ignore_errors=True)
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="comma-separated record counts (10k, 1M, 2500)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--queries", type=int, default=300, help="distinct queries of the cold and warm passes")
    ap.add_argument("--searches", type=int, default=1000, help="searches per worker (on average) before memory is read")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--load-procs", type=int, default=0, help="processes converting rows for the load (0: cores)")
    ap.add_argument("--result-cache", action="store_true", help="keep the app's result cache (off: the engine)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-scale")
    ap.add_argument("--keep", action="store_true", help="keep each size's database and index")
    ap.add_argument("--out", type=Path, default=OUT / "scale.svg", help="the SVG plot")
    ap.add_argument("--table", type=Path, default=OUT / "scale.md", help="the markdown table")
    ap.add_argument("--json", type=Path, default=OUT / "scale.json", help="the numbers")
    ap.add_argument("--merge", action="store_true", help="keep other sizes from an earlier --json")
    ap.add_argument("--report-only", action="store_true", help="table and plot from --json, no run")
    args = ap.parse_args(argv)
    meta = {"seed": args.seed, "workers": args.workers, "queries": args.queries, "result_cache": args.result_cache,
            "load": load_average(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    earlier = json.loads(args.json.read_text()) if (args.merge or args.report_only) and args.json.exists() else {}
    results = {int(k): v for k, v in earlier.get("results", {}).items()}
    if args.report_only:
        meta = earlier.get("meta", meta)
    else:
        for n in [parse_size(s) for s in args.sizes.split(",") if s.strip()]:
            results[n] = run_size(n, args)
        meta["load"] = f"{meta['load']} → {load_average()}"
    if not results:
        raise SystemExit("no results")
    ordered = [results[n] for n in sorted(results)]
    for p in (args.out, args.table, args.json):
        p.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "results": {str(n): r for n, r in sorted(results.items())}},
                                    indent=1))
    md = table(ordered, meta)
    args.table.write_text(md)
    args.out.write_text(svg(ordered, meta))
    print("\n" + md)
    print(f"table {args.table}, plot {args.out}, numbers {args.json}")
    return ordered


if __name__ == "__main__":
    main()
