"""Operations benchmark: the web only reads the index, the follower writes it.

One run, one machine, numbers and ratios printed together:
- desk latency (checkout, renewal, checkin over HTTP) alone and during a bulk import;
- search requests/s under gunicorn (2 workers, wrk) alone and while the desk writes 5 changes/s;
- index lag (commit -> found by a search over HTTP) p50/p95 under a stream of edits (5/s).

    .venv/bin/python bench/ops_bench.py [--records 8000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile, shared_data  # noqa: E402
from bench.watchdog import PhaseTimeout, Watchdog, stack_env  # noqa: E402

FLASK = str(Path(sys.executable).with_name("flask"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def run(env, *args, check=True, timeout=None):
    return subprocess.run([FLASK, "--app", "opac", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          check=check, timeout=timeout)


def catalogue(n: int, skip: int = 0) -> list[dict]:
    """Real records: the Indonesian set (with copies) first, then the combined catalogue."""
    data = shared_data()
    rows = []
    for f in (data / "indonesian" / "indonesian_catalog.jsonl", data / "catalog" / "catalog_combined.jsonl"):
        with open(f) as fh:
            for line in fh:
                rows.append(json.loads(line))
                if len(rows) >= n + skip:
                    return rows[skip:]
    return rows[skip:]


WRK_LUA = r"""
local queries = {}
for line in io.lines(os.getenv("QUERIES")) do queries[#queries + 1] = line end
local counter = 0
local offset = tonumber(os.getenv("OFFSET") or "0")
local thread_id = 0
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  return wrk.format("GET", queries[((offset + counter * 2 + (tid or 0)) % #queries) + 1])
end
"""


#: Lines of the query file each wrk run starts apart (more than a run sends).
QUERIES_PER_RUN = 8000


def wrk_rps(port: int, qfile: Path, seconds: int, offset: int = 0) -> float:
    """Requests/s of wrk (2 threads, 8 connections) over the paths of ``qfile`` from line ``offset``;
    errors are printed."""
    script = qfile.with_suffix(".lua")
    script.write_text(WRK_LUA)
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env=dict(os.environ, QUERIES=str(qfile), OFFSET=str(offset)), check=True,
                         timeout=seconds + 60).stdout
    for line in out.splitlines():
        if "Non-2xx" in line or "Socket errors" in line:
            print("   ", line.strip(), flush=True)
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))


def write_jsonl(rows, path: Path) -> Path:
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


class Desk:
    """A librarian at the desk and a patron renewing in the app, over HTTP."""

    def __init__(self, base, staff, patron):
        self.base = base
        self.errors: list[int] = []
        self.staff = requests.Session()
        token = self.staff.get(base + "/api/v1/session", timeout=60).json()["csrf_token"]
        r = self.staff.post(base + "/staff/login", data={"username": staff[0], "password": staff[1],
                                                          "csrf_token": token}, allow_redirects=False, timeout=60)
        assert r.status_code == 303, r.text[:300]
        self.staff_token = self.staff.get(base + "/api/v1/session", timeout=60).json()["csrf_token"]
        self.card = patron[0]
        self.patron = requests.Session()
        token = self.patron.get(base + "/api/v1/session", timeout=60).json()["csrf_token"]
        r = self.patron.post(base + "/api/v1/login", json={"card": patron[0], "pin": patron[1]},
                             headers={"X-CSRFToken": token}, timeout=60)
        assert r.status_code == 200, r.text
        self.patron_token = r.json()["csrf_token"]

    def _desk(self, **data):
        t = time.perf_counter()
        r = self.staff.post(self.base + "/staff/desk", data={"csrf_token": self.staff_token, **data},
                            allow_redirects=False, timeout=60)
        dt = time.perf_counter() - t
        if r.status_code != 200:  # counted and shown: a failed checkout is a result, not a crash
            self.errors.append(r.status_code)
        return dt

    def checkout(self, barcode):
        return self._desk(action="checkout", card=self.card, barcode=barcode)

    def checkin(self, barcode):
        return self._desk(action="checkin", barcode=barcode)

    def renew_all(self):
        t = time.perf_counter()
        r = self.patron.post(self.base + "/api/v1/loans/renew-all", json={},
                             headers={"X-CSRFToken": self.patron_token, "Idempotency-Key": uuid.uuid4().hex},
                             timeout=60)
        dt = time.perf_counter() - t
        assert r.status_code == 200, (r.status_code, r.text[:300])
        return dt


def desk_round(desk: Desk, barcodes, out: dict, stop=None, rounds: int | None = None):
    """checkout, renewal, checkin for each barcode, cycling: ``rounds`` times (once for each barcode by
    default), or until ``stop`` is set."""
    i = 0
    while True:
        bc = barcodes[i % len(barcodes)]
        out["checkout"].append(desk.checkout(bc))
        out["renewal"].append(desk.renew_all())
        out["checkin"].append(desk.checkin(bc))
        i += 1
        if stop is None and i >= (rounds or len(barcodes)):
            return
        if stop is not None and stop.is_set():
            return


def fmt(samples):
    ms = [s * 1000 for s in samples]
    return f"p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  (n={len(ms)})"


def feed_position(base: str) -> int | None:
    """The last change feed id in this node's index (/readyz), None when it does not answer."""
    try:
        return requests.get(base + "/readyz", timeout=10).json()["feed_position"]
    except (requests.RequestException, ValueError, KeyError):
        return None


class CpuMeter:
    """CPU seconds (user + system, from /proc) spent by each part of the set-up during a phase: the
    web workers, the follower, the import, and the database's own processes (PostgreSQL backends of
    the benchmark's database; SQLite runs inside the others). Wall-clock ratios on a shared machine
    are noisy; these say who did the work."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, server_pid: int, database: str | None):
        self.server_pid = server_pid
        self.database = database
        self.extra: dict[str, int] = {}  # name -> pid (the import)

    @staticmethod
    def _stat(pid: int) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CpuMeter.TICK  # ppid, utime + stime

    def sample(self) -> dict[str, float]:
        """CPU seconds per part and per process (a process that ended since is left out)."""
        out: dict[tuple[str, int], float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            st = self._stat(pid)
            if st is None:
                continue
            ppid, cpu = st
            part = None
            if ppid == self.server_pid:
                try:
                    follower = b"index\0follow" in Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                part = "follower" if follower else "web workers"
            elif pid in self.extra.values():
                part = next(k for k, v in self.extra.items() if v == pid)
            elif self.database:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if cmd.startswith(b"postgres: ") and f" {self.database} ".encode() in cmd:
                    part = "database"
            if part:
                out[(part, pid)] = cpu
        return out

    @staticmethod
    def delta(before: dict, after: dict) -> dict[str, float]:
        parts: dict[str, float] = {}
        for key, cpu in after.items():
            parts[key[0]] = parts.get(key[0], 0.0) + cpu - before.get(key, 0.0)
        return parts

    @staticmethod
    def fmt(parts: dict[str, float], seconds: float) -> str:
        return ", ".join(f"{k} {v:.1f} s ({v / seconds:.2f} cores)" for k, v in sorted(parts.items())) or "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=8000)
    ap.add_argument("--import-records", type=int, default=3000, help="size of the bulk import run beside the desk")
    ap.add_argument("--database-url", default="")
    ap.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    ap.add_argument("--search-rounds", type=int, default=6,
                    help="rounds of search alone then beside the desk (they alternate; the ratio is over all)")
    ap.add_argument("--alone-rounds", type=int, default=500,
                    help="desk rounds alone before and after the import (the p95 alone of 2 x 60 rounds, the 6th "
                         "slowest of 120, moved by 20%% from one run to the next)")
    ap.add_argument("--warmup-seconds", type=int, default=10,
                    help="an uncounted wrk run before the search rounds (0: none)")
    ap.add_argument("--edits", type=int, default=100)
    ap.add_argument("--search-only", action="store_true",
                    help="only the search rounds (no desk latency, import or index lag): for experiments")
    ap.add_argument("--port", type=int, default=0, help="default: a free port")
    ap.add_argument("--background-nice", type=int, default=None,
                    help="OPAC_BACKGROUND_NICE of the follower and the import beside the desk (default: the setting's)")
    ap.add_argument("--sched-idle-import", action="store_true",
                    help="an experiment: the import runs under SCHED_IDLE (preempted at once by any other task) "
                         "instead of only its niceness (the follower applies a backlog so by itself: INDEX_IDLE_BACKLOG)")
    ap.add_argument("--phase-timeout", type=float, default=900,
                    help="seconds any phase may take before the benchmark reports what it waited for and stops")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="opac-ops-"))
    if not args.port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            args.port = s.getsockname()[1]
    db_url = args.database_url or f"sqlite:///{work / 'opac.sqlite'}"
    base = f"http://127.0.0.1:{args.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update(OPAC_DATABASE_URL=db_url, OPAC_INDEX_DIR=str(work / "index"), OPAC_SECRET_KEY="b" * 40,
               OPAC_BASE_URL=base, OPAC_BIND=f"127.0.0.1:{args.port}", OPAC_WORKERS="2",
               OPAC_LOGIN_MAX_ATTEMPTS="1000", OPAC_LOGIN_MAX_ATTEMPTS_PER_IP="100000")
    if args.background_nice is not None:
        env["OPAC_BACKGROUND_NICE"] = str(args.background_nice)
    env = stack_env(env, work / "stacks")
    procs: dict[str, subprocess.Popen] = {}

    def stop_all(message=""):
        for name, proc in procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM) if name == "server" else proc.kill()
                except ProcessLookupError:
                    pass
        if message:
            print(f"[watchdog] stopped; work dir kept: {work} (gunicorn.log, stacks/)", file=sys.stderr, flush=True)
            os._exit(3)

    dog = Watchdog(on_timeout=stop_all, stacks_dir=work / "stacks")
    T = args.phase_timeout
    print(f"work dir {work}; database {db_url.split('@')[-1]}; load average {os.getloadavg()}", flush=True)

    def run_step(*cmd):
        dog.note(f"`flask --app opac {' '.join(cmd)[:60]}` to finish")
        try:
            # loading is not measured: at full priority (the import beside the desk keeps the default)
            return run(dict(env, OPAC_BACKGROUND_NICE="0"), *cmd, timeout=max(dog.remaining(), 1))
        except subprocess.TimeoutExpired as exc:
            raise PhaseTimeout(f"phase {dog.name!r}: `flask --app opac {' '.join(cmd)[:60]}` did not finish") from exc

    with dog.phase("load", T):
        t0 = time.time()
        run_step("init-db")
        rows = catalogue(args.records)
        run_step("import", str(write_jsonl(rows, work / "catalogue.jsonl")))
        run_step("reindex")
        run_step("patron", "create", "--card", "B0001", "--pin", "7391", "--name", "Bench", "--category", "student")
        run_step("staff", "create", "--username", "desk", "--password", "rahasia-meja-sirkulasi", "--name", "Desk",
                 "--role", "librarian")
        run_step("circ", "policy", "--max-loans", "1000", "--max-renewals", "100000", "--max-holds", "100")
        print(f"loaded {len(rows)} records in {time.time() - t0:.0f} s", flush=True)

    import sqlalchemy as sa

    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        barcodes = [r[0] for r in conn.execute(sa.text(
            "SELECT barcode FROM item WHERE status = 'available' ORDER BY id LIMIT 200"))]
        record_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM record ORDER BY id"))]
    assert len(barcodes) >= 126, "the catalogue needs copies"

    procs["server"] = subprocess.Popen([GUNICORN, "-c", "gunicorn.conf.py", "wsgi:app"], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=open(work / "gunicorn.log", "ab"),
                                       start_new_session=True)
    try:
        def ready():
            try:
                return requests.get(base + "/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        with dog.phase("server start", min(T, 180)):
            dog.wait_until(ready, f"{base}/readyz to answer 200 (see {work / 'gunicorn.log'})", pause=0.5)
            desk = Desk(base, ("desk", "rahasia-meja-sirkulasi"), ("B0001", "7391"))
            dog.note("the warm-up desk rounds")
            desk_round(desk, barcodes[:10], {"checkout": [], "renewal": [], "checkin": []})

        meter = CpuMeter(procs["server"].pid, engine.url.database if engine.dialect.name == "postgresql" else None)
        cpu: dict[str, tuple[dict, float]] = {}

        def settle(before: str, most: float = 90.0) -> None:
            """Wait until the follower is idle (under 0.05 CPU seconds in a second; at most ``most``
            seconds): after the import it still merges segments, which would be counted as the cost of
            what is measured next."""
            t0 = time.time()
            while time.time() - t0 < most:
                a = meter.sample()
                time.sleep(1.0)
                if meter.delta(a, meter.sample()).get("follower", 0.0) < 0.05:
                    break
            print(f"follower idle {time.time() - t0:.1f} s before {before}", flush=True)

        def measured(name, fn, *a):
            before, t = meter.sample(), time.time()
            out = fn(*a)
            cpu[name] = (meter.delta(before, meter.sample()), time.time() - t)
            return out

        if not args.search_only:
            # 1. desk latency alone
            alone = {"checkout": [], "renewal": [], "checkin": []}
            with dog.phase("desk alone", T):
                dog.note(f"{args.alone_rounds} desk rounds (checkout, renewal, checkin) to finish")
                measured("desk alone", desk_round, desk, barcodes[:60], alone, None, args.alone_rounds)
            print(f"desk alone: checkout {fmt(alone['checkout'])}", flush=True)

            # 2. desk latency during a bulk import (new records and updates of existing ones)
            more = catalogue(args.import_records // 2, skip=args.records)
            changed = [dict(r, title=r["title"] + " (edisi revisi)") for r in rows[: args.import_records // 2]]
            bulk = write_jsonl(more + changed, work / "bulk.jsonl")
            during = {"checkout": [], "renewal": [], "checkin": []}
            cpu_import: dict = {}  # the import's last sample before it ended (/proc forgets it then)
            with dog.phase("desk during import", T):
                stop = threading.Event()
                cpu_before = meter.sample()
                t_imp = time.time()
                procs["import"] = imp = subprocess.Popen(
                    [FLASK, "--app", "opac", "import", str(bulk)], env=env, cwd=ROOT,
                    stdout=subprocess.DEVNULL, stderr=open(work / "import.log", "ab"))
                meter.extra["import"] = imp.pid
                if args.sched_idle_import:
                    os.sched_setscheduler(imp.pid, os.SCHED_IDLE, os.sched_param(0))
                    print(f"import (pid {imp.pid}) under SCHED_IDLE", flush=True)
                t = dog.thread(desk_round, desk, barcodes[60:120], during, stop, name="desk during import")
                dog.wait_until(lambda: (cpu_import.update(meter.sample()) or imp.poll() is not None),
                               "the bulk import (`flask --app opac import`) to finish", pause=0.5)
                import_s = time.time() - t_imp
                if imp.returncode:
                    raise SystemExit(f"the import failed ({imp.returncode}); see {work / 'import.log'}")
                # keep measuring while the follower applies the import: until its position passes the
                # import's last change (not "no lag": the desk adds changes all the time, and a follower a
                # second behind it never shows 0)
                with engine.connect() as conn:
                    last_change = conn.execute(sa.text("SELECT max(id) FROM index_change")).scalar()
                dog.wait_until(lambda: (feed_position(base) or 0) >= last_change,
                               f"this node's index to apply the import (feed position {last_change})",
                               status=lambda: f"/readyz feed_position: {feed_position(base)}")
                caught_up_s = time.time() - t_imp
                stop.set()
                dog.note("the desk thread to finish its round")
                t.join(max(dog.remaining(), 0))
                dog.check()
                cpu["desk during import"] = (meter.delta(cpu_before, {**cpu_import, **meter.sample()}), time.time() - t_imp)
            print(f"desk during import: checkout {fmt(during['checkout'])}; import {import_s:.1f} s, "
                  f"indexed {caught_up_s:.1f} s", flush=True)
            # 1b. alone again: on a shared machine the load changes within minutes; the ratio is taken
            # against the rounds before and after the import together
            settle("the desk alone again")
            with dog.phase("desk alone after", T):
                dog.note(f"{args.alone_rounds} more desk rounds alone to finish")
                after = {"checkout": [], "renewal": [], "checkin": []}
                measured("desk alone after", desk_round, desk, barcodes[:60], after, None, args.alone_rounds)
            print(f"desk alone after: checkout {fmt(after['checkout'])}", flush=True)
            before_only = {k: list(v) for k, v in alone.items()}
            for k in alone:
                alone[k] += after[k]

        # 3. search throughput alone and while the desk writes 5 changes per second
        qfile = work / "queries.txt"
        rng = random.Random(7)
        words = [w for r in rows for w in r["title"].split() if w.isalpha() and len(w) > 3]
        qfile.write_text("\n".join("/api/v1/search?q=" + quote_plus(f"{rng.choice(words)} {rng.choice(words)}" if i % 2
                                                                     else rng.choice(words))
                                   for i in range(QUERIES_PER_RUN * (2 * args.search_rounds + 1))))  # as a browser sends them
        dog.note("five desk sessions to log in")
        lanes = [Desk(base, ("desk", "rahasia-meja-sirkulasi"), ("B0001", "7391")) for _ in range(5)]
        lane_turns = [0] * len(lanes)

        def search_beside_desk(name):
            """wrk beside five desks, each a change per second; returns (req/s, desk changes/s)."""
            stop = threading.Event()
            writes = {"n": 0}

            def desk_lane(k):
                """One of five desks, each a change per second (open loop: slow answers do not slow the others)."""
                while not stop.is_set():
                    start = time.time()
                    bc = barcodes[120 + k]
                    # its copy lent and returned in turn, across the rounds
                    (lanes[k].checkout if lane_turns[k] % 2 == 0 else lanes[k].checkin)(bc)
                    lane_turns[k] += 1
                    writes["n"] += 1
                    time.sleep(max(0.0, 1.0 - (time.time() - start)))

            threads = [dog.thread(desk_lane, k, name=f"desk lane {k}") for k in range(5)]
            t_w = time.time()
            dog.note(f"wrk ({args.seconds} s) to finish beside the desk lanes")
            rps = measured(name, wrk_rps, args.port, qfile, args.seconds, next_offset())
            rate = writes["n"] / (time.time() - t_w)
            stop.set()
            dog.note("the desk lanes to stop")
            for t in threads:
                t.join(max(dog.remaining(), 0))
            return rps, rate

        # rounds alternate (alone, beside the desk) so that a drift of the machine falls on both; each
        # run has queries of its own (words recur across them, whole queries hardly: as at a library)
        runs = iter(range(2 * args.search_rounds))

        def next_offset():
            return next(runs) * QUERIES_PER_RUN

        search_rounds = []
        if args.warmup_seconds:
            # the workers' caches (words, hits, segments) filled once before any round is counted: a
            # first "alone" round on cold workers ran 10-15% slower than the later ones, which made the
            # first round's ratio look better than the steady state
            settle("warming the web workers")
            with dog.phase("warming the web workers", args.warmup_seconds + 120):
                dog.note(f"wrk ({args.warmup_seconds} s, not counted) to finish")
                wrk_rps(args.port, qfile, args.warmup_seconds, QUERIES_PER_RUN * 2 * args.search_rounds)
        for r in range(1, args.search_rounds + 1):
            settle(f"searching alone (round {r})")
            with dog.phase(f"search alone, round {r}", args.seconds + 120):
                dog.note(f"wrk ({args.seconds} s) to finish")
                rps_alone = measured(f"search alone {r}", wrk_rps, args.port, qfile, args.seconds, next_offset())
            with dog.phase(f"search while the desk writes, round {r}", args.seconds + 180):
                rps_writing, desk_rate = search_beside_desk(f"search beside the desk {r}")
            search_rounds.append((rps_alone, rps_writing, desk_rate))
            print(f"search round {r}: alone {rps_alone:.0f} req/s; while the desk writes {desk_rate:.1f} changes/s "
                  f"{rps_writing:.0f} req/s ({rps_writing / rps_alone:.2f}x)", flush=True)

        lags = []
        if not args.search_only:
            # 4. index lag under a stream of edits (5 per second): commit -> found by a search
            pending: dict[str, float] = {}
            lock = threading.Lock()
            done = threading.Event()

            from opac import create_app
            from opac.catalog.models import Record
            from opac.db import begin_write
            from opac.extensions import db

            app = create_app({"SQLALCHEMY_DATABASE_URI": engine.url.render_as_string(hide_password=False),
                              "INDEX_DIR": str(work / "index"), "SECRET_KEY": "b" * 40})

            def editor():
                with app.app_context():
                    for i in range(args.edits):
                        token = "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
                        # SQLite: the write lock first, as the app's write paths do; a read transaction
                        # that then writes fails at once ("database is locked") when a search miss was
                        # counted meanwhile
                        begin_write()
                        rec = db.session.get(Record, record_ids[(i * 37) % len(record_ids)])
                        rec.title = f"Judul baru {token}"
                        db.session.commit()  # the change and its feed row, one transaction
                        with lock:
                            pending[token] = time.perf_counter()
                        time.sleep(0.2)
                done.set()

            with dog.phase("index lag", args.edits * 0.2 + 120):
                s = requests.Session()
                ed = dog.thread(editor, name="editor")

                def all_found():
                    with lock:
                        tokens = list(pending.items())
                    for token, t_commit in tokens:
                        r = s.get(base + "/api/v1/search", params={"q": token, "facets": "0"}, timeout=30)
                        if r.json()["total"]:
                            lags.append(time.perf_counter() - t_commit)
                            with lock:
                                del pending[token]
                    with lock:
                        return done.is_set() and not pending

                dog.wait_until(all_found, "every edit to be found by a search", pause=0.01,
                               status=lambda: f"{len(lags)} of {args.edits} edits found, {len(pending)} pending, "
                                              f"/readyz feed_position: {feed_position(base)}")
                ed.join()
    finally:
        stop_all()
        if procs["server"].poll() is None:
            try:
                procs["server"].wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(procs["server"].pid, signal.SIGKILL)

    print()
    print(f"load average at the end {os.getloadavg()}; background niceness "
          f"{env.get('OPAC_BACKGROUND_NICE', 'default (BACKGROUND_NICE)')}")
    if not args.search_only:
        print("desk latency over HTTP (2 gunicorn workers + the follower beside them)")
        for k in ("checkout", "renewal", "checkin"):
            print(f"  {k:9} alone          {fmt(alone[k])}   (p95 before the import {percentile(before_only[k], 95) * 1000:.1f} ms,"
                  f" after {percentile(after[k], 95) * 1000:.1f} ms)")
            print(f"  {k:9} during import  {fmt(during[k])}   p95 ratio "
                  f"{percentile(during[k], 95) / percentile(alone[k], 95):.2f}x")
        print(f"  desk requests that failed: {len(desk.errors)} {sorted(set(desk.errors))}")
        print(f"  bulk import of {len(more) + len(changed)} records: import {import_s:.1f} s, "
              f"in this node's index {caught_up_s:.1f} s after it started")
    print("search throughput (wrk, 2 workers, /api/v1/search)")
    for r, (rps_alone, rps_writing, desk_rate) in enumerate(search_rounds, 1):
        print(f"  round {r}: alone {rps_alone:7.0f} req/s; desk writing {desk_rate:.1f} changes/s {rps_writing:7.0f} req/s"
              f"   ratio {rps_writing / rps_alone:.2f}x")
    ratios = sorted(w / a for a, w, _ in search_rounds)
    print(f"  ratio over {len(search_rounds)} rounds: {sum(w for _, w, _ in search_rounds) / sum(a for a, _, _ in search_rounds):.2f}x"
          f" of the summed rates (median {ratios[len(ratios) // 2]:.2f}x, range {ratios[0]:.2f}-{ratios[-1]:.2f}x)"
          f"   (desk changes that failed: {sum(len(lane.errors) for lane in lanes)})")
    print("CPU seconds by part (user + system; the machine has "
          f"{os.cpu_count()} cores; the import's until its last sample)")
    for name, (parts, seconds) in cpu.items():
        print(f"  {name:29} {seconds:5.1f} s wall: {CpuMeter.fmt(parts, seconds)}")
    if lags:
        ms = [x * 1000 for x in lags]
        print(f"index lag, commit -> found by search, {len(ms)} edits at 5/s: "
              f"p50 {percentile(ms, 50):.0f} ms  p95 {percentile(ms, 95):.0f} ms  max {max(ms):.0f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
