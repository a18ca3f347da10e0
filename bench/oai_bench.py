"""Full OAI-PMH harvest with sickle against gunicorn: records per second, pages, per-page latency.

    python -m bench.oai_bench [--limit 38000] [--page 250] [--prefix oai_dc] [--workers 2]

Loads ../shared/data (catalog_combined.jsonl, then the Indonesian catalogue) into a fresh SQLite
database, serves it with gunicorn and harvests ListRecords from start to end, checking that every
record arrives exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Timer, percentile, shared_data

ROOT = Path(__file__).resolve().parent.parent


def load(db_url: str, index_dir: str, limit: int) -> int:
    from sqlalchemy import delete, func, select

    from opac import create_app
    from opac.catalog.models import Record
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db
    from opac.search.models import IndexChange

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "INDEX_DIR": index_dir, "INDEX_AUTO_REBUILD": False,
                      "SECRET_KEY": "bench"})
    data = shared_data()
    files = [data / "catalog" / "catalog_combined.jsonl", data / "indonesian" / "indonesian_catalog.jsonl"]
    with app.app_context():
        upgrade_database()
        left = limit
        for path in files:
            if left <= 0 or not path.exists():
                continue
            lines = path.read_bytes().splitlines(keepends=True)[:left]
            left -= len(lines)
            import_data(b"".join(lines), name=path.name, commit=db.session.commit, commit_every=1000)
        db.session.execute(delete(IndexChange))  # the bench measures OAI, not indexing
        db.session.commit()
        n = db.session.scalar(select(func.count(Record.id)))
        db.engine.dispose()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=38000)
    ap.add_argument("--page", type=int, default=250)
    ap.add_argument("--prefix", default="oai_dc", choices=["oai_dc", "marc21"])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="oai-bench-"))
    db_url = f"sqlite:///{tmp / 'opac.sqlite'}"
    with Timer() as t_load:
        n = load(db_url, str(tmp / "index"), args.limit)
    print(f"loaded {n} records in {t_load.seconds:.1f} s")

    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, OPAC_DATABASE_URL=db_url, OPAC_INDEX_DIR=str(tmp / "index"), OPAC_SECRET_KEY="bench",
               OPAC_BIND=f"127.0.0.1:{port}", OPAC_WORKERS=str(args.workers), OPAC_OAI_PAGE_SIZE=str(args.page),
               OPAC_INDEX_AUTO_REBUILD="false", OPAC_EMBEDDED_FOLLOWER="false")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import requests
        from sickle import Sickle

        base = f"http://127.0.0.1:{port}/oai"
        for _ in range(120):
            try:
                if requests.get(base, params={"verb": "Identify"}, timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        harvester = Sickle(base, max_retries=0, timeout=120)
        seen: set[str] = set()
        duplicates = 0
        page_times: list[float] = []
        records = harvester.ListRecords(metadataPrefix=args.prefix)
        t0 = time.perf_counter()
        last = t0
        token = None
        for rec in records:
            ident = rec.header.identifier
            duplicates += ident in seen
            seen.add(ident)
            current = records.resumption_token.token if records.resumption_token else None
            if current != token:
                now = time.perf_counter()
                page_times.append(now - last)
                last, token = now, current
        total = time.perf_counter() - t0
        print(f"harvested {len(seen)} records ({args.prefix}, page {args.page}, {args.workers} workers) "
              f"in {total:.1f} s: {len(seen) / total:.0f} records/s; duplicates {duplicates}; "
              f"pages {len(page_times) + 1}")
        ms = [p * 1000 for p in page_times]
        print(f"page latency ms: p50 {percentile(ms, 50):.0f}, p95 {percentile(ms, 95):.0f}, max {max(ms or [0]):.0f}")
        if len(seen) != n or duplicates:
            raise SystemExit(f"incomplete harvest: {len(seen)} of {n}, {duplicates} duplicates")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


if __name__ == "__main__":
    main()
