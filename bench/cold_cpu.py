"""CPU seconds per cold search, in-process, side by side with other checkouts (a baseline) and FTS5.

    .venv/bin/python bench/cold_cpu.py --workdir /tmp/opac-throughput --baseline ../main
    .venv/bin/python bench/cold_cpu.py --workdir /tmp/opac-throughput --profile 40   # cProfile, top 40

What bench/throughput.py's cold phase asks of one worker, without HTTP and wrk: a freshly created
app (the deployed configuration, result cache on) on the workdir's database and index (made by
throughput.py), opened by the same warm-up searches, its garbage collector tuned as gunicorn.conf.py's
``post_worker_init`` tunes a worker's, then one pass over the cold list
(``wrk-cold.txt``: distinct queries, each once) through the Flask test client. Each checkout runs in
a process of its own (its own ``.venv``), in turns (``--rounds``), so a busy machine slows all
alike; the numbers are process CPU time (``time.process_time``), not wall clock. FTS5 answers the
same list through its app (bench/fts5.py) the same way. ``--profile N`` runs this checkout's pass
under cProfile instead, prints the top N functions and saves the stats as ``cold_cpu.pstats`` in the
workdir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent


def child(root: Path, workdir: Path, engine: str, limit: int, profile: int) -> dict:
    """One fresh app of checkout ``root`` answering the cold list; CPU seconds of the opening and the pass."""
    sys.path.insert(0, str(root))
    from bench.common import serve_env

    os.environ.update(serve_env(workdir, FTS5_DB=str(workdir / "fts5.sqlite")))
    queries = [unquote(q) for q in (workdir / "wrk-cold.txt").read_text().split()][:limit]
    t0 = time.process_time()
    if engine == "fts5":
        from bench.fts5 import app

        client, path = app().test_client(), "/search"
    else:
        from opac import create_app

        client, path = create_app().test_client(), "/api/v1/search"
    from bench.throughput import WARMUP

    for w in WARMUP:
        assert client.get(path, query_string={"q": w}).status_code == 200
    import runpy

    runpy.run_path(str(root / "gunicorn.conf.py"))["post_worker_init"](None)  # a worker's collector, as served
    opening = time.process_time() - t0
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.process_time()
    status = {}
    for q in queries:
        code = client.get(path, query_string={"q": q}).status_code
        status[code] = status.get(code, 0) + 1
    cpu = time.process_time() - t0
    if prof is not None:
        import pstats

        prof.disable()
        prof.dump_stats(workdir / "cold_cpu.pstats")  # for pstats' callers/callees
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(profile)
    return {"opening_s": opening, "cpu_s": cpu, "queries": len(queries), "status": status}


def python_of(checkout: Path) -> str:
    """The checkout's own interpreter (its ``.venv``), else this one."""
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_child(root: Path, workdir: Path, engine: str, limit: int, profile: int) -> dict:
    cmd = [python_of(root), str(Path(__file__).resolve()), "--child", str(root), "--workdir", str(workdir),
           "--engine", engine, "--limit", str(limit), "--profile", str(profile)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/opac-throughput"))
    ap.add_argument("--baseline", type=Path, action="append", default=[], help="another checkout (with .venv)")
    ap.add_argument("--no-fts5", action="store_true", help="leave out the FTS5 app")
    ap.add_argument("--limit", type=int, default=2500, help="cold queries per pass (a gunicorn worker's share of 5,000)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", type=int, default=0, help="cProfile this checkout's pass, print the top N")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="ours", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.workdir, args.engine, args.limit, args.profile)))
        return
    for b in args.baseline:
        if not (b / "opac" / "__init__.py").exists():
            raise SystemExit(f"--baseline {b}: not a checkout of opac")
    if not (args.workdir / "wrk-cold.txt").exists():
        raise SystemExit(f"{args.workdir}/wrk-cold.txt missing: run bench/throughput.py --workdir {args.workdir} first")
    if args.profile:
        r = run_child(ROOT, args.workdir, "ours", args.limit, args.profile)
        print(json.dumps(r))
        return
    runs = [("this", ROOT, "ours")] + [(str(b), b.resolve(), "ours") for b in args.baseline]
    if not args.no_fts5:
        runs.append(("fts5", ROOT, "fts5"))
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    opening: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    n = 0
    for _ in range(args.rounds):
        for name, root, engine in runs:
            r = run_child(root, args.workdir, engine, args.limit, 0)
            cpu[name].append(r["cpu_s"])
            opening[name].append(r["opening_s"])
            n = r["queries"]
            if set(r["status"]) - {"200"}:
                print(f"  {name}: answers {r['status']}")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"cold pass, one fresh app per checkout, {n:,} distinct queries, {args.rounds} rounds, load average {load}")
    print(f"  {'checkout':<28} {'opening CPU s':>13} {'pass CPU s':>11} {'CPU ms/query':>13} {'queries/CPU s':>14}")
    best = {name: min(v) for name, v in cpu.items()}
    for name, _, _ in runs:
        print(f"  {name:<28} {min(opening[name]):>13.2f} {best[name]:>11.2f} {best[name] / n * 1000:>13.3f} "
              f"{n / best[name]:>14,.0f}")
    for name in best:
        if name != "this":
            print(f"  this / {name}: {best[name] / best['this']:.2f}× queries per CPU second")


if __name__ == "__main__":
    main()
