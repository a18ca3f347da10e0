"""`flask --app opac worker` and `notify` as production runs them: separate processes, no TESTING,
settings from OPAC_* variables only, a fake SMTP server and a fake push service on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from opac.accounts.models import Patron, PushSubscription
from opac.extensions import db
from opac.mail import OutboxEmail, queue_email
from opac.push import PushMessage
from tests.notifications.fakes import FakeSmtp, browser_keys, vapid_config

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))


@pytest.fixture
def smtp():
    server = FakeSmtp(delay=0.03)
    yield server
    server.close()


@pytest.fixture
def prod_env(app, smtp, tmp_path):
    """The environment of a production worker on the test's database (no TESTING, no test config)."""
    keys = vapid_config()
    app.config.update(keys)  # the test process queues push messages with the same keys
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update({
        "OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
        "OPAC_SECRET_KEY": app.config["SECRET_KEY"], "OPAC_BASE_URL": "https://perpustakaan.example.ac.id",
        "OPAC_MAIL_SERVER": "127.0.0.1", "OPAC_MAIL_PORT": str(smtp.port), "OPAC_MAIL_USE_TLS": "false",
        "OPAC_WORKER_POLL_SECONDS": "0.2", "OPAC_VAPID_PRIVATE_KEY": keys["VAPID_PRIVATE_KEY"],
        "OPAC_VAPID_PUBLIC_KEY": keys["VAPID_PUBLIC_KEY"], "OPAC_VAPID_SUBJECT": "mailto:admin@example.org",
    })
    with app.app_context():
        db.engine.dispose()
    return env


def flask(env, *args, **kw):
    return subprocess.Popen([FLASK, "--app", "opac", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_two_workers_at_once_send_every_message_exactly_once(app, make_patron, prod_env, smtp, push_service):
    patrons = [make_patron()[0] for _ in range(30)]
    with app.app_context():
        for i in range(150):
            queue_email(f"patron{i}@example.org", f"Pesan {i}", f"Isi {i}")
        for pid in patrons:
            p256dh, auth = browser_keys()
            sub = PushSubscription(patron_id=pid, endpoint=f"{push_service.base}/sub/{pid}", p256dh=p256dh, auth=auth)
            db.session.add(sub)
            db.session.flush()
            db.session.add(PushMessage(patron_id=pid, subscription_id=sub.id, kind="hold_ready",
                                       payload={"title": "Siap diambil", "body": "b", "url": "/"}))
        db.session.commit()
        db.engine.dispose()
    workers = [flask(prod_env, "worker", "--once") for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    subjects = Counter(smtp.subjects())
    assert len(subjects) == 150 and set(subjects.values()) == {1}, subjects.most_common(3)
    paths = Counter(push_service.requests)
    assert len(paths) == 30 and set(paths.values()) == {1}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status != "sent")) == 0
        assert db.session.scalar(select(func.count()).select_from(PushMessage).where(PushMessage.status != "sent")) == 0
    ids = {str(m["Message-ID"]) for m in smtp.messages}
    assert len(ids) == 150 and all(i.endswith("@perpustakaan.example.ac.id>") for i in ids)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # PostgreSQL: SKIP LOCKED lets both work the queue side by side (SQLite's single writer may
        # let one worker take every message while the other waits for the lock)
        assert all("mail sent" in out for out, _err in outputs), outputs


def test_worker_runs_until_stopped_and_sends_what_is_queued_meanwhile(app, prod_env, smtp):
    worker = flask(prod_env, "worker")
    try:
        time.sleep(3)
        assert worker.poll() is None  # still running with an empty queue
        with app.app_context():
            queue_email("late@example.org", "Datang belakangan", "isi")
            db.session.commit()
            db.engine.dispose()
        deadline = time.time() + 60
        while "Datang belakangan" not in smtp.subjects() and time.time() < deadline:
            time.sleep(0.2)
        assert smtp.subjects() == ["Datang belakangan"]
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "mail sent: 1" in out


def test_nightly_notify_only_queues_and_sends_each_notice_once(app, load_records, make_patron, prod_env, smtp):
    """`notify` without a request: due-soon and overdue notices queued with absolute links from
    BASE_URL, nothing sent by it; a second run (same day) queues nothing new."""
    from opac.catalog.models import Item
    from opac.circulation import rules, services

    load_records([dict(title="Laskar Pelangi", items=["L1", "L2"])])
    pid = make_patron(email="siti@example.org")[0]
    with app.app_context():
        today = rules.today()
        p = db.session.get(Patron, pid)
        soon = services.checkout(db.session.scalar(select(Item).where(Item.barcode == "L1")), p)
        late = services.checkout(db.session.scalar(select(Item).where(Item.barcode == "L2")), p)
        soon.due_date = today + timedelta(days=1)
        late.due_date = today - timedelta(days=2)
        db.session.commit()
        db.engine.dispose()
    first = subprocess.run([FLASK, "--app", "opac", "notify"], cwd=ROOT, env=prod_env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    assert "due soon: 1, overdue: 1" in first.stdout
    second = subprocess.run([FLASK, "--app", "opac", "notify"], cwd=ROOT, env=prod_env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0 and "due soon: 0, overdue: 0" in second.stdout
    assert smtp.messages == []  # notify queues; only the worker sends
    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.to == "siti@example.org")).all()
        assert len(rows) == 2 and {r.status for r in rows} == {"pending"}
        assert all("https://perpustakaan.example.ac.id/" in r.body for r in rows)
        db.engine.dispose()
    sent = subprocess.run([FLASK, "--app", "opac", "worker", "--once"], cwd=ROOT, env=prod_env, capture_output=True,
                          text=True, timeout=300)
    assert sent.returncode == 0 and "mail sent: 2" in sent.stdout
    assert len(smtp.messages) == 2


def test_two_nightly_runs_at_once_send_each_notice_once(app, load_records, make_patron, prod_env):
    """Cron started `notify` twice (or a re-run overlaps a slow one): the unique key on
    (loan, kind, due date) lets each due-soon and overdue notice through once."""
    from opac.catalog.models import Item
    from opac.circulation import rules, services
    from opac.circulation.models import LoanNotice
    from opac.notifications.models import Notification

    load_records([dict(title=f"Buku {i}", items=[f"N{i}"]) for i in range(40)])
    patrons = [make_patron(email=f"n{i}@example.org")[0] for i in range(8)]
    with app.app_context():
        today = rules.today()
        for i in range(40):
            loan = services.checkout(db.session.scalar(select(Item).where(Item.barcode == f"N{i}")),
                                     db.session.get(Patron, patrons[i % 8]))
            loan.due_date = today + timedelta(days=1) if i % 2 else today - timedelta(days=1 + i % 9)
        db.session.commit()
        db.engine.dispose()
    runs = [flask(prod_env, "notify") for _ in range(2)]
    outputs = [r.communicate(timeout=300) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    with app.app_context():
        notices = db.session.scalars(select(LoanNotice)).all()
        assert len(notices) == 40 and len({(n.loan_id, n.kind) for n in notices}) == 40
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 40
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 40
