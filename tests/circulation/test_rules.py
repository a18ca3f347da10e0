"""Circulation rules through the services: policies, calendar, renewals with reasons, holds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from opac.accounts.models import Patron
from opac.catalog.models import Item, Location
from opac.circulation import actions, rules, services
from opac.circulation.models import CirculationPolicy, Hold, Holiday, Loan
from opac.circulation.services import CirculationRefused
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification

TODAY = date(2026, 11, 23)  # a Monday


@pytest.fixture
def lib(app, load_records, make_patron):
    """Two titles: one with two copies, one with a single copy; three patrons."""
    ids = load_records([
        dict(title="Laskar Pelangi", items=[{"barcode": "A1", "location": "PUSAT"}, {"barcode": "A2", "location": "PUSAT"}]),
        dict(title="Bumi Manusia", items=[{"barcode": "B1", "location": "PUSAT"}]),
        dict(title="Jurnal", material_type="journal", items=[{"barcode": "J1", "location": "PUSAT", "status": "not_for_loan"}]),
    ])
    patrons = [make_patron("student", email=f"p{i}@example.org") for i in range(3)]
    lecturer = make_patron("lecturer")
    with app.app_context():
        for loc in db.session.scalars(select(Location)):
            loc.is_pickup = True
        db.session.add(Location(code="FKIP", name="Ruang Baca FKIP", is_pickup=True))
        db.session.commit()
    return {"laskar": ids[0], "bumi": ids[1], "jurnal": ids[2], "p": [p[0] for p in patrons], "lecturer": lecturer[0]}


@pytest.fixture
def svc(app):
    with app.test_request_context():
        yield


def item(barcode):
    return db.session.scalar(select(Item).where(Item.barcode == barcode))


def patron(pid):
    return db.session.get(Patron, pid)


def loc(code):
    return db.session.scalar(select(Location).where(Location.code == code))


def checkout(barcode, pid, today=TODAY):
    loan = services.checkout(item(barcode), patron(pid), today=today)
    db.session.commit()
    return loan


def test_policies_per_category_and_due_date_on_open_day(lib, svc):
    loan = checkout("A1", lib["p"][0])
    assert loan.due_date == TODAY + timedelta(days=14)  # Monday + 14 = Monday, open
    loan = checkout("B1", lib["lecturer"])
    assert loan.due_date == TODAY + timedelta(days=30)  # lecturers: 30 days
    pol = rules.policy_for(patron(lib["p"][0]).category_id, "book")
    assert (pol.loan_days, pol.max_loans, pol.max_renewals, pol.max_holds) == (14, 5, 2, 5)


def test_calendar_moves_due_dates_and_expiry_caps_them(lib, svc, app):
    db.session.add(Holiday(day=TODAY + timedelta(days=14), name="Libur"))
    db.session.commit()
    loan = checkout("A1", lib["p"][0])
    assert loan.due_date == TODAY + timedelta(days=15)  # holiday Monday -> Tuesday
    p = patron(lib["p"][1])
    p.expires_on = TODAY + timedelta(days=6)  # Sunday, closed
    db.session.commit()
    loan = checkout("A2", lib["p"][1])
    assert loan.due_date == TODAY + timedelta(days=5)  # never past the expiry, back to Saturday
    assert rules.Calendar(TODAY).next_open(date(2026, 11, 29)) == date(2026, 11, 30)  # Sunday -> Monday


def test_checkout_refusals(lib, svc):
    checkout("B1", lib["p"][0])
    with pytest.raises(CirculationRefused) as e:
        checkout("B1", lib["p"][1])
    assert e.value.reason == "already_on_loan"
    with pytest.raises(CirculationRefused) as e:
        checkout("J1", lib["p"][1])
    assert e.value.reason == "not_loanable"
    p = patron(lib["p"][2])
    p.blocked, p.block_note = True, "kartu hilang"
    db.session.commit()
    with pytest.raises(CirculationRefused) as e:
        checkout("A1", lib["p"][2])
    assert e.value.reason == "blocked" and "kartu hilang" in e.value.message
    pol = db.session.scalar(select(CirculationPolicy).where(CirculationPolicy.category_id == patron(lib["p"][1]).category_id))
    pol.max_loans = 1
    db.session.commit()
    checkout("A1", lib["p"][1])
    with pytest.raises(CirculationRefused) as e:
        checkout("A2", lib["p"][1])
    assert e.value.reason == "too_many_loans"


def test_renewal_reasons(lib, svc, app):
    a, b = lib["p"][0], lib["p"][1]
    loan = checkout("B1", a)
    # renew twice (the limit), then refused with the limit as reason
    for _ in range(2):
        services.renew_loan(loan.id, patron(a), today=TODAY)
        db.session.commit()
    assert loan.renewals == 2 and loan.due_date == TODAY + timedelta(days=42)
    with pytest.raises(CirculationRefused) as e:
        services.renew_loan(loan.id, patron(a), today=TODAY)
    assert e.value.reason == "too_many_renewals"
    db.session.rollback()
    # a hold by another patron on the only copy
    loan2 = checkout("A1", a)
    services.place_hold(lib["laskar"], patron(b), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    # another copy (A2) is on the shelf: Koha's rule lets the renewal through
    assert services.renewal_problem(loan2, patron(a), TODAY) is None
    app.config["RENEW_IF_OTHER_ITEMS_AVAILABLE"] = False
    assert services.renewal_problem(loan2, patron(a), TODAY)[0] == "on_hold"
    app.config["RENEW_IF_OTHER_ITEMS_AVAILABLE"] = True
    checkout("A2", lib["p"][2])  # the other copy goes out too
    assert services.renewal_problem(loan2, patron(a), TODAY)[0] == "on_hold"
    msg = CirculationRefused("on_hold").message
    assert "Another patron" in msg or "menunggu" in msg
    # overdue, too soon, card expiry, expired card
    loan3 = db.session.get(Loan, loan2.id)
    assert services.renewal_problem(loan3, patron(a), loan3.due_date + timedelta(days=1))[0] in ("overdue", "on_hold")
    pol = rules.policy_for(patron(a).category_id, "book")
    pol.renew_window_days = 3
    db.session.commit()
    hold = db.session.scalar(select(Hold))
    services.cancel_hold(hold.id, patron(b), today=TODAY)
    db.session.commit()
    reason = services.renewal_problem(loan3, patron(a), TODAY)
    assert reason[0] == "too_soon" and reason[1]["days"] == 3
    pol.renew_window_days = None
    p = patron(a)
    p.expires_on = loan3.due_date
    db.session.commit()
    assert services.renewal_problem(loan3, p, TODAY)[0] == "card_expires"
    p.expires_on = TODAY - timedelta(days=1)
    assert services.renewal_problem(loan3, p, TODAY)[0] == "card_expired"


def test_renewal_from_today_policy(lib, svc):
    pol = rules.policy_for(patron(lib["p"][0]).category_id, "book")
    pol.renew_from = "today"
    db.session.commit()
    loan = checkout("A1", lib["p"][0])
    services.renew_loan(loan.id, patron(lib["p"][0]), today=TODAY + timedelta(days=3))
    assert loan.due_date == rules.due_date(TODAY + timedelta(days=3), 14, patron(lib["p"][0]).expires_on)


def test_renew_all_reports_each_loan(lib, svc):
    a = lib["p"][0]
    checkout("A1", a)
    checkout("B1", a)
    services.place_hold(lib["bumi"], patron(lib["p"][1]), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    results = services.renew_all(patron(a), today=TODAY)
    db.session.commit()
    by_title = {r["title"]: r for r in results}
    assert by_title["Laskar Pelangi"]["renewed"] is True
    assert by_title["Bumi Manusia"]["renewed"] is False and by_title["Bumi Manusia"]["reason"] == "on_hold"


def test_holds_queue_positions_close_gaps(lib, svc, make_patron):
    extra = [make_patron()[0] for _ in range(2)]
    checkout("B1", lib["lecturer"])
    holders = lib["p"] + extra
    holds = []
    for pid in holders:
        holds.append(services.place_hold(lib["bumi"], patron(pid), pickup_location_id=loc("PUSAT").id, today=TODAY))
        db.session.commit()
    assert [services.queue_position(h) for h in holds] == [(i + 1, 5) for i in range(5)]
    services.cancel_hold(holds[1].id, patron(holders[1]), today=TODAY)
    db.session.commit()
    assert [services.queue_position(h)[0] for h in holds if h.status == "waiting"] == [1, 2, 3, 4]
    wait = services.estimated_wait_days(holds[0], TODAY)
    assert wait is not None and wait >= 1


def test_hold_refusals(lib, svc):
    a = lib["p"][0]
    checkout("B1", a)
    with pytest.raises(CirculationRefused) as e:
        services.place_hold(lib["bumi"], patron(a), pickup_location_id=loc("PUSAT").id, today=TODAY)
    assert e.value.reason == "already_borrowed"
    db.session.rollback()
    services.place_hold(lib["laskar"], patron(a), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    with pytest.raises(CirculationRefused) as e:
        services.place_hold(lib["laskar"], patron(a), pickup_location_id=loc("PUSAT").id, today=TODAY)
    assert e.value.reason == "already_holding"
    db.session.rollback()
    with pytest.raises(CirculationRefused) as e:
        services.place_hold(lib["jurnal"], patron(lib["p"][1]), pickup_location_id=loc("PUSAT").id, today=TODAY)
    assert e.value.reason == "not_holdable"
    db.session.rollback()
    with pytest.raises(CirculationRefused) as e:
        services.place_hold(lib["laskar"], patron(lib["p"][1]), pickup_location_id=None, today=TODAY)
    assert e.value.reason == "bad_pickup"
    db.session.rollback()
    pol = rules.policy_for(patron(lib["p"][1]).category_id, "book")
    pol.max_holds = 0
    db.session.commit()
    with pytest.raises(CirculationRefused) as e:
        services.place_hold(lib["laskar"], patron(lib["p"][1]), pickup_location_id=loc("PUSAT").id, today=TODAY)
    assert e.value.reason == "too_many_holds"


def test_checkin_sets_aside_for_first_eligible_hold_and_expiry_passes_it_on(lib, svc):
    a, b, c = lib["p"]
    checkout("B1", lib["lecturer"])
    hb = services.place_hold(lib["bumi"], patron(b), pickup_location_id=loc("PUSAT").id, today=TODAY)
    hc = services.place_hold(lib["bumi"], patron(c), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    services.suspend_hold(hb.id, patron(b), TODAY + timedelta(days=10), today=TODAY)
    db.session.commit()
    res = services.checkin(item("B1"), location=loc("PUSAT"), today=TODAY)
    db.session.commit()
    # b is suspended: the copy goes to c
    assert res.hold.id == hc.id and hc.status == "ready" and item("B1").status == "on_hold_shelf"
    assert hc.pickup_by == rules.pickup_deadline(TODAY, 3)
    note = db.session.scalar(select(Notification).where(Notification.patron_id == c, Notification.kind == "hold_ready"))
    assert note is not None and "Bumi Manusia" in note.body
    assert db.session.scalar(select(OutboxEmail).where(OutboxEmail.patron_id == c, OutboxEmail.kind == "hold_ready"))
    # set aside for c: a cannot take it
    with pytest.raises(CirculationRefused) as e:
        services.checkout(item("B1"), patron(a), today=TODAY)
    assert e.value.reason == "held_for_other"
    db.session.rollback()
    # c never collects; b resumes; expiry passes the copy to b
    services.resume_hold(hb.id, patron(b))
    db.session.commit()
    n = services.expire_holds(today=hc.pickup_by + timedelta(days=1))
    db.session.commit()
    assert n == 1 and db.session.get(Hold, hc.id).status == "expired"
    hb = db.session.get(Hold, hb.id)
    assert hb.status == "ready" and hb.item_id == item("B1").id
    loan = services.checkout(item("B1"), patron(b), today=TODAY)
    db.session.commit()
    assert db.session.get(Hold, hb.id).status == "fulfilled" and loan.patron_id == b


def test_checkin_at_another_location_sends_in_transit(lib, svc):
    checkout("B1", lib["lecturer"])
    h = services.place_hold(lib["bumi"], patron(lib["p"][0]), pickup_location_id=loc("FKIP").id, today=TODAY)
    db.session.commit()
    services.checkin(item("B1"), location=loc("PUSAT"), today=TODAY)
    db.session.commit()
    assert h.status == "in_transit" and item("B1").status == "in_transit"
    services.checkin(item("B1"), location=loc("FKIP"), today=TODAY)
    db.session.commit()
    assert h.status == "ready" and item("B1").status == "on_hold_shelf"


def test_renewal_refused_notice_when_a_hold_is_placed(lib, svc):
    a, b = lib["p"][0], lib["p"][1]
    checkout("B1", a)
    services.place_hold(lib["bumi"], patron(b), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    note = db.session.scalar(select(Notification).where(Notification.patron_id == a))
    assert note.kind == "renewal_blocked" and "Bumi Manusia" in note.body


def test_notices_in_the_patrons_language(lib, svc):
    from opac.circulation.notify import send_due_and_overdue_notices

    a, b = lib["p"][0], lib["p"][1]
    patron(b).language = "en"
    db.session.commit()
    la = checkout("A1", a)
    lb = checkout("B1", b)
    send_due_and_overdue_notices(today=la.due_date - timedelta(days=1))
    db.session.commit()
    na = db.session.scalar(select(Notification).where(Notification.patron_id == a, Notification.kind == "due_soon"))
    nb = db.session.scalar(select(Notification).where(Notification.patron_id == b, Notification.kind == "due_soon"))
    assert na.subject.startswith("Segera jatuh tempo") and nb.subject.startswith("Due soon")
    again = send_due_and_overdue_notices(today=la.due_date - timedelta(days=1))
    assert again == (0, 0)  # once per due date
    assert send_due_and_overdue_notices(today=lb.due_date + timedelta(days=1))[1] == 2


def test_fines_block_when_enabled(lib, svc, app):
    app.config.update(FINES_ENABLED=True, FINES_BLOCK_THRESHOLD=1000)
    pol = rules.policy_for(patron(lib["p"][0]).category_id, "book")
    pol.fine_per_day = 500
    db.session.commit()
    loan = checkout("A1", lib["p"][0])
    res = services.checkin(item("A1"), today=loan.due_date + timedelta(days=3))
    db.session.commit()
    assert res.fine == 1500
    with pytest.raises(CirculationRefused) as e:
        checkout("A2", lib["p"][0])
    assert e.value.reason == "fines"


def test_privacy_anonymise_and_history(lib, svc, app):
    from opac.catalog.models import utcnow

    a, b = lib["p"][0], lib["p"][1]
    patron(b).keep_history = True
    db.session.commit()
    la = checkout("A1", a)
    lb = checkout("A2", b)
    services.checkin(item("A1"), today=TODAY)
    services.checkin(item("A2"), today=TODAY)
    db.session.commit()
    la.returned_at = lb.returned_at = utcnow() - timedelta(days=40)
    db.session.commit()
    assert services.anonymize_loans() == 1
    db.session.commit()
    assert db.session.get(Loan, la.id).patron_id is None
    assert db.session.get(Loan, lb.id).patron_id == b
    assert services.delete_history(patron(b)) == 1
    db.session.commit()
    assert db.session.get(Loan, lb.id).patron_id is None


def test_actions_idempotency_key_renews_once(lib, svc):
    loan = checkout("A1", lib["p"][0])
    r1 = actions.renew(lib["p"][0], loan.id, key="k-1")
    r2 = actions.renew(lib["p"][0], loan.id, key="k-1")
    assert r1["ok"] and r2["ok"] and r2.get("replayed") and r1["due_date"] == r2["due_date"]
    assert db.session.get(Loan, loan.id).renewals == 1
    r3 = actions.renew(lib["p"][0], loan.id, key="k-2")
    assert r3["ok"] and db.session.get(Loan, loan.id).renewals == 2


def test_refused_action_changes_nothing(lib, svc):
    from tests.circulation.snapshot import db_state

    loan = checkout("B1", lib["p"][0])
    services.place_hold(lib["bumi"], patron(lib["p"][1]), pickup_location_id=loc("PUSAT").id, today=TODAY)
    db.session.commit()
    before = db_state()
    assert actions.renew(lib["p"][0], loan.id, key="x")["error"] == "on_hold"
    assert actions.checkout("nope", "B1")["error"] == "patron_not_found"
    assert actions.place_hold(lib["p"][0], lib["bumi"], loc("PUSAT").id)["error"] == "already_borrowed"
    assert actions.cancel_hold(lib["p"][0], 999)["error"] == "not_yours"
    assert db_state() == before


def test_cli_categories_policies_and_blocks(app, runner, make_patron):
    r = runner.invoke(args=["patron", "category", "--code", "alumni", "--name", "Alumni", "--card-years", "2"])
    assert r.exit_code == 0
    r = runner.invoke(args=["circ", "policy", "--category", "alumni", "--type", "book", "--loan-days", "7", "--max-loans", "2"])
    assert r.exit_code == 0 and "7 days, 2 loans" in r.output
    assert "alumni" in runner.invoke(args=["circ", "policies"]).output
    pid, card, _ = make_patron("alumni")
    with app.app_context():
        p = db.session.get(Patron, pid)
        pol = rules.policy_for(p.category_id, "book")
        assert (pol.loan_days, pol.max_loans) == (7, 2)
        assert rules.policy_for(p.category_id, "journal").loan_days == 14  # falls back to the default rule
    r = runner.invoke(args=["patron", "block", "--card", card, "--note", "kartu hilang"])
    assert r.exit_code == 0
    with app.app_context():
        assert services.account_problem(db.session.get(Patron, pid), TODAY) == ("blocked", {"note": "kartu hilang"})
    assert runner.invoke(args=["patron", "block", "--card", "nope", "--note", "x"]).exit_code != 0
