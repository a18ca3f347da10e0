"""Write transactions under several gunicorn workers at once: no "database is locked" (SQLite
takes the write lock when a write request begins), no 500s; the same on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from opac.extensions import db
from tests.conftest import HttpUser, run_at_once

pytestmark = pytest.mark.slow
N = 64


@pytest.fixture
def app_config():
    # 64 people behind one address (a campus NAT) must not trip the per-address limits
    return {"LOGIN_MAX_ATTEMPTS_PER_IP": 10_000, "ASK_MAX_PER_IP": 10_000, "ASK_MIN_SECONDS": 0,
            "LIVE_SERVER_ENV": {"LOGIN_MAX_ATTEMPTS_PER_IP": 10_000, "ASK_MAX_PER_IP": 10_000, "ASK_MIN_SECONDS": 0}}


def _post(user: HttpUser, path: str, **kw):
    """A POST with a long timeout: 64 Argon2 checks on a busy 2-core machine take a while; what
    this module tests is that none of them fails, not how fast they are."""
    headers = {"X-CSRFToken": user.token, **kw.pop("headers", {})}
    if "data" in kw:
        kw["data"] = {"csrf_token": user.token, **kw["data"]}
    return user.s.post(user.base + path, headers=headers, allow_redirects=False, timeout=600, **kw)


def _codes(results) -> list:
    return [r.status_code if hasattr(r, "status_code") else repr(r) for r in results]


def test_64_simultaneous_patron_logins(app, live_server, make_patron):
    patrons = [make_patron() for _ in range(N)]
    users = [HttpUser(live_server) for _ in range(N)]
    results = run_at_once(timeout=None, fns=[lambda u=u, p=p: _post(u, "/api/v1/login", json={"card": p[1], "pin": p[2]})
                           for u, p in zip(users, patrons)])
    codes = _codes(results)
    assert codes == [200] * N, codes
    # every one of them really is logged in
    assert all(u.get("/api/v1/me").status_code == 200 for u in users[:8])


def test_64_simultaneous_staff_form_logins_during_desk_writes(app, live_server, make_staff, load_records, make_patron):
    staff = [make_staff(f"desk{i:02d}", "kopi-susu-pagi-hari") for i in range(N)]
    load_records([dict(title=f"Buku {i}", items=[{"barcode": f"B{i:03d}", "location": "PUSAT"}]) for i in range(8)])
    patrons = [make_patron() for _ in range(8)]
    desk = [HttpUser(live_server).login_staff("desk00", "kopi-susu-pagi-hari") for _ in range(8)]
    users = [HttpUser(live_server) for _ in range(N)]
    logins = [lambda u=u, s=s: _post(u, "/staff/login", data={"username": s[0], "password": s[1]})
              for u, s in zip(users, staff)]
    checkouts = [lambda d=d, p=p, i=i: _post(d, "/staff/desk", data={"action": "checkout", "card": p[1],
                                                                   "barcode": f"B{i:03d}"})
                 for i, (d, p) in enumerate(zip(desk, patrons))]
    results = run_at_once(timeout=None, fns=logins + checkouts)
    codes = _codes(results)
    assert codes[:N] == [303] * N, codes
    assert codes[N:] == [200] * 8, codes
    from opac.circulation.models import Loan

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Loan)) == 8


def test_failed_logins_still_count_without_a_hidden_commit(app, live_server, make_patron):
    """The throttle's count is committed by the edge even though the login is refused."""
    _pid, card, _pin = make_patron()
    users = [HttpUser(live_server) for _ in range(8)]
    results = run_at_once(timeout=None, fns=[lambda u=u: _post(u, "/api/v1/login", json={"card": card, "pin": "0000"}) for u in users])
    codes = sorted(_codes(results))
    limit = app.config["LOGIN_MAX_ATTEMPTS"]
    assert codes == [401] * limit + [429] * (8 - limit), codes


def test_64_simultaneous_asks(app, live_server):
    from opac.reference.models import Question
    from opac.reference.services import form_stamp

    with app.test_request_context():
        stamp = form_stamp()
    users = [HttpUser(live_server) for _ in range(N)]
    results = run_at_once(timeout=None, fns=[
        lambda u=u, i=i: _post(u, "/api/v1/ask", json={
            "question": f"Apakah perpustakaan buka hari Sabtu? ({i})", "category": "other", "channel": "email",
            "email": f"penanya{i}@example.org", "ts": stamp}, headers={"Idempotency-Key": uuid.uuid4().hex})
        for i, u in enumerate(users)])
    codes = _codes(results)
    assert codes == [200] * N, [(c, r.text[:200]) for c, r in zip(codes, results) if c != 200]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == N


_BULK = """
import os, sys, time
from opac import create_app
from opac.db import yield_to_requests
from opac.extensions import db, write_engine
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "INDEX_DIR": sys.argv[2], "SECRET_KEY": "b" * 40})
done = os.open(sys.argv[4], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
with app.app_context(), yield_to_requests(0):
    engine = write_engine(db.engine)
    print("ready", flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end and not os.path.exists(sys.argv[3]):  # until the test says stop,
        # batch after batch, each holding the write lock 50 ms; one byte per committed batch
        with engine.begin():
            time.sleep(0.05)
        os.write(done, b".")
"""


def test_a_bulk_writer_lets_a_waiting_request_go_first(app, tmp_path):
    """SQLite: a bulk job committing batch after batch (an import) does not starve a request
    waiting for the write lock: it waits for the batch in progress, not for the whole job.

    Counted in batches, not seconds: on a loaded machine a 50 ms batch can take much longer, but
    a request that takes turns sees at most the batch in progress (and one the job had begun when
    the request arrived) end before it gets the lock; without turns the job re-takes the lock
    after each commit, before the waiting request wakes up, batch after batch."""
    import subprocess
    import sys
    import time

    from opac.extensions import write_engine

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL locks rows, not the database")
    stop, done = tmp_path / "stop", tmp_path / "batches"
    done.touch()
    bulk = subprocess.Popen([sys.executable, "-c", _BULK, app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path / "ix"),
                             str(stop), str(done)], stdout=subprocess.PIPE, text=True)
    try:
        assert bulk.stdout.readline().strip() == "ready"
        while done.stat().st_size < 2:  # the job is under way
            time.sleep(0.01)
        passed = []  # batches the job committed while a request waited for the write lock
        with app.app_context():
            for _ in range(8):
                before = done.stat().st_size
                with write_engine(db.engine).begin():
                    passed.append(done.stat().st_size - before)
                time.sleep(0.1)
        assert bulk.poll() is None, "the bulk job ended before the requests had to wait for it"
        total = done.stat().st_size
    finally:
        stop.touch()
        bulk.wait(30)
    # (+1: a batch committed just before the request looked, but counted just after)
    assert max(passed) <= 3, passed
    assert total >= 8, total  # the job did go on between the requests


def test_an_import_ends_its_batch_at_the_record_in_hand_when_a_request_waits(app):
    """SQLite: a request waiting for the write lock holds the turn file shared; the import sees
    it and commits after the record in hand, so a checkout waits for one record, not a batch."""
    import fcntl
    import json
    import os

    from opac.catalog.services import import_data
    from opac.db import request_waiting, yield_to_requests

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL: the import waits for a quiet moment before each batch instead")
    lines = b"\n".join(json.dumps({"id": f"W{i}", "title": f"Tunggu {i}"}).encode() for i in range(6))
    with app.app_context():
        commits = []

        def commit():
            commits.append(1)
            db.session.commit()

        assert not request_waiting()  # outside a bulk job: never asks
        with yield_to_requests(0):
            assert not request_waiting()
            import_data(lines, name="a.jsonl", commit=commit, commit_seconds=60)
            assert len(commits) == 1  # one batch: nobody waited
            fd = os.open(db.engine.url.database + "-turn", os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)  # as a request does while it waits for the write lock
                assert request_waiting()
                commits.clear()
                import_data(lines.replace(b"Tunggu", b"Menunggu"), name="b.jsonl", commit=commit, commit_seconds=60)
                assert len(commits) == 6  # a commit after each record
            finally:
                os.close(fd)
            assert not request_waiting()
