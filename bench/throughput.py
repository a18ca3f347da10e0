"""HTTP throughput under gunicorn (2 sync workers), side by side in one run: our /api/v1/search,
the same Flask app shape around SQLite FTS5 (bench/fts5.py) and tantivy (bench/tantivy_engine.py),
and the framework's own ceiling (the same Flask app answering a precomputed JSON body).

    .venv/bin/python bench/throughput.py                    # real catalogue (38k), loaded once into --workdir
    .venv/bin/python bench/throughput.py --reuse            # reuse the database and index of an earlier run
    .venv/bin/python bench/throughput.py --seconds 30 --engines ours,tantivy,ceiling

Each engine gets freshly started workers (same count, the project's gunicorn.conf.py, no embedded
follower), opened by the same few warm-up requests, then wrk (loopback, -t2 -c8) runs:

- **cold**: one pass over thousands of distinct queries (``bench.common.query_mix`` over records
  spread through the catalogue), each sent exactly once; wrk stops when the list is used up. What
  a worker pays the first time it meets a query's terms.
- **steady**: a repeating stream (queries drawn from a pool of ``--pool`` distinct ones with
  Zipf-like weights, a fixed seed), after ``--warm-seconds`` of the same stream unmeasured.

Our app runs as deployed (its result cache on); ``ours-nocache`` is the same with the result cache
off (the engine alone, steady only). Goals (issue 14): cold ≥ 1.0× FTS5, steady ≥ 0.8× tantivy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Gunicorn, http_get, serve_env  # noqa: E402

LUA = r"""
local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
local once = os.getenv("ONCE") == "1"
local threads = tonumber(os.getenv("THREADS"))
local counter, responses, started = 0, 0, nil
local thread_id = 0
local function uptime()
  local f = io.open("/proc/uptime"); local t = f:read("*n"); f:close(); return t
end
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  if not started then started = uptime() end
  local i = counter * threads + (tid or 0) + 1
  counter = counter + 1
  i = ((i - 1) % #queries) + 1
  return wrk.format("GET", PATH .. queries[i])
end
if once then
  response = function(status, headers, body)
    responses = responses + 1
    if responses == math.ceil((#queries - tid) / threads) then
      local f = io.open(os.getenv("DONE") .. tid, "w")
      f:write(string.format("%f %f %d\n", started, uptime(), responses)); f:close()
    end
  end
end
"""


#: name -> (WSGI app for gunicorn, search path, extra environment, phases)
ENGINES = {
    "ours": ("wsgi:app", "/api/v1/search?q=", {}, ("cold", "steady")),
    "fts5": ("bench.fts5:app()", "/search?q=", {}, ("cold", "steady")),
    "tantivy": ("bench.tantivy_engine:app()", "/search?q=", {}, ("cold", "steady")),
    "ceiling": ("bench.throughput:ceiling_app()", "/search?q=", {}, ("cold", "steady")),
    "ours-nocache": ("wsgi:app", "/api/v1/search?q=", {"OPAC_SEARCH_RESULT_CACHE_SIZE": "0"}, ("steady",)),
}
WARMUP = ("sejarah", "history", "indonesia", "pendidikan", "data")
THREADS, CONNECTIONS = 2, 8


def ceiling_app():
    """The framework's ceiling: the same Flask app shape answering a precomputed JSON body (our
    own answer to a typical query, saved by the run) without searching anything."""
    from flask import Flask, Response

    body = Path(os.environ["CEILING_JSON"]).read_bytes()
    flask_app = Flask(__name__)

    @flask_app.get("/search")
    def search():
        return Response(body, mimetype="application/json")

    return flask_app


def wrk(base: str, path: str, qfile: Path, seconds: float, once: bool = False) -> dict:
    """Requests/s (and latency percentiles) of wrk over the queries of ``qfile``.

    ``once``: each query sent once (thread k of n takes every n-th), ``seconds`` only a limit; each
    thread notes when its share is answered (and goes on from the start of the list: a stopped
    thread would leave connections open without a request, on which sync workers wait), wrk is
    interrupted once both are, and the rate is the shares' responses over the time from the
    first request to the last answer (wrk's own rate divides by its whole ``-d``)."""
    done = Path(tempfile.mkdtemp(prefix="wrk-done-"))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.replace("PATH ..", f'"{path}" ..'))
        script = f.name
    env = dict(os.environ, QUERIES=str(qfile), ONCE="1" if once else "0", THREADS=str(THREADS), DONE=f"{done}/")
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script, base]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if once:
            while proc.poll() is None and len(list(done.iterdir())) < THREADS:
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        out, err = proc.communicate(timeout=seconds + 60)
        if proc.returncode:
            raise RuntimeError(f"wrk exited {proc.returncode}: {err[-500:]}")
        marks = [tuple(map(float, p.read_text().split())) for p in done.iterdir()]
    finally:
        os.unlink(script)
        shutil.rmtree(done, ignore_errors=True)
    res = {"rps": 0.0, "requests": 0, "errors": []}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            res["rps"] = float(parts[1])
        elif "requests in" in line:
            res["requests"] = int(parts[0])
        elif parts and parts[0] in ("50%", "99%"):
            res[f"p{parts[0][:-1]}_ms"] = _ms(parts[1])
        elif "Non-2xx" in line or "Socket errors" in line:
            res["errors"].append(line.strip())
    if once:
        if len(marks) < THREADS:
            raise RuntimeError(f"wrk stopped before the {qfile.name} list was answered (limit {seconds:g} s)")
        res["requests"] = int(sum(m[2] for m in marks))
        res["seconds"] = max(m[1] for m in marks) - min(m[0] for m in marks)
        res["rps"] = res["requests"] / res["seconds"]
    return res


def _ms(text: str) -> float:
    """wrk's latency text in ms.

    >>> [_ms(t) for t in ("850.00us", "12.5ms", "1.20s")]
    [0.85, 12.5, 1200.0]
    """
    for unit, mult in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * mult, 3)
    return float(text)


def query_files(workdir: Path, cold_n: int, pool_n: int, stream_n: int = 20000) -> tuple[Path, Path, int, list]:
    """The cold list (distinct queries, shuffled) and the steady stream (a pool drawn Zipf-like);
    returns the two files, the cold list's length and the pool (most frequent first)."""
    import sqlite3

    from bench.scale import distinct_queries, sample_records

    conn = sqlite3.connect(workdir / "opac.sqlite")
    n_records = conn.execute("SELECT max(id) FROM record").fetchone()[0] or 0
    conn.close()
    records = sample_records(workdir / "opac.sqlite", n_records, 20000, seed=11)
    cold = distinct_queries(records, cold_n, seed=12)
    random.Random(5).shuffle(cold)
    pool = distinct_queries(records, pool_n, seed=13, exclude=set(cold)) or cold[:pool_n]
    rng = random.Random(14)
    stream = rng.choices(pool, weights=[1 / (i + 1) for i in range(len(pool))], k=stream_n)
    cold_file, steady_file = workdir / "wrk-cold.txt", workdir / "wrk-steady.txt"
    cold_file.write_text("\n".join(quote(q) for q in cold) + "\n")
    steady_file.write_text("\n".join(quote(q) for q in stream) + "\n")
    return cold_file, steady_file, len(cold), pool


def run(workdir: Path, seconds: float = 20, workers: int = 2, engines=tuple(ENGINES),
        cold_n: int = 5000, pool: int = 1000, warm_seconds: float = 5, cold_rounds: int = 1) -> dict:
    """Every engine in ``engines`` on ``workdir`` (opac.sqlite and index/; the FTS5 and tantivy
    copies are built when missing). With ``cold_rounds`` > 1 the cold pass is run again on freshly
    started workers, the engines taking turns in alternating order (ours, fts5, fts5, ours, ...): a
    two-core machine's slow spell then falls on both, and each engine's cold figure is its median
    round (``cold_rounds``: every round's requests/s)."""
    ensure_baselines(workdir, rebuild=False)
    cold_file, steady_file, n_cold, pool_queries = query_files(workdir, cold_n, pool)
    typical = pool_queries[0]  # the stream's most frequent query: the ceiling answers ours to it
    ceiling_json = workdir / "ceiling.json"
    results: dict[str, dict] = {}

    def serve(name: str, phases) -> dict:
        app, path, extra, _ = ENGINES[name]
        if name == "ceiling" and not ceiling_json.exists():
            _save_answer(workdir, ceiling_json, typical)
        env = serve_env(workdir, FTS5_DB=str(workdir / "fts5.sqlite"), TANTIVY_INDEX=str(workdir / "tantivy"),
                        CEILING_JSON=str(ceiling_json), **extra)
        res = {}
        with Gunicorn(app, env, workers=workers, ready_path="/healthz" if path.startswith("/api") else path + "ready",
                      log=workdir / f"gunicorn-{name}.log") as server:
            server.open_every_worker(path + "zzqxwarmup")
            for w in WARMUP:
                for _ in range(workers * 2):
                    http_get(server.base + path + w)
            if "cold" in phases:
                res["cold"] = wrk(server.base, path, cold_file, seconds=600, once=True)
            if "steady" in phases:
                if warm_seconds > 0:
                    wrk(server.base, path, steady_file, seconds=warm_seconds)
                res["steady"] = wrk(server.base, path, steady_file, seconds=seconds)
            if name == "ours" and not ceiling_json.exists():
                _save_answer(workdir, ceiling_json, typical, server.base)
        return res

    for name in engines:
        res = results[name] = serve(name, ENGINES[name][3])
        print(f"  {name}: " + ", ".join(f"{ph} {r['rps']:,.0f} req/s" + (f" ({'; '.join(r['errors'])})" if r["errors"]
                                                                          else "") for ph, r in res.items()), flush=True)
    cold_engines = [name for name in engines if "cold" in ENGINES[name][3]]
    rounds = {name: [results[name]["cold"]] for name in cold_engines}
    for r in range(1, cold_rounds):
        for name in (cold_engines[::-1] if r % 2 else cold_engines):
            rounds[name].append(serve(name, ("cold",))["cold"])
        print(f"  cold round {r + 1}: " + ", ".join(f"{name} {rounds[name][-1]['rps']:,.0f}" for name in cold_engines),
              flush=True)
    for name in cold_engines:
        results[name]["cold"] = median_round(rounds[name])
        results[name]["cold_rounds"] = [x["rps"] for x in rounds[name]]
    report(results, workers, seconds, n_cold, len(pool_queries))
    return results


def median_round(rounds: list[dict]) -> dict:
    """The round of median requests/s (the lower middle one of an even count).

    >>> median_round([{"rps": 5}, {"rps": 9}, {"rps": 7}])
    {'rps': 7}
    """
    return sorted(rounds, key=lambda x: x["rps"])[(len(rounds) - 1) // 2]


def _save_answer(workdir: Path, out: Path, q: str, base: str | None = None) -> None:
    """Our answer to a typical query (the ceiling's body): from the running app, or in-process."""
    if base:
        status, body, _ = http_get(f"{base}/api/v1/search?q={quote(q)}")
    else:
        from bench.search_bench import make_app

        r = make_app(workdir).test_client().get(f"/api/v1/search?q={quote(q)}")
        status, body = r.status_code, r.data
    if status != 200:
        raise RuntimeError(f"our app answered {status} to the ceiling's query")
    out.write_bytes(body)


def report(results: dict, workers: int, seconds: float, n_cold: int, n_pool: int) -> None:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\nthroughput, gunicorn {workers} sync workers each, wrk -t{THREADS} -c{CONNECTIONS}, load average {load}")
    print(f"  cold = one pass over {n_cold:,} distinct queries on freshly started workers; steady = "
          f"{seconds:g} s of a repeating stream over {n_pool:,} queries (Zipf-like), after a warm-up\n")
    print(f"  {'engine':<14} {'cold req/s':>11} {'p50 / p99 ms':>15}   {'steady req/s':>12} {'p50 / p99 ms':>15}")
    for name, r in results.items():
        cells = []
        for ph in ("cold", "steady"):
            x = r.get(ph)
            cells.append(f"{x['rps']:>11,.0f} {x.get('p50_ms', 0):>7.1f} / {x.get('p99_ms', 0):<6.1f}" if x
                         else f"{'—':>11} {'':>15}")
        print(f"  {name:<14} {cells[0]}   {cells[1]}")
    rounds = {name: r["cold_rounds"] for name, r in results.items() if len(r.get("cold_rounds", ())) > 1}
    if rounds:
        print("\n  cold req/s of each round (the median above): "
              + "; ".join(f"{name} " + ", ".join(f"{x:,.0f}" for x in each) for name, each in rounds.items()))

    def ratio(a, b, ph):
        x, y = results.get(a, {}).get(ph), results.get(b, {}).get(ph)
        if ph == "cold" and len(results.get(a, {}).get("cold_rounds", ())) > 1 and "cold_rounds" in results.get(b, {}):
            # the median of the rounds' ratios: each round's two passes ran minutes apart at most
            each = [p / q for p, q in zip(results[a]["cold_rounds"], results[b]["cold_rounds"], strict=True) if q]
            return sorted(each)[(len(each) - 1) // 2] if each else None
        return x["rps"] / y["rps"] if x and y and y["rps"] else None

    print()
    for a, b, ph, goal in (("ours", "fts5", "cold", 1.0), ("ours", "tantivy", "steady", 0.8),
                           ("ours-nocache", "tantivy", "steady", None), ("ours", "fts5", "steady", None),
                           ("ours", "ceiling", "cold", None), ("ours", "ceiling", "steady", None),
                           ("tantivy", "ceiling", "steady", None)):
        r = ratio(a, b, ph)
        if r is not None:
            verdict = "" if goal is None else f"   goal ≥ {goal:.1f}×: {'pass' if r >= goal else 'FAIL'}"
            print(f"  {ph:<6} {a} / {b}: {r:.2f}×{verdict}")


def ensure_baselines(workdir: Path, rebuild: bool) -> None:
    """The FTS5 copy and the tantivy index of ``workdir``'s database (built when missing)."""
    from bench.fts5 import build as build_fts5
    from bench.tantivy_engine import build as build_tantivy

    for name, path, build in (("FTS5", workdir / "fts5.sqlite", build_fts5),
                              ("tantivy", workdir / "tantivy", build_tantivy)):
        if rebuild or not path.exists():
            t = time.perf_counter()
            n = build(str(workdir / "opac.sqlite"), path)
            print(f"{name}: {n:,} records in {time.perf_counter() - t:.1f} s", flush=True)


def prepare(workdir: Path, reuse: bool) -> None:
    """The real catalogue (all shared JSON lines and the Indonesian records) in an opac database
    through the importer, indexed by ``flask --app opac reindex``; an FTS5 copy and a tantivy index."""
    if not (reuse and (workdir / "opac.sqlite").exists() and (workdir / "index").exists()):
        from bench.common import shared_data
        from bench.scale import reindex
        from bench.search_bench import make_app
        from opac.catalog.services import import_data
        from opac.cli import upgrade_database
        from opac.extensions import db

        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        data = shared_data()
        t = time.perf_counter()
        with make_app(workdir).app_context():
            upgrade_database()
            n = 0
            for f in (data / "catalog" / "catalog_combined.jsonl", data / "indonesian" / "indonesian_catalog.jsonl"):
                r = import_data(f.read_bytes(), name=f.name, commit=db.session.commit, commit_every=1000)
                n += r.imported + r.updated
        print(f"imported {n:,} records in {time.perf_counter() - t:.0f} s", flush=True)
        r = reindex(workdir)
        print(f"reindexed in {r['reindex_s']:.0f} s, index {r['index_mb']:.0f} MB", flush=True)
    ensure_baselines(workdir, rebuild=not reuse)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "opac-throughput")
    ap.add_argument("--reuse", action="store_true", help="reuse the database, index and baselines of an earlier run")
    ap.add_argument("--seconds", type=float, default=20, help="length of the steady run")
    ap.add_argument("--warm-seconds", type=float, default=5, help="unmeasured steady stream before it")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cold", type=int, default=5000, help="distinct queries of the cold pass")
    ap.add_argument("--cold-rounds", type=int, default=3,
                    help="cold passes per engine on fresh workers, engines alternating (the median counts)")
    ap.add_argument("--pool", type=int, default=1000, help="distinct queries of the steady stream")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"some of {', '.join(ENGINES)}")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "throughput.json", help="the numbers")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise SystemExit(f"unknown engines: {', '.join(sorted(unknown))}")
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    prepare(args.workdir, args.reuse)
    (args.workdir / "ceiling.json").unlink(missing_ok=True)
    results = run(args.workdir, seconds=args.seconds, workers=args.workers, engines=engines, cold_n=args.cold,
                  pool=args.pool, warm_seconds=args.warm_seconds, cold_rounds=args.cold_rounds)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"load": Path("/proc/loadavg").read_text().split()[:3],
                                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     "results": results}, indent=1))
    print(f"numbers {args.json}")
    return results


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
