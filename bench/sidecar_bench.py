"""The per-segment sidecar arrays (``opac/search/segments.py``): what they cost when indexing and
what they save in the web workers.

    .venv/bin/python bench/sidecar_bench.py index  --workdir DIR [--limit N]  # with and without the hook
    .venv/bin/python bench/sidecar_bench.py memory --workdir DIR [--code CHECKOUT]

``index`` writes the documents of the first ``--limit`` records of ``DIR/opac.sqlite`` with the
sidecar codec and with Whoosh's plain one, in turn, and compares the CPU seconds. ``memory`` starts two
worker-like processes at once (as gunicorn's two workers) that open the index of ``DIR`` and run
the same 1,000 mixed searches, then reads each one's ``/proc/PID/smaps_rollup``: RSS counts the
memory-mapped index pages each process touched, PSS divides shared pages between the processes
mapping them. ``--code`` runs another checkout's ``opac`` (a baseline) on its own index.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path


def _use_code(code: str | None) -> None:
    sys.path.insert(0, str(Path(code).resolve() if code else Path(__file__).resolve().parent.parent))


def smaps_rollup(pid: str = "self") -> dict[str, float]:
    """RSS, PSS and their parts of a process, in MB (Linux)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


def _app(workdir: Path):
    from opac import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'opac.sqlite'}",
                       "INDEX_DIR": str(workdir / "index"), "SECRET_KEY": "bench",
                       "SEARCH_RESULT_CACHE_SIZE": 0})


def index(workdir: Path, limit: int, rounds: int = 2) -> None:
    """CPU seconds (this process only: robust on a busy machine) of writing ``limit`` records'
    documents with the sidecar codec and with Whoosh's plain one, alternately, beside the CPU
    seconds of reading the records and building their documents (the rest of a reindex)."""
    import tempfile

    from sqlalchemy import select
    from sqlalchemy.orm import selectinload
    from whoosh.codec.whoosh3 import W3Codec

    from opac.catalog.models import Item, Record
    from opac.extensions import db
    from opac.search import index as idx
    from opac.search.documents import build_document

    app = _app(workdir)
    with app.app_context():
        t = time.process_time()
        recs = db.session.scalars(select(Record).order_by(Record.id).limit(limit)
                                  .options(selectinload(Record.items).joinedload(Item.location))).all()
        docs = [build_document(r) for r in recs]
        read_build = time.process_time() - t
    codecs = {"sidecar": idx.codec, "plain": lambda: W3Codec(blocklimit=512, inlinelimit=8)}
    spent: dict[str, list[float]] = {name: [] for name in codecs}
    for _ in range(rounds):
        for name, codec in codecs.items():
            with tempfile.TemporaryDirectory() as tmp:
                _path, ix = idx.new_generation(tmp)
                t = time.process_time()
                w = ix.writer(codec=codec(), limitmb=256)
                for d in docs:
                    w.add_document(**d)
                w.commit()
                spent[name].append(time.process_time() - t)
    plain, side = min(spent["plain"]), min(spent["sidecar"])
    print(f"{len(docs):,} records, CPU seconds (best of {rounds}): reading records + building documents "
          f"{read_build:.1f}; writing the index: plain {plain:.1f}, with sidecars {side:.1f}")
    print(f"sidecar hook: +{side / plain - 1:.1%} of writing, +{(side - plain) / (read_build + plain):.1%} "
          f"of a reindex (reading, building and writing)")


def _child(workdir: str, code: str | None, queries: list[str], start, q) -> None:
    _use_code(code)
    from opac.search.services import SearchParams, get_index, search

    app = _app(Path(workdir))
    with app.test_request_context():
        get_index().snapshot()
        gc.collect()
        before = smaps_rollup()
        start.wait()
        t, cpu = time.perf_counter(), time.process_time()
        for i, text in enumerate(queries):
            search(SearchParams.build(q=text, facets=i % 2 == 0))
        dt, cpu = time.perf_counter() - t, time.process_time() - cpu
        gc.collect()
        after = smaps_rollup()
        start.wait()  # both done: PSS shares what both map
        q.put((before, after, smaps_rollup(), dt, cpu))


def memory(workdir: Path, code: str | None, n: int = 1000, workers: int = 2) -> None:
    import multiprocessing

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import query_mix
    from bench.search_bench import sample_records

    queries = [q for _, q in query_mix(sample_records(workdir / "opac.sqlite", 3000), n, seed=99)]
    ctx = multiprocessing.get_context("spawn")
    q, start = ctx.Queue(), ctx.Barrier(workers)
    procs = [ctx.Process(target=_child, args=(str(workdir), code, queries, start, q)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [q.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    print(f"{workers} workers, {n} searches each (code: {code or 'this checkout'}):")
    for before, after, both, dt, cpu in results:
        print(f"  index open RSS {before['Rss']:.0f} / PSS {before['Pss']:.0f} MB -> after {n} searches "
              f"RSS {after['Rss']:.0f} / PSS {both['Pss']:.0f} MB (anonymous {after.get('Anonymous', 0):.0f} MB, "
              f"file-backed shared {after.get('Shared_Clean', 0):.0f} MB); {n / dt:.0f} searches/s, "
              f"{cpu / n * 1000:.2f} ms CPU a search (first pass of a fresh process)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["index", "memory"])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--code", help="checkout whose opac to run (memory only; default: this one)")
    ap.add_argument("--searches", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=10_000, help="records to index (index only)")
    args = ap.parse_args()
    if args.what == "index":
        _use_code(None)
        index(args.workdir, args.limit)
    else:
        memory(args.workdir, args.code, args.searches)


if __name__ == "__main__":
    main()
