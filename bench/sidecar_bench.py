"""The per-segment sidecar arrays (``opac/search/segments.py``): what they cost when indexing and
what they save in the web workers.

    .venv/bin/python bench/sidecar_bench.py index  --workdir DIR    # reindex with and without the hook
    .venv/bin/python bench/sidecar_bench.py memory --workdir DIR [--code CHECKOUT]

``index`` rebuilds the index of ``DIR/opac.sqlite`` three times, with the sidecar codec, with
Whoosh's plain codec, and with the sidecar codec again, and prints the rates. ``memory`` starts two
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


def index(workdir: Path) -> None:
    from whoosh.codec.whoosh3 import W3Codec

    from opac.search import index as idx
    from opac.search import sync

    app = _app(workdir)
    sidecar = idx.codec
    rates = []
    for name, codec in (("sidecar", sidecar), ("plain", lambda: W3Codec(blocklimit=512, inlinelimit=8)),
                        ("sidecar", sidecar)):
        idx.codec = codec
        with app.app_context():
            t = time.perf_counter()
            n = sync.rebuild(app)
            dt = time.perf_counter() - t
        rates.append((name, n / dt))
        print(f"reindex {name:8s} {n:,} records in {dt:.1f} s = {n / dt:,.0f} rec/s", flush=True)
    idx.codec = sidecar
    with_hook = (rates[0][1] + rates[2][1]) / 2
    print(f"sidecar hook: {rates[1][1] / with_hook - 1:+.1%} indexing time (mean of the two sidecar runs)")


def _child(workdir: str, code: str | None, queries: list[str], start, q) -> None:
    _use_code(code)
    from opac.search.services import SearchParams, get_index, search

    app = _app(Path(workdir))
    with app.test_request_context():
        get_index().snapshot()
        gc.collect()
        before = smaps_rollup()
        start.wait()
        t = time.perf_counter()
        for i, text in enumerate(queries):
            search(SearchParams.build(q=text, facets=i % 2 == 0))
        dt = time.perf_counter() - t
        gc.collect()
        after = smaps_rollup()
        start.wait()  # both done: PSS shares what both map
        q.put((before, after, smaps_rollup(), dt))


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
    for before, after, both, dt in results:
        print(f"  index open RSS {before['Rss']:.0f} / PSS {before['Pss']:.0f} MB -> after {n} searches "
              f"RSS {after['Rss']:.0f} / PSS {both['Pss']:.0f} MB (anonymous {after.get('Anonymous', 0):.0f} MB, "
              f"file-backed shared {after.get('Shared_Clean', 0):.0f} MB); {n / dt:.0f} searches/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["index", "memory"])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--code", help="checkout whose opac to run (memory only; default: this one)")
    ap.add_argument("--searches", type=int, default=1000)
    args = ap.parse_args()
    if args.what == "index":
        _use_code(None)
        index(args.workdir)
    else:
        memory(args.workdir, args.code, args.searches)


if __name__ == "__main__":
    main()
