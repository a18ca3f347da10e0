"""HTTP throughput of /api/v1/search under gunicorn (2 sync workers) against the FTS5 app with
the same worker count, loaded by wrk on loopback with a query list that does not repeat."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  local i = ((counter * 2 + (tid or 0)) % #queries) + 1
  return wrk.format("GET", PATH .. queries[i])
end
"""


def _free_port() -> int:
    """A port nobody listens on (other benchmarks may run beside this one)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()  # noqa: S310 - loopback
            return
        except Exception:  # noqa: BLE001
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def _wrk(port: int, path: str, qfile: Path, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA.replace("PATH ..", f'"{path}" ..'))
        script = f.name
    env = dict(os.environ, QUERIES=str(qfile))
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env=env, check=True).stdout
    rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    errors = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    if errors:
        print("   ", *errors)
    return rps


def _serve(cmd, env, port):
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    return proc


def _stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def run(workdir: Path, base_queries: list, seconds: int = 20, workers: int = 2) -> dict:
    """Both engines, same queries (many distinct ones, each used about once), same worker count."""
    from bench.common import query_mix
    from bench.search_bench import sample_records

    records = sample_records(workdir / "opac.sqlite", 20000, seed=11)
    mix = query_mix(records, 6000, seed=12)
    qs = list(dict.fromkeys(q for _, q in mix))
    random.Random(5).shuffle(qs)
    qfile = workdir / "wrk-queries.txt"
    qfile.write_text("\n".join(quote(q) for q in qs) + "\n")
    py = sys.executable
    gunicorn = str(Path(py).with_name("gunicorn"))
    env = dict(os.environ, OPAC_DATABASE_URL=f"sqlite:///{workdir / 'opac.sqlite'}", OPAC_INDEX_DIR=str(workdir / "index"),
               OPAC_SECRET_KEY="bench", FTS5_DB=str(workdir / "fts5.sqlite"), PYTHONPATH=str(ROOT))
    results = {}
    for name, port, app, path in (("ours", _free_port(), "wsgi:app", "/api/v1/search?q="),
                                  ("fts5", _free_port(), "bench.fts5:app()", "/search?q=")):
        proc = _serve([gunicorn, "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}", "--timeout", "120",
                       app], env, port)
        try:
            _wait(f"http://127.0.0.1:{port}{path}warmup")
            # warm every worker (opening the index, first postings) the same way for both
            for w in ("sejarah", "history", "indonesia", "pendidikan", "data"):
                for _ in range(workers * 2):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{w}").read()  # noqa: S310
            results[name] = _wrk(port, path, qfile, seconds)
        finally:
            _stop(proc)
    print(f"\nthroughput, gunicorn {workers} sync workers, wrk -t2 -c8 {seconds}s, {len(qs):,} distinct queries:")
    print(f"  ours {results['ours']:.0f} req/s   FTS5 {results['fts5']:.0f} req/s   ratio {results['ours'] / results['fts5']:.2f}x")
    return results
