"""Union search benchmark: what partner records cost a search, side by side in one run.

Our catalogue is ``--ours`` records of catalog_combined (every other one); a partner holds ``--partner``
records, half of them our books with an ISBN (folded into ours as "also at"), half books we lack.
Query latency is measured three ways over the same query mix:

    ours only      the index before the partner was harvested (the baseline)
    union off      UNION_SEARCH=false on the union index (partners filtered out)
    union on       partners searched, the same book folded into one result, held_by for each hit

    .venv/bin/python bench/union_bench.py [--ours 6000] [--partner 4000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, query_mix, shared_data, stats_ms, write_jsonl  # noqa: E402


def _latency(app, qmix, union: bool) -> dict:
    from opac.search.services import SearchParams, get_index, search

    app.config["UNION_SEARCH"] = union
    out = {}
    with app.test_request_context():
        get_index().snapshot()
        for facets in (False, True):
            samples = []
            for _ in range(2):  # the second pass is the one reported (warm postings cache)
                samples = []
                for _kind, q in qmix:
                    t = time.perf_counter()
                    search(SearchParams.build(q=q, facets=facets))
                    samples.append(time.perf_counter() - t)
            out["facets" if facets else "plain"] = stats_ms(samples)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", type=int, default=6000)
    ap.add_argument("--partner", type=int, default=4000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    from opac import create_app
    from opac.catalog.importers import row_to_fields
    from opac.catalog.marc import match_key
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database
    from opac.extensions import db
    from opac.partners.mapping import _fit
    from opac.partners.models import Partner, PartnerRecord
    from opac.search import sync

    rows = [json.loads(line) for line in (shared_data() / "catalog" / "catalog_combined.jsonl").open(encoding="utf-8")]
    ours, rest = rows[::2][: args.ours], rows[1::2]  # every source on both sides (ISBNs are in some only)
    shared = [r for r in ours if r.get("isbn")][: args.partner // 2]
    theirs = shared + rest[: args.partner - len(shared)]
    qmix = query_mix([{"title": r["title"], "authors": r.get("authors") or [], "subjects": r.get("subjects") or []}
                      for r in ours + theirs], n=args.queries)

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{wd / 'opac.sqlite'}", "INDEX_DIR": str(wd / "index"),
                          "SECRET_KEY": "bench", "SEARCH_RESULT_CACHE_SIZE": 0})
        results = {}
        with app.app_context():
            upgrade_database()
            write_jsonl(ours, wd / "ours.jsonl")
            import_data((wd / "ours.jsonl").read_bytes(), name="ours.jsonl", commit=db.session.commit, commit_every=1000)
            with Timer() as t:
                n_ours = sync.rebuild(app)
            results["index ours only"] = {"records": n_ours, "rebuild_s": round(t.seconds, 2)}
        results["ours only"] = _latency(app, qmix, union=True)

        with app.app_context():
            partner = Partner(name="mitra", display_name="Perpustakaan Mitra", base_url="http://mitra.example/oai")
            db.session.add(partner)
            for i, row in enumerate(theirs):
                fields, _notes = row_to_fields(row)
                values = _fit(fields)
                db.session.add(PartnerRecord(partner=partner, identifier=f"oai:mitra:{i}", datestamp="2026-11-29",
                                             match_key=match_key(values["isbns"], []), **values))
            db.session.commit()
            with Timer() as t:
                n_all = sync.rebuild(app)
            results["index with partner"] = {"records": n_all, "rebuild_s": round(t.seconds, 2),
                                             "partner_records": len(theirs), "same_book_as_ours": len(shared)}
        app.extensions.pop("opac_search").close()
        results["union off"] = _latency(app, qmix, union=False)
        results["union on"] = _latency(app, qmix, union=True)
        with app.app_context():
            db.engine.dispose()

    base = results["ours only"]
    print(json.dumps({k: v for k, v in results.items() if k.startswith("index")}, indent=1))
    print(f"{'':12} {'plain p50':>10} {'plain p95':>10} {'facets p50':>11} {'facets p95':>11}   ratio p95 vs ours only")
    for name in ("ours only", "union off", "union on"):
        r = results[name]
        print(f"{name:12} {r['plain']['p50']:>10.2f} {r['plain']['p95']:>10.2f} {r['facets']['p50']:>11.2f} "
              f"{r['facets']['p95']:>11.2f}   plain {r['plain']['p95'] / base['plain']['p95']:.2f}x, "
              f"facets {r['facets']['p95'] / base['facets']['p95']:.2f}x")


if __name__ == "__main__":
    main()
