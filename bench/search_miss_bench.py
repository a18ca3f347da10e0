"""What counting searches without results costs a search: zero-result API searches with and without the
count, interleaved in the same run (time to the response, and the worker's time until the response is
closed, when the count runs), and the upsert on its own.

    python -m bench.search_miss_bench [--records 2000] [--n 300] [--db postgresql+psycopg://…]

Default database: a fresh SQLite file (WAL, as in production on one machine).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import stats_ms, synthetic_records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--db", default=None)
    args = ap.parse_args()

    from sqlalchemy import func, select

    from opac import create_app
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db
    from opac.search import misses, sync
    from opac.search.models import SearchMiss

    tmp = Path(tempfile.mkdtemp())
    url = args.db or f"sqlite:///{tmp / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INDEX_DIR": str(tmp / "index"), "SECRET_KEY": "bench",
                      "INDEX_AUTO_REBUILD": True, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade_database()
        data = "".join(json.dumps(r) + "\n" for r in synthetic_records(args.records)).encode()
        import_data(data, name="bench.jsonl", commit=db.session.commit, commit_every=1000)
        sync.rebuild(app)
    client = app.test_client()
    real = misses.should_count
    with_count, without, closed = [], [], {True: [], False: []}
    arms = [(True, with_count), (False, without)]
    for i in range(args.n):
        for on, samples in arms if i % 2 else arms[::-1]:
            misses.should_count = real if on else (lambda _params, _total: False)
            q = f"zzq{i} tidakada{'a' if on else 'b'}"  # never the same query twice: no result cache
            t = time.perf_counter()
            with client.get("/api/v1/search", query_string={"q": q}) as r:
                assert r.status_code == 200 and r.get_json()["total"] == 0
                samples.append(time.perf_counter() - t)  # what the searcher waits for
            closed[on].append(time.perf_counter() - t)  # the worker's time, the count included
    misses.should_count = real
    with app.app_context():
        counted = db.session.scalar(select(func.sum(SearchMiss.count)))
    assert counted == args.n, counted  # every counted search is in the table
    upserts = []
    with app.app_context():
        for i in range(args.n):
            t = time.perf_counter()
            assert misses.count_miss(f"upsert {i % 2 and i}")  # half new rows, half one row counted up
            upserts.append(time.perf_counter() - t)
    a, b, u = stats_ms(with_count), stats_ms(without), stats_ms(upserts)
    c_on, c_off = stats_ms(closed[True]), stats_ms(closed[False])
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, {args.records} records, "
          f"{args.n} zero-result searches each way")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'response, miss counted':28}{a['p50']:10.2f}{a['p95']:10.2f}")
    print(f"{'response, not counted':28}{b['p50']:10.2f}{b['p95']:10.2f}")
    print(f"{'ratio counted/not':28}{a['p50'] / b['p50']:10.2f}{a['p95'] / b['p95']:10.2f}")
    print(f"{'worker time, counted':28}{c_on['p50']:10.2f}{c_on['p95']:10.2f}")
    print(f"{'worker time, not counted':28}{c_off['p50']:10.2f}{c_off['p95']:10.2f}")
    print(f"{'count_miss alone':28}{u['p50']:10.2f}{u['p95']:10.2f}")


if __name__ == "__main__":
    main()
