"""`flask --app opac index follow` as a real process with a production-like environment: several
nodes converge, kill -9 loses and doubles nothing, reindex during writes loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from whoosh import index as whoosh_index

from opac.catalog.models import Record
from opac.extensions import db
from opac.search import index as idx

pytestmark = pytest.mark.slow
FLASK = str(Path(sys.executable).with_name("flask"))
ROOT = Path(__file__).resolve().parents[2]


def node_env(app, index_dir) -> dict:
    """What a deployment sets: no TESTING, no test config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update(OPAC_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], OPAC_INDEX_DIR=str(index_dir),
               OPAC_BASE_URL="https://opac.test", OPAC_SECRET_KEY="s" * 40)
    return env


def start_follower(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen([FLASK, "--app", "opac", "index", "follow"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    proc.wait(30)


def index_docs(index_dir) -> tuple[Counter, dict]:
    """Live documents of a node's current index: how many per record id, and each one's title."""
    gen = idx.generation_path(index_dir)
    if gen is None:
        return Counter(), {}
    ix = whoosh_index.open_dir(str(gen))
    counts, titles = Counter(), {}
    with ix.searcher() as s:
        for fields in s.all_stored_fields():
            rid = int(fields["id"])
            counts[rid] += 1
            titles[rid] = json.loads(fields["hit"])["title"]
    return counts, titles


def db_titles(app) -> dict:
    with app.app_context():
        rows = dict(db.session.execute(select(Record.id, Record.title)).all())
        db.session.remove()
        return rows


def wait_converged(app, index_dir, timeout=60.0) -> float:
    """Seconds until the node's index holds exactly the database's records, once each."""
    t0 = time.monotonic()
    want = db_titles(app)
    while True:
        counts, titles = index_docs(index_dir)
        if titles == want and all(c == 1 for c in counts.values()):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            missing = {k: v for k, v in want.items() if titles.get(k) != v}
            extra = set(titles) - set(want)
            doubled = [k for k, c in counts.items() if c > 1]
            raise AssertionError(f"not converged: {len(missing)} differ (e.g. {list(missing.items())[:3]}), "
                                 f"{len(extra)} extra, doubled {doubled[:5]}")
        time.sleep(0.1)


def add_records(app, n, prefix, start=0):
    with app.app_context():
        for i in range(start, start + n):
            db.session.add(Record(control_number=f"{prefix}{i}", title=f"{prefix} buku {i}", material_type="book"))
            db.session.commit()
        db.session.remove()


def retitle(app, suffix, every=1):
    with app.app_context():
        for rec in db.session.scalars(select(Record).order_by(Record.id)).all()[::every]:
            rec.title = rec.title.split(" / ")[0] + f" / {suffix}"
            db.session.commit()
        db.session.remove()


def test_two_nodes_following_one_database_converge(app, tmp_path):
    add_records(app, 20, "Awal")
    nodes = [tmp_path / "node-a", tmp_path / "node-b"]
    procs = [start_follower(node_env(app, d), tmp_path / f"follower-{i}.log") for i, d in enumerate(nodes)]
    try:
        for d in nodes:  # each starts without an index: builds it, then follows
            wait_converged(app, d, timeout=90)
        add_records(app, 15, "Baru")
        retitle(app, "diubah", every=3)
        with app.app_context():
            gone = db.session.scalar(select(Record).where(Record.control_number == "Awal1"))
            db.session.delete(gone)
            db.session.commit()
        lags = [wait_converged(app, d, timeout=30) for d in nodes]
        assert max(lags) < 10, lags
    finally:
        for p in procs:
            stop(p)
    for i in range(2):
        assert "Traceback" not in (tmp_path / f"follower-{i}.log").read_text()


def test_changes_arriving_one_by_one_are_committed_together(app, tmp_path):
    """A desk's trickle of changes: polls every 0.2 s, but after a poll that wrote the follower waits
    INDEX_COMMIT_INTERVAL (1 s), so 30 changes over 3 s make a handful of index commits, not one per
    poll; and all of them arrive."""
    add_records(app, 3, "Awal")
    node = tmp_path / "node"
    env = dict(node_env(app, node), OPAC_INDEX_FOLLOW_INTERVAL="0.2", OPAC_INDEX_COMMIT_INTERVAL="1.0")
    proc = start_follower(env, tmp_path / "follower.log")
    try:
        wait_converged(app, node, timeout=90)
        first = whoosh_index.open_dir(str(idx.generation_path(node))).latest_generation()
        t0 = time.monotonic()
        for i in range(30):
            add_records(app, 1, "Meja", start=i)
            time.sleep(max(0.0, t0 + (i + 1) * 0.1 - time.monotonic()))
        wait_converged(app, node, timeout=30)
        commits = whoosh_index.open_dir(str(idx.generation_path(node))).latest_generation() - first
        seconds = time.monotonic() - t0
    finally:
        stop(proc)
    assert 1 <= commits <= seconds / 1.0 + 2, (commits, seconds)
    assert "Traceback" not in (tmp_path / "follower.log").read_text()


def test_a_quiet_follower_merges_the_small_segments_of_its_commits(app, tmp_path):
    """The desk's changes one at a time leave a small segment each; once the feed has been quiet
    INDEX_MERGE_QUIET_SECONDS (3 s here) the follower process merges them into one, and the index still
    holds exactly the database's records."""
    add_records(app, 60, "Awal")
    node = tmp_path / "node"
    env = dict(node_env(app, node), OPAC_INDEX_FOLLOW_INTERVAL="0.2", OPAC_INDEX_COMMIT_INTERVAL="0.2",
               OPAC_INDEX_MERGE_QUIET_SECONDS="3")
    proc = start_follower(env, tmp_path / "follower.log")

    def sizes():
        return [s.doc_count_all() for s in whoosh_index.open_dir(str(idx.generation_path(node)))._segments()]

    try:
        wait_converged(app, node, timeout=90)
        assert sizes() == [60]
        for i in range(4):  # each change committed alone before the next
            add_records(app, 1, "Meja", start=i)
            wait_converged(app, node, timeout=30)
        assert sizes() == [60, 1, 1, 1, 1]
        t0 = time.monotonic()
        while sizes() != [60, 4] and time.monotonic() - t0 < 30:
            time.sleep(0.1)
        assert sizes() == [60, 4] and time.monotonic() - t0 < 10
        wait_converged(app, node, timeout=5)
        add_records(app, 1, "Meja", start=4)  # and it goes on following
        wait_converged(app, node, timeout=30)
    finally:
        stop(proc)
    assert "Traceback" not in (tmp_path / "follower.log").read_text()


def test_kill_9_mid_stream_then_restart_resumes_without_loss_or_duplication(app, tmp_path):
    node = tmp_path / "node"
    env = node_env(app, node)
    subprocess.run([FLASK, "--app", "opac", "reindex"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = tmp_path / "follower.log"
    proc = start_follower(env, log)
    stop_writing = threading.Event()
    written = {"n": 0}

    def writer():
        i = 0
        while not stop_writing.is_set() and i < 5000:  # until the three kills are done
            add_records(app, 5, "Aliran", start=i)
            i += 5
            written["n"] = i

    t = threading.Thread(target=writer)
    t.start()
    try:
        kills = 0
        while kills < 3 and t.is_alive():
            time.sleep(0.7 + 0.3 * kills)
            stop(proc, signal.SIGKILL)  # mid-stream: maybe between the Whoosh commit and the position
            kills += 1
            proc = start_follower(env, log)
        stop_writing.set()
        t.join(120)
        assert kills == 3 and written["n"] > 0
        wait_converged(app, node, timeout=60)
        position = idx.read_position(idx.generation_path(node))
        with app.app_context():
            from sqlalchemy import func

            from opac.search.models import IndexChange

            assert position["last_id"] == db.session.scalar(select(func.max(IndexChange.id)))
            db.session.remove()
    finally:
        stop_writing.set()
        t.join(60)
        stop(proc)


def test_reindex_while_changes_are_written_loses_nothing(app, tmp_path, load_records):
    load_records([{"title": f"Koleksi lama {i}", "subjects": ["Sejarah", "Sastra"], "authors": [f"Penulis {i}"]}
                  for i in range(1500)])
    node = Path(app.config["INDEX_DIR"])
    env = node_env(app, node)
    done = threading.Event()
    edits = {"n": 0}

    def writer():
        i = 0
        while not done.is_set():
            add_records(app, 1, "Selama", start=i)
            with app.app_context():
                rec = db.session.scalar(select(Record).where(Record.title.like("Koleksi lama%"))
                                        .order_by(Record.id).offset(i * 7 % 1400).limit(1))
                rec.title = rec.title + " (sunting)"
                db.session.commit()
                db.session.remove()
            i += 1
            edits["n"] = i
            time.sleep(0.02)

    t = threading.Thread(target=writer)
    t.start()
    try:
        out = subprocess.run([FLASK, "--app", "opac", "reindex"], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    finally:
        done.set()
        t.join(60)
    assert out.returncode == 0, out.stderr
    assert edits["n"] > 5, "the writer must have run during the rebuild"
    # changes made after the reindex finished are the follower's: apply them, then compare
    out = subprocess.run([FLASK, "--app", "opac", "index", "follow", "--once"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wait_converged(app, node, timeout=5)


def _followers_of(index_dir) -> list[int]:
    """Pids of `index follow` processes serving ``index_dir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"follow" in cmd and b"index" in cmd and f"OPAC_INDEX_DIR={index_dir}".encode() in environ:
            pids.append(int(proc.name))
    return pids


def _found_soon(base, q, timeout=15.0) -> float:
    import requests

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if requests.get(base + "/api/v1/search", params={"q": q}, timeout=10).json()["total"] == 1:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{q!r} not found within {timeout} s")


def test_gunicorn_runs_the_follower_beside_the_workers_and_restarts_it(app, live_server):
    """The README's one-command install: edits reach search without any other process, even
    after the follower was killed."""
    import requests

    add_records(app, 1, "Tertanam")
    _found_soon(live_server, "tertanam", timeout=30)  # the first poll waits for the follower to start
    assert requests.get(live_server + "/readyz", timeout=10).json()["ready"]
    [pid] = _followers_of(app.config["INDEX_DIR"])
    os.kill(pid, signal.SIGKILL)
    add_records(app, 1, "Bangkit")
    _found_soon(live_server, "bangkit", timeout=30)
    assert _followers_of(app.config["INDEX_DIR"]) not in ([], [pid])
