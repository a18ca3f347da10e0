"""Staff side at the desk and on a phone: menu, sticky desk mode, dashboard counts, statistics and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from opac.catalog.models import Item, Location, utcnow
from opac.circulation.models import Hold, Loan, Renewal
from opac.extensions import db
from opac.mail import OutboxEmail
from tests.conftest import csrf_token


@pytest.fixture
def desk_world(app, client, load_records, make_patron, make_staff):
    ids = load_records([
        dict(title="Laskar Pelangi", items=[{"barcode": "W1", "location": "PUSAT"}]),
        dict(title="Sang Pemimpi", items=[{"barcode": "W2", "location": "PUSAT"}, {"barcode": "W3", "location": "PUSAT"}]),
        dict(title="Edensor", items=[{"barcode": "W4", "location": "PUSAT"}]),
    ])
    a, b = make_patron(), make_patron()
    user, password = make_staff()
    with app.app_context():
        pusat = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        pusat.is_pickup = True
        db.session.commit()
        pickup = pusat.id
    r = client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    return {"records": ids, "a": a, "b": b, "pickup": pickup}


def desk(client, **data):
    return client.post("/staff/desk", data={**data, "csrf_token": csrf_token(client)})


def tile(page: str, key: str) -> int:
    m = re.search(rf'data-count="{key}">\s*<a href="[^"]*"><span class="tile-n">(\d+)</span>', page)
    assert m, (key, page)
    return int(m.group(1))


def test_desk_mode_is_sticky_and_results_are_distinct(client, desk_world):
    _, card, _ = desk_world["a"]
    page = client.get("/staff/desk").get_data(as_text=True)
    assert 'id="barcode-out"' in page and 'id="barcode-in"' not in page  # checkout by default
    r = desk(client, action="checkout", card=card, barcode="W1")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'class="desk-flash desk-ok" role="status"' in page and "#i-ok" in page
    # the card stays, and the item field (not the card) has the focus for the next scan
    assert re.search(r'id="barcode-out"[^>]*autofocus', page) and not re.search(r'id="card"[^>]*autofocus', page)
    # a check-in: the page comes back in check-in mode with its field focused, also after an error
    page = desk(client, action="checkin", barcode="W1").get_data(as_text=True)
    assert re.search(r'id="barcode-in"[^>]*autofocus', page) and 'id="barcode-out"' not in page
    r = desk(client, action="checkin", barcode="NO-SUCH")
    page = r.get_data(as_text=True)
    assert r.status_code == 409 and 'class="desk-flash desk-error" role="alert"' in page and "#i-error" in page
    assert re.search(r'id="barcode-in"[^>]*autofocus', page) and "NO-SUCH" in page
    # remembered in the session: a plain visit opens the desk in the last mode used
    page = client.get("/staff/desk").get_data(as_text=True)
    assert 'id="barcode-in"' in page and re.search(r'mode-checkin"[^>]*aria-current="page"', page)
    # a link switches the mode without writing anything (GET)
    assert 'id="barcode-out"' in client.get("/staff/desk?mode=checkout").get_data(as_text=True)
    assert 'id="barcode-in"' in client.get("/staff/desk").get_data(as_text=True)


def test_staff_pages_load_the_staff_script_and_a_readable_menu(client, desk_world):
    page = client.get("/staff/").get_data(as_text=True)
    assert re.search(r'<script src="/assets/staff\.[0-9a-f]+\.js" defer>', page)
    assert 'class="staff-nav"' in page and 'aria-current="page">' in page
    assert "staff." not in client.get("/").get_data(as_text=True).split("<script src=")[-1]
    css = client.get("/static/pwa/app.css").get_data(as_text=True)
    assert ".staff-nav a, .staff-more > summary { color: var(--brand-fg)" in css


def test_dashboard_counts(app, client, desk_world):
    from opac.circulation import actions
    from opac.circulation.rules import today
    from opac.reference.models import Question

    _, card_a, _ = desk_world["a"]
    b_id = desk_world["b"][0]
    with app.test_request_context():
        assert actions.checkout(card_a, "W1")["ok"]
        assert actions.checkout(card_a, "W2")["ok"]
        day = today()
        # W1 is overdue; a hold on "Sang Pemimpi" can be pulled (W3 on the shelf)
        db.session.scalar(select(Loan).join(Loan.item).where(Item.barcode == "W1")).due_date = day - timedelta(days=3)
        db.session.commit()
        assert actions.place_hold(b_id, desk_world["records"][1], desk_world["pickup"])["ok"]
        # a ready hold whose pickup date passed, on "Edensor"
        assert actions.place_hold(b_id, desk_world["records"][2], desk_world["pickup"])["ok"]
        hold = db.session.scalar(select(Hold).where(Hold.record_id == desk_world["records"][2]))
        w4 = db.session.scalar(select(Item).where(Item.barcode == "W4"))
        hold.status, hold.item_id, hold.pickup_by, w4.status = "ready", w4.id, day - timedelta(days=1), "on_hold_shelf"
        now = utcnow()
        db.session.add_all([
            Question(token="q1" * 8, created_at=now - timedelta(hours=5)),
            Question(token="q2" * 8, created_at=now - timedelta(hours=1)),
            Question(token="q3" * 8, status="answered", created_at=now - timedelta(days=2), first_reply_at=now),
            OutboxEmail(to="x@example.org", subject="s", body="b", error="550 no such user"),
            OutboxEmail(to="y@example.org", subject="s", body="b", error="old", created_at=now - timedelta(days=3)),
            OutboxEmail(to="z@example.org", subject="s", body="b", sent_at=now),
        ])
        db.session.commit()
    page = client.get("/staff/").get_data(as_text=True)
    assert tile(page, "questions") == 2 and ("5 jam" in page or "5 hours" in page)
    assert tile(page, "to_pull") == 1
    assert tile(page, "expiring") == 1
    assert tile(page, "overdue") == 1
    assert tile(page, "mail_failures") == 1
    assert tile(page, "in_transit") == 0
    assert ('data-count="self_checkouts"' in page) == hasattr(Loan, "channel")
    # each count links to its list
    assert 'href="/staff/overdue"' in page and 'href="/staff/holds#to-pull"' in page
    overdue = client.get("/staff/overdue").get_data(as_text=True)
    assert "Laskar Pelangi" in overdue and card_a in overdue and "Sang Pemimpi" not in overdue
    assert 'class="rtable"' in overdue and 'data-label=' in overdue


def test_statistics_numbers_and_csv(app, client, desk_world):
    from opac.circulation import actions, rules
    from opac.reference.models import Question
    from opac.staff.dashboard import local_day_start

    _, card_a, _ = desk_world["a"]
    with app.test_request_context():
        assert actions.checkout(card_a, "W1")["ok"]
        assert actions.checkout(card_a, "W2")["ok"]
        loan = db.session.scalar(select(Loan).join(Loan.item).where(Item.barcode == "W2"))
        loan.checked_out_at = utcnow() - timedelta(days=1)  # yesterday
        db.session.add(Renewal(loan_id=loan.id, old_due=loan.due_date, new_due=loan.due_date + timedelta(days=7)))
        # answered within the library's today, also in its first hours (midnight in Jakarta is 17:00 UTC)
        now = max(utcnow(), local_day_start(rules.today()) + timedelta(hours=4, minutes=1))
        db.session.add_all([
            Question(token="a" * 16, status="answered", created_at=now - timedelta(hours=4), first_reply_at=now),
            Question(token="b" * 16, status="answered", created_at=now - timedelta(hours=2), first_reply_at=now),
            Question(token="c" * 16, created_at=now - timedelta(minutes=5)),
        ])
        db.session.commit()
    page = client.get("/staff/statistics?days=7").get_data(as_text=True)
    assert page.count('role="img"') == 8 and "<title id=\"t-loans\">" in page and "<desc id=\"d-loans\">" in page
    assert page.count('class="bar"') >= 4  # loans today and yesterday, a renewal, questions, first answer

    def rows(key):
        r = client.get(f"/staff/statistics/{key}.csv?days=7")
        assert r.status_code == 200 and r.mimetype == "text/csv"
        return list(csv.reader(io.StringIO(r.get_data(as_text=True))))

    loans = rows("loans")
    assert loans[0] == ["day", "loans"] and len(loans) == 8
    assert [int(r[1]) for r in loans[1:]][-2:] == [1, 1]
    assert sum(int(r[1]) for r in rows("renewals")[1:]) == 1
    assert int(rows("questions")[-1][1]) == 3
    first = rows("first_answer")
    assert first[0] == ["day", "answered_questions", "mean_hours_to_first_answer"]
    assert first[-1][1:] == ["2", "3.0"]
    assert client.get("/staff/statistics/nope.csv").status_code == 404


def test_csv_cells_cannot_become_formulas():
    from opac.staff.statistics import Series, csv_safe, series_csv

    assert [csv_safe(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "plain", 3, None)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "plain", "3", ""]
    from datetime import date

    out = series_csv(Series("loans", [date(2026, 1, 1)], [-1]))
    assert out.splitlines()[1] == "2026-01-01,'-1"


def test_staff_pages_need_staff(client):
    for url in ("/staff/statistics", "/staff/statistics/loans.csv", "/staff/overdue"):
        r = client.get(url)
        assert r.status_code in (302, 303, 401, 403)
