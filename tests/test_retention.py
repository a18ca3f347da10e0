"""Retention, end to end: a patron with every kind of activity, the clock moved past every
retention period, the daily run (`flask --app opac notify`) as a separate process with a
production-like environment; then every table is read and no row may still tie the patron to a
title or to a question's text (a patron who keeps their history keeps their loans)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from opac.extensions import db
from tests.conftest import csrf_token

#: further than every default retention period (the longest is REFERENCE_OPEN_RETENTION_DAYS, 365)
CLOCK_MOVES = timedelta(days=3 * 365)
#: rows a patron keeps on purpose, whatever the clock says: the saved list is their own current
#: choice (they remove entries themselves), not a record of activity
KEPT_BY_CHOICE = {"saved_record"}


@pytest.fixture
def app_config():
    return {"ASK_MIN_SECONDS": 0, "FINES_ENABLED": True, "ASK_MAX_PER_IP": 100, "ASK_MAX_PER_CONTACT": 100}


def _stamp(client) -> str:
    return re.search(r'name="ts" value="([^"]+)"', client.get("/ask").get_data(as_text=True)).group(1)


def _patron_client(app, card, pin):
    c = app.test_client()
    r = c.post("/api/v1/login", json={"card": card, "pin": pin}, headers={"X-CSRFToken": csrf_token(c)})
    assert r.status_code == 200, r.get_data(as_text=True)
    return c


def _post(c, url, body=None, key=None):
    headers = {"X-CSRFToken": csrf_token(c)}
    if key:
        headers["Idempotency-Key"] = key
    return c.post(url, json=body or {}, headers=headers)


def _full_activity(app, load_records, make_patron, make_staff, prefix: str, keep_history: bool) -> dict:
    """Loans (renewed, overdue with a paid fine, due-soon notice), holds (fulfilled, cancelled,
    expired), notifications and e-mails, idempotent API calls, questions (closed, open, anonymous
    with the patron's e-mail), a saved record and a push subscription."""
    from opac.catalog.models import Location, utcnow
    from opac.circulation import actions, rules
    from opac.circulation.models import CirculationPolicy, Fine, Hold, Loan
    from opac.circulation.notify import daily_run
    from opac.reference import services as reference

    titles = [f"{prefix} Rahasia {n}" for n in ("Satu", "Dua", "Tiga", "Empat", "Lima", "Enam")]
    rids = load_records([dict(title=t, items=[{"barcode": f"{prefix}{i}", "location": "PUSAT"}])
                         for i, t in enumerate(titles)])
    pid, card, pin = make_patron(name=f"{prefix} Siti Rahasia", email=f"{prefix.lower()}@example.org",
                                 whatsapp="081234567890")
    _oid, other_card, _other_pin = make_patron(name=f"{prefix} Lain")
    with app.test_request_context():
        from opac.accounts.models import Patron

        db.session.get(Patron, pid).keep_history = keep_history
        loc = db.session.scalar(select(Location))
        loc.is_pickup = True
        for policy in db.session.scalars(select(CirculationPolicy)):
            policy.fine_per_day = 1000
        db.session.commit()
        loc_id = loc.id
    me = _patron_client(app, card, pin)
    with app.test_request_context():
        # a renewed loan (idempotent API call), returned
        assert actions.checkout(card, f"{prefix}0")["ok"]
        loan0 = db.session.scalar(select(Loan.id).where(Loan.patron_id == pid))
    assert _post(me, f"/api/v1/loans/{loan0}/renew", key=f"{prefix}-renew").get_json()["ok"]
    with app.test_request_context():
        assert actions.checkin(f"{prefix}0")["ok"]
        # an overdue loan (notice, then a fine, paid) and a loan due soon (notice)
        assert actions.checkout(card, f"{prefix}1")["ok"] and actions.checkout(card, f"{prefix}3")["ok"]
        for loan in db.session.scalars(select(Loan).where(Loan.patron_id == pid, Loan.returned_at.is_(None))):
            loan.due_date = rules.today() - timedelta(days=8) if loan.item.barcode.endswith("1") else \
                rules.today() + timedelta(days=1)
        db.session.commit()
        result = daily_run()
        db.session.commit()
        assert result["due_soon"] >= 1 and result["overdue"] >= 1
        assert actions.checkin(f"{prefix}1")["ok"] and actions.checkin(f"{prefix}3")["ok"]
        fine = db.session.scalar(select(Fine).where(Fine.patron_id == pid))
        assert fine is not None and fine.loan_id is not None
        fine.paid_at = utcnow()  # settled at the desk
        # a hold fulfilled: someone else has the only copy, returns it, the hold is ready, we collect it
        assert actions.checkout(other_card, f"{prefix}2")["ok"]
        db.session.commit()
    assert _post(me, "/api/v1/holds", {"record_id": rids[2], "pickup_location_id": loc_id},
                 key=f"{prefix}-hold").get_json()["ok"]
    with app.test_request_context():
        assert actions.checkin(f"{prefix}2")["hold"]  # ready: notice and e-mail
        assert actions.checkout(card, f"{prefix}2")["ok"] and actions.checkin(f"{prefix}2")["ok"]
        # a hold that expires uncollected
        assert actions.checkout(other_card, f"{prefix}5")["ok"]
        db.session.commit()
    assert _post(me, "/api/v1/holds", {"record_id": rids[5], "pickup_location_id": loc_id}).get_json()["ok"]
    with app.test_request_context():
        assert actions.checkin(f"{prefix}5")["hold"]
        ready = db.session.scalar(select(Hold).where(Hold.patron_id == pid, Hold.status == "ready"))
        daily_run(ready.pickup_by + timedelta(days=1))
        db.session.commit()
        assert db.session.get(Hold, ready.id).status == "expired"
        # a hold cancelled (the copy is out again)
        assert actions.checkout(other_card, f"{prefix}4")["ok"]
        db.session.commit()
    hold = _post(me, "/api/v1/holds", {"record_id": rids[4], "pickup_location_id": loc_id}).get_json()["hold"]
    assert _post(me, f"/api/v1/holds/{hold['id']}/cancel", key=f"{prefix}-cancel").get_json()["ok"]
    with app.test_request_context():
        assert actions.checkin(f"{prefix}4")["ok"]

    # questions: one answered and closed, one left open and forgotten, one asked without logging in
    texts = [f"{prefix} pertanyaan pribadi tentang skripsi saya", f"{prefix} pertanyaan terbuka yang terlupakan",
             f"{prefix} pertanyaan tanpa login tentang denda"]
    urls = []
    for text, client in ((texts[0], me), (texts[1], me), (texts[2], app.test_client())):
        body = {"question": text, "category": "research", "ts": _stamp(client), "channel": "email",
                "email": f"{prefix.lower()}@example.org"}
        r = _post(client, "/api/v1/ask", body, key=f"{prefix}-ask-{len(urls)}")
        assert r.status_code == 200, r.get_data(as_text=True)
        urls.append(r.get_json()["thread_url"])
    tokens = [u.rsplit("/", 1)[1] for u in urls]
    user, password = make_staff(f"staff{prefix.lower()}", "kopi-susu-pagi-hari")
    with app.test_request_context():
        from opac.accounts.models import StaffUser

        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == user))
        first = reference.question_by_token(tokens[0])
        reference.reply(first, staff, f"Jawaban untuk {prefix}: lihat rak 300.")
        reference.close(first)
        reference.reply(reference.question_by_token(tokens[2]), staff, "Denda dapat dibayar di meja.")
        db.session.commit()

    # a purchase suggestion, answered (rejected)
    suggested = f"{prefix} Rahasia Usulan"
    assert _post(me, "/api/v1/suggestions", {"title": suggested}).status_code == 201
    with app.test_request_context():
        from opac.patron_services.models import PurchaseSuggestion

        db.session.execute(sa.update(PurchaseSuggestion).where(PurchaseSuggestion.patron_id == pid)
                           .values(status="rejected", staff_reason="Sudah ada"))
        db.session.commit()

    # a saved record and a push subscription
    assert _post(me, "/api/v1/saved/sync", {"add": [rids[1]]}).status_code == 200
    sub = {"endpoint": f"https://push.example.org/{prefix}", "keys": {"p256dh": "BP" + "a" * 80, "auth": "x" * 22}}
    assert _post(me, "/api/v1/push/subscribe", sub).status_code == 200
    return {"patron_id": pid, "strings": [card, f"{prefix} Siti Rahasia", f"{prefix.lower()}@example.org",
                                          f"patron:{pid}"],
            "titles": titles + texts + tokens + [suggested], "record_ids": set(rids)}


def _shift_clock(app, delta: timedelta) -> None:
    """Move every date and time in the database back by ``delta``: for the data, the clock moved on."""
    with app.app_context():
        with db.engine.begin() as conn:
            for table in db.metadata.sorted_tables:
                cols = [c for c in table.columns if isinstance(c.type, (sa.Date, sa.DateTime))]
                pk = list(table.primary_key.columns)
                if not cols or not pk:
                    continue
                for row in conn.execute(select(*pk, *cols)).mappings().all():
                    values = {c.name: row[c.name] - delta for c in cols if row[c.name] is not None}
                    if values and not any(c in {p.name for p in pk} for c in values):
                        conn.execute(table.update().where(*(p == row[p.name] for p in pk)).values(**values))
        db.engine.dispose()


def _links(app, subject: dict, markers: dict) -> list[tuple[str, dict]]:
    """Every row, of every table, that names the patron (a foreign key to them, their card, name,
    e-mail, or an owner string) and a title or question (a key to the record, copy, loan, hold or
    question of their activity, or a title, a question's text or a thread token)."""
    found = []
    with app.app_context():
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                pk = next(iter(table.primary_key.columns), None)
                for row in conn.execute(select(table)).mappings():
                    texts = " ".join(str(v) for v in row.values() if isinstance(v, str | dict | list))
                    names_patron = any(s in texts for s in subject["strings"]) or any(
                        fk.column.table.name == "patron" and row[col.name] == subject["patron_id"]
                        for col in table.columns for fk in col.foreign_keys)
                    names_title = any(t in texts for t in markers["strings"]) or any(
                        row[col.name] in markers["ids"].get(fk.column.table.name, ())
                        for col in table.columns for fk in col.foreign_keys) or (
                        pk is not None and row[pk.name] in markers["ids"].get(table.name, ()))
                    if names_patron and names_title:
                        found.append((table.name, dict(row)))
    return found


def _markers(app, subjects: list[dict]) -> dict:
    """The ids of the records, copies, loans, holds and questions of the activity, and its texts."""
    from opac.catalog.models import Item
    from opac.circulation.models import Hold, Loan
    from opac.reference.models import Question

    record_ids = set().union(*(s["record_ids"] for s in subjects))
    with app.app_context():
        items = set(db.session.scalars(select(Item.id).where(Item.record_id.in_(record_ids))))
        ids = {"record": record_ids, "item": items,
               "loan": set(db.session.scalars(select(Loan.id).where(Loan.item_id.in_(items)))),
               "hold": set(db.session.scalars(select(Hold.id).where(Hold.record_id.in_(record_ids)))),
               "question": set(db.session.scalars(select(Question.id)))}
    return {"ids": ids, "strings": [t for s in subjects for t in s["titles"]]}


def _daily_run_process(app, tmp_path: Path) -> subprocess.CompletedProcess:
    """`flask --app opac notify` as the server's cron would run it: configuration from OPAC_*
    variables only (no TESTING, no test config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPAC_", "FLASK_", "PYTEST"))}
    env.update({"OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": app.config["INDEX_DIR"],
                "OPAC_BASE_URL": "https://opac.test", "OPAC_SECRET_KEY": app.config["SECRET_KEY"]})
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.run([flask, "--app", "opac", "notify"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_daily_run_removes_every_patron_title_link_after_retention(app, tmp_path, load_records, make_patron,
                                                                    make_staff):
    private = _full_activity(app, load_records, make_patron, make_staff, "PRV", keep_history=False)
    keeper = _full_activity(app, load_records, make_patron, make_staff, "KPR", keep_history=True)
    markers = _markers(app, [private, keeper])

    before = {t for t, _row in _links(app, private, markers)}
    # the check sees the links it is meant to find (else passing would prove nothing)
    assert {"loan", "hold", "notification", "outbox_email", "question", "idempotency_key", "fine",
            "saved_record", "purchase_suggestion"} <= before, before
    assert "loan" in {t for t, _row in _links(app, keeper, markers)}

    _shift_clock(app, CLOCK_MOVES)
    with app.app_context():
        db.engine.dispose()
    run = _daily_run_process(app, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "anonymized" in run.stdout

    left = [(t, row) for t, row in _links(app, private, markers) if t not in KEPT_BY_CHOICE]
    assert not left, left
    kept = _links(app, keeper, markers)
    # the history is kept (the loans, and the paid fine of one of them), nothing else
    assert {t for t, _row in kept} - KEPT_BY_CHOICE == {"loan", "fine"}, kept
    assert sum(t == "loan" for t, _row in kept) == 4

    # and the question threads no longer open
    client = app.test_client()
    for token in (s for s in private["titles"] + keeper["titles"] if re.fullmatch(r"[\w-]{40,}", s)):
        assert client.get(f"/ask/t/{token}").status_code == 404


def test_retention_periods_are_settings_and_recent_activity_stays(app, load_records, make_patron, make_staff):
    """Before its period is over nothing is removed; each period is its own setting."""
    from opac.circulation.models import Hold
    from opac.mail import OutboxEmail
    from opac.notifications.models import Notification
    from opac.reference.models import Question
    from opac.retention import purge_expired_personal_data

    _full_activity(app, load_records, make_patron, make_staff, "NOW", keep_history=False)
    with app.test_request_context():
        counts = purge_expired_personal_data()
        db.session.commit()
        assert counts["holds_deleted"] == counts["notifications_deleted"] == counts["emails_deleted"] == 0
        assert counts["questions_purged"] == 0
        n_notes = db.session.scalar(select(sa.func.count()).select_from(Notification))
        assert n_notes >= 3
    with app.test_request_context():
        from opac.circulation import rules

        today = rules.today()
        app.config.update(NOTIFICATION_RETENTION_DAYS=5, HOLD_RETENTION_DAYS=500, OUTBOX_RETENTION_DAYS=500,
                          REFERENCE_RETENTION_DAYS=500, REFERENCE_OPEN_RETENTION_DAYS=9)
        counts = purge_expired_personal_data(today + timedelta(days=6))
        db.session.commit()
        assert counts["notifications_deleted"] == n_notes and counts["holds_deleted"] == 0
        assert counts["questions_purged"] == 0  # open ones idle for 6 days only, the closed one closed 6 days ago
        counts = purge_expired_personal_data(today + timedelta(days=10))
        db.session.commit()
        assert counts["questions_purged"] == 2  # the two left open: closed, then purged
        purged = db.session.scalars(select(Question).where(Question.purged_at.is_not(None))).all()
        assert all(q.status == "closed" and q.email is None and q.patron_id is None for q in purged)
        assert all(m.body == "[dihapus / removed]" for q in purged for m in q.messages)
        # their e-mails went with them, the others stay until their own period ends
        for q in purged:
            assert not db.session.scalar(select(OutboxEmail.id).where(OutboxEmail.body.contains(q.token)))
        assert db.session.scalar(select(sa.func.count()).select_from(OutboxEmail)) > 0
        assert db.session.scalar(select(sa.func.count()).select_from(Hold)) > 0
