"""CPU per search over an index the desk has left in small segments, beside the same index with them
merged (``sync.merge_tail``: what the follower does once the feed is quiet) and a fresh rebuild; in
one process, in turns (each round runs the three in another order), on the same queries.

    .venv/bin/python bench/tail_bench.py                                    # 8,000 synthetic records
    .venv/bin/python bench/tail_bench.py --database /tmp/opac-index-bench/real/opac.sqlite  # a copy of it

The desk: ``--changes`` copies of distinct records lent or returned, each applied by the follower in a
commit of its own (a desk with seconds between its scans). Queries: one or two words of the records'
titles, as ``ops_bench`` sends. Prints each index's segments, its milliseconds of CPU per search (the
median of the rounds) and the ratio to the fresh rebuild.
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import synthetic_records, write_jsonl  # noqa: E402


def make_app(database: Path, index_dir: Path):
    from opac import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "INDEX_DIR": str(index_dir),
                       "SECRET_KEY": "bench", "BACKGROUND_NICE": 0})


def prepare(args) -> Path:
    """The bench's own database: a copy of ``--database``, or ``--records`` synthetic records."""
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    database = args.workdir / "opac.sqlite"
    if args.database:
        shutil.copy(args.database, database)
        return database
    app = make_app(database, args.workdir / "unused")
    with app.app_context():
        upgrade_database()
        data = args.workdir / "records.jsonl"
        write_jsonl(synthetic_records(args.records), data)
        import_data(data.read_bytes(), name=data.name, commit=db.session.commit, commit_every=1000)
        db.engine.dispose()
    return database


def desk(app, changes: int) -> int:
    """Lend or return one copy of each of ``changes`` distinct records, a follower commit each."""
    from sqlalchemy import func, select

    from opac.catalog.models import Item
    from opac.extensions import db
    from opac.search import sync

    with app.app_context():
        firsts = db.session.scalars(select(func.min(Item.id)).group_by(Item.record_id).limit(changes)).all()
    for item_id in firsts:
        with app.app_context():
            item = db.session.get(Item, item_id)
            item.status = "on_loan" if item.status == "available" else "available"
            db.session.commit()
        sync.follow_once(app, rebuild_if_needed=False)
    return len(firsts)


def segments(index_dir: Path) -> list[int]:
    from whoosh import index as whoosh_index

    from opac.search import index as idx

    return [s.doc_count_all() for s in whoosh_index.open_dir(str(idx.generation_path(index_dir)))._segments()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", type=Path, help="an opac SQLite database to copy (else synthetic records)")
    ap.add_argument("--records", type=int, default=8000)
    ap.add_argument("--changes", type=int, default=60, help="desk changes, a commit each")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--queries", type=int, default=2000, help="searches per index per round")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-tail-bench")
    args = ap.parse_args()
    if args.database and not args.database.is_file():
        sys.exit(f"tail_bench: no database at {args.database}")

    from sqlalchemy import select

    from opac.catalog.models import Record
    from opac.extensions import db
    from opac.search import sync
    from opac.search.interface import SearchParams
    from opac.search.services import search

    database = prepare(args)
    fresh = args.workdir / "fresh"
    sync.rebuild(make_app(database, fresh))
    shutil.copytree(fresh, args.workdir / "desk", symlinks=True)
    changed = desk(make_app(database, args.workdir / "desk"), args.changes)
    shutil.copytree(args.workdir / "desk", args.workdir / "merged", symlinks=True)
    t = time.perf_counter()
    merged = sync.merge_tail(make_app(database, args.workdir / "merged"))
    merge_s = time.perf_counter() - t
    names = {"fresh rebuild": fresh, "after the desk": args.workdir / "desk", "tail merged": args.workdir / "merged"}
    apps = {name: make_app(database, path) for name, path in names.items()}
    print(f"{changed} desk changes, a commit each; merge_tail merged {merged} segments in {merge_s * 1000:.0f} ms")

    first = next(iter(apps.values()))
    with first.app_context():
        titles = db.session.scalars(select(Record.title).order_by(Record.id)).all()
    rng = random.Random(7)
    words = [w for t in titles for w in t.split() if w.isalpha() and len(w) > 3]
    n = args.queries
    queries = [f"{rng.choice(words)} {rng.choice(words)}" if i % 2 else rng.choice(words)
               for i in range(n * (args.rounds + 1))]
    for app in apps.values():  # warm: the words' parts, the hits of every index
        with app.test_request_context():
            for q in queries[:n]:
                search(SearchParams.build(q=q))
    times: dict[str, list[float]] = {name: [] for name in apps}
    order = list(apps)
    gc.collect()
    gc.freeze()  # as a web worker does after its start (gunicorn.conf.py)
    for r in range(args.rounds):
        batch = queries[n * (r + 1):n * (r + 2)]
        for name in order[r % 3:] + order[:r % 3]:
            with apps[name].test_request_context():
                gc.collect()  # a collection falls on no index's turn
                gc.disable()
                t = time.process_time()
                for q in batch:
                    search(SearchParams.build(q=q))
                times[name].append((time.process_time() - t) * 1000 / n)
                gc.enable()
    base = sorted(times["fresh rebuild"])[args.rounds // 2]
    print(f"{'index':16} {'segments':>28} {'CPU ms a search, median':>24} {'vs fresh':>9}  rounds")
    for name, ts in times.items():
        med = sorted(ts)[args.rounds // 2]
        sizes = segments(names[name])
        shown = ", ".join(map(str, sizes)) if len(sizes) <= 8 else f"{len(sizes)} segments"
        print(f"{name:16} {shown:>28} {med:24.3f} {med / base:8.2f}x  {' '.join(f'{x:.2f}' for x in ts)}")


if __name__ == "__main__":
    main()
