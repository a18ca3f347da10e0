"""Full reindex rate (``flask --app opac reindex`` = ``sync.rebuild``) side by side with another
checkout of the code (the baseline, e.g. main), SQLite FTS5 and tantivy over the same records.

    git worktree add /tmp/opac-main main                       # the baseline's code
    .venv/bin/python bench/index_bench.py --baseline /tmp/opac-main
    .venv/bin/python bench/index_bench.py --baseline /tmp/opac-main --synthetic 100000 --skip-real
    .venv/bin/python bench/index_bench.py --database /tmp/opac-bench/real/opac.sqlite   # reuse a database

Each rebuild runs in a fresh process on the same database (the records are imported once). Prints
wall time, records/s and the CPU seconds spent (this process and its workers): on a busy machine
the CPU seconds and the ratios within one run are the numbers to compare. Also prints ``uptime``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, shared_data, synthetic_records, write_jsonl  # noqa: E402

#: Run in a child process: one rebuild with the code at ``src`` (argv: src, database, index dir, workers).
CHILD = """
import json, resource, sys, time
src, database, index_dir, workers = sys.argv[1:5]
sys.path.insert(0, src)
from opac import create_app
from opac.search import sync
app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "INDEX_DIR": index_dir, "SECRET_KEY": "bench"})
kwargs = {} if workers == "default" else {"workers": int(workers)}
t, c = time.perf_counter(), time.process_time()
n = sync.rebuild(app, **kwargs)
wall, cpu = time.perf_counter() - t, time.process_time() - c
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"records": n, "wall": wall, "cpu": cpu + kids.ru_utime + kids.ru_stime}))
"""


def load_database(workdir: Path, files: list[Path]) -> Path:
    """An opac database holding ``files`` (imported, not indexed)."""
    sys.path.insert(0, str(ROOT))
    from opac import create_app
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'opac.sqlite'}",
                      "INDEX_DIR": str(workdir / "index"), "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade_database()
        for f in files:
            import_data(f.read_bytes(), name=f.name, commit=db.session.commit, commit_every=1000)
        db.engine.dispose()
    return workdir / "opac.sqlite"


def rebuild(src: Path, database: Path, workers: str) -> dict:
    index_dir = Path(tempfile.mkdtemp(prefix="opac-index-bench-"))
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(database), str(index_dir), workers],
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)


def references(database: Path, workdir: Path) -> dict:
    """Build times of FTS5 and (when installed) tantivy over the same records."""
    from bench.fts5 import build as build_fts5

    out = {}
    t = time.perf_counter()
    build_fts5(str(database), workdir / "fts5.sqlite")
    out["FTS5"] = time.perf_counter() - t
    try:
        from bench.relevance import Tantivy
    except ImportError:
        return out
    t = time.perf_counter()
    try:
        Tantivy(workdir / "tantivy", database)
    except ImportError:
        return out
    out["tantivy"] = time.perf_counter() - t
    return out


def run(name: str, database: Path, workdir: Path, baseline: Path | None, repeat: int) -> None:
    import sqlite3

    with sqlite3.connect(database) as conn:
        n = conn.execute("SELECT count(*) FROM record").fetchone()[0]
    print(f"\n=== {name}: {n:,} records === (load average before: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    runs = [("this checkout, one process", ROOT, "1"), ("this checkout, default workers", ROOT, "default")]
    if baseline:
        runs.insert(0, (f"baseline {baseline}", baseline, "default"))
    results: dict[str, list] = {}
    print(f"{'':34} {'wall s':>8} {'rec/s':>8} {'CPU s':>8} {'rec/CPU s':>10} {'vs baseline: wall':>18} {'CPU':>6}",
          flush=True)
    base = base_cpu = None
    for r in range(repeat):  # interleaved, so that a change of load hits every variant alike
        for label, src, workers in runs:
            results.setdefault(label, []).append(rebuild(src, database, workers))
            if r < repeat - 1:
                continue
            rs = results[label]
            best = min(rs, key=lambda x: x["wall"])
            cpu = min(x["cpu"] for x in rs)
            rate = best["records"] / best["wall"]
            if base is None and baseline:
                base, base_cpu = rate, best["records"] / cpu
            ratio = f"{rate / base:.2f}x" if base else ""
            cpu_ratio = f"{best['records'] / cpu / base_cpu:.2f}x" if base_cpu else ""
            print(f"{label[:34]:34} {best['wall']:8.1f} {rate:8,.0f} {cpu:8.1f} {best['records'] / cpu:10,.0f} "
                  f"{ratio:>18} {cpu_ratio:>6}", flush=True)
    for engine, seconds in references(database, workdir).items():
        print(f"{engine + ' build (reference)':34} {seconds:8.1f} {n / seconds:8,.0f}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, help="a checkout of the code to compare with (e.g. a worktree of main)")
    ap.add_argument("--database", type=Path, help="reuse this opac database instead of importing the real catalogue")
    ap.add_argument("--synthetic", type=int, default=0, help="also a seeded synthetic catalogue of N records")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-index-bench")
    args = ap.parse_args()
    if not args.skip_real:
        database = args.database
        if database is None:
            data = shared_data()
            database = load_database(args.workdir / "real", [data / "catalog" / "catalog_combined.jsonl",
                                                             data / "indonesian" / "indonesian_catalog.jsonl"])
        run("real catalogue (catalog_combined + Indonesian)", database, database.parent, args.baseline, args.repeat)
    if args.synthetic:
        wd = args.workdir / f"synthetic-{args.synthetic}"
        database = wd / "opac.sqlite"
        if not database.exists():
            wd.mkdir(parents=True, exist_ok=True)
            write_jsonl(synthetic_records(args.synthetic), args.workdir / "synthetic.jsonl")
            database = load_database(wd, [args.workdir / "synthetic.jsonl"])
        run(f"synthetic {args.synthetic:,} (seed 20261122)", database, wd, args.baseline, args.repeat)


if __name__ == "__main__":
    main()
