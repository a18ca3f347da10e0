"""Saved-search alerts: the cost of the weekly check beside the same searches run by a patron.

    python -m bench.alerts_bench [--old 10000] [--new 1000] [--searches 200]

Loads ``--old`` records of ../shared/data (catalog_combined.jsonl) dated a month back, saves
``--searches`` searches (the benchmark query mix) for patrons a week ago, adds ``--new`` records now,
then times the daily run's alert check (every saved search due) against the baseline: each query
once through the results page's search (first page with facets), in the same process and index.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import Timer, percentile, shared_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=int, default=10000)
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--searches", type=int, default=200)
    args = ap.parse_args()

    from sqlalchemy import func, select, update
    from werkzeug.datastructures import MultiDict

    from bench.common import query_mix
    from opac import create_app
    from opac.accounts.models import Patron
    from opac.accounts.services import create_patron
    from opac.catalog.models import Record, utcnow
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db
    from opac.patron_services import alerts
    from opac.patron_services.models import SavedSearch, SavedSearchMatch
    from opac.search import services as search
    from opac.search import sync

    tmp = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'opac.sqlite'}", "INDEX_DIR": str(tmp / "index"),
                      "INDEX_AUTO_REBUILD": False, "SECRET_KEY": "bench", "SAVED_SEARCHES_MAX": 1000,
                      "BASE_URL": "https://opac.example"})
    lines = (shared_data() / "catalog" / "catalog_combined.jsonl").read_bytes().splitlines(keepends=True)
    old, new = lines[:args.old], lines[args.old:args.old + args.new]
    with app.test_request_context():
        upgrade_database()
        with Timer() as t_load:
            import_data(b"".join(old), name="old.jsonl", commit=db.session.commit)
            db.session.execute(update(Record).values(created_at=utcnow() - timedelta(days=30)))
            db.session.commit()
            sync.rebuild(app)
        queries = [q for _kind, q in query_mix([json.loads(x) for x in old], n=args.searches)]
        patrons = [create_patron(f"B{n:04d}", "2468", f"Patron {n}", "student") for n in range(max(1, len(queries) // 4))]
        db.session.flush()
        for i, q in enumerate(queries):
            alerts.save_search(patrons[i % len(patrons)], MultiDict([("q", q)]))
        week_ago = utcnow() - timedelta(days=8)
        db.session.execute(update(SavedSearch).values(created_at=week_ago, next_check_at=week_ago))
        db.session.commit()
        import_data(b"".join(new), name="new.jsonl", commit=db.session.commit)
        sync.follow_once(app, rebuild_if_needed=False)

        # baseline: every saved query as a patron would run it; the second pass is timed (postings
        # cache warm, as it is for the alert check after it; each pass a new query object, no result cache)
        for _pass in range(2):
            base = []
            for q in queries:
                t = time.perf_counter()
                search.search(search.SearchParams.build(q=q, page=1, size=20 + _pass))
                base.append(time.perf_counter() - t)

        per = []
        due = db.session.scalars(select(SavedSearch).order_by(SavedSearch.id)).all()
        with Timer() as t_run:
            for saved in due:
                t = time.perf_counter()
                alerts.check_saved_search(saved, utcnow())
                per.append(time.perf_counter() - t)
            db.session.commit()
        matches = db.session.scalar(select(func.count()).select_from(SavedSearchMatch))
        with Timer() as t_again:
            again = alerts.run_saved_search_alerts()
            db.session.commit()
        patrons_told = db.session.scalar(select(func.count(func.distinct(SavedSearch.patron_id)))
                                         .where(SavedSearch.id.in_(select(SavedSearchMatch.saved_search_id))))
        n_patrons = db.session.scalar(select(func.count()).select_from(Patron))

    def ms(v, p):
        return percentile(v, p) * 1000

    print(f"catalogue: {args.old} old + {args.new} new records (load and index {t_load.seconds:.1f} s); "
          f"{len(queries)} saved searches of {n_patrons} patrons")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}{'total s':>10}")
    print(f"{'baseline: results page':28}{ms(base, 50):>10.2f}{ms(base, 95):>10.2f}{sum(base):>10.2f}")
    print(f"{'alert check per search':28}{ms(per, 50):>10.2f}{ms(per, 95):>10.2f}{t_run.seconds:>10.2f}")
    print(f"ratio alert/baseline: p50 {ms(per, 50) / ms(base, 50):.2f}x, p95 {ms(per, 95) / ms(base, 95):.2f}x, "
          f"total {t_run.seconds / sum(base):.2f}x")
    print(f"matches announced: {matches} (patrons told: {patrons_told}); next day's run: {again} in "
          f"{t_again.seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
