"""A simulated month: a library with hundreds of patrons lives 30 days on the test clock.

Every open day the desk lends, takes back, renews, and patrons place, suspend, cancel and collect
holds; every night the daily run (`notify`) and the worker. After each day the invariants hold:
one open loan per copy, hold queues without gaps, each due-soon and overdue notice sent once, ready
holds expire and pass their copy on, loans anonymised on time, nothing stuck in the queues.
Seeded, so every run lives the same month. CI runs it once, on PostgreSQL (marker ``month``); the
README's test command runs it on SQLite too.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from opac import clock
from opac.accounts.models import Patron, PatronCategory, PushSubscription
from opac.catalog.models import Item, Location, Record
from opac.circulation import services
from opac.circulation.models import CirculationPolicy, Hold, Loan, LoanNotice, Renewal
from opac.circulation.notify import OVERDUE_STEPS, daily_run, overdue_step
from opac.circulation.services import CirculationRefused
from opac.db import begin_write
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from opac.notifications.worker import run as run_worker
from opac.push import PushMessage
from tests.notifications.fakes import browser_keys, vapid_config

pytestmark = [pytest.mark.month, pytest.mark.heavy]

SEED = 20260302
START = date(2026, 3, 2)  # a Monday
DAYS = 30
PATRONS = 300
RECORDS = 300
ANONYMIZE_AFTER_DAYS = 7
SMTP_DOWN_DAY = 11  # the mail server is unreachable for one night
NOTICE_KINDS = ("due_soon", "overdue")


@pytest.fixture
def app_config(smtp):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_USE_TLS": False,
            "FAKE_TODAY": START.isoformat(), "ANONYMIZE_AFTER_DAYS": ANONYMIZE_AFTER_DAYS,
            "INDEX_SYNC_AFTER_COMMIT": False, "INDEX_RECONCILE_SECONDS": 1e9, "OUTBOUND_RETRY_SECONDS": 600,
            **vapid_config()}


class Library:
    """The simulated library: its clock, its random patrons and the desk's actions."""

    def __init__(self, app, rng: random.Random):
        self.app = app
        self.rng = rng
        self.minute = 0
        self.day = START
        self.stats = Counter()

    # ------------------------------------------------------------------ clock

    def at(self, hour: int, minute: int = 0) -> None:
        self.app.config["FAKE_TODAY"] = datetime.combine(self.day, time(hour, minute)).isoformat()

    def tick(self) -> None:
        """Each desk action a minute after the last, from 08:00."""
        self.minute += 1
        self.at(8 + self.minute // 60, self.minute % 60)

    # ------------------------------------------------------------------ set-up

    def build(self, push_base: str) -> None:
        rng = self.rng
        locations = [Location(code=c, name=n, is_pickup=True) for c, n in
                     (("PUSAT", "Perpustakaan Pusat"), ("FKIP", "Ruang Baca FKIP"), ("TEKNIK", "Ruang Baca Teknik"))]
        db.session.add_all(locations)
        db.session.flush()
        for policy in db.session.scalars(select(CirculationPolicy)):
            policy.loan_days, policy.pickup_days = rng.choice((5, 7, 10)), 2
        barcode = 0
        for i in range(RECORDS):  # one flush for all, not one per row
            record = Record(control_number=f"M{i:05d}", title=f"Judul {i}", material_type="book")
            db.session.add(record)
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                barcode += 1
                db.session.add(Item(record=record, barcode=f"B{barcode:06d}", location_id=rng.choice(locations).id))
        categories = {c.code: c.id for c in db.session.scalars(select(PatronCategory))}
        for i in range(PATRONS):
            category = rng.choices(("student", "lecturer", "public"), (8, 1, 1))[0]
            patron = Patron(card_number=f"C{i:05d}", name=f"Patron {i}", password_hash="-",
                            category_id=categories[category], expires_on=START + timedelta(days=20 if rng.random() < 0.1 else 365),
                            email=None if rng.random() < 0.1 else f"patron{i}@example.org",
                            language="en" if rng.random() < 0.15 else "id", notify_days_before=rng.choice((1, 2, 3)),
                            keep_history=rng.random() < 0.05)
            db.session.add(patron)
            if rng.random() < 0.08:
                db.session.flush()  # the subscription needs the patron's id
                p256dh, auth = browser_keys()
                db.session.add(PushSubscription(patron_id=patron.id, endpoint=f"{push_base}/sub/{patron.id}",
                                                p256dh=p256dh, auth=auth))
        db.session.commit()
        self.locations = [loc.id for loc in locations]
        self.patrons = list(db.session.scalars(select(Patron.id).order_by(Patron.id)))
        self.records = list(db.session.scalars(select(Record.id).order_by(Record.id)))
        # a few titles everyone wants
        self.weights = [1.0 / (1 + rank) ** 0.9 for rank in range(len(self.records))]

    # ------------------------------------------------------------------ the desk

    def act(self, kind: str, fn) -> None:
        """One action at the edge: its own write transaction, committed or rolled back."""
        self.tick()
        begin_write()
        try:
            fn()
            db.session.commit()
            self.stats[kind] += 1
        except CirculationRefused as exc:
            db.session.rollback()
            self.stats[f"{kind}_refused:{exc.reason}"] += 1

    def location(self, loc_id):
        return db.session.get(Location, loc_id)

    def open_day(self) -> None:
        rng = self.rng
        self.minute = 0
        today = self.day
        # copies in transit arrive at their pickup location
        for hold_id, item_id, pickup in db.session.execute(select(Hold.id, Hold.item_id, Hold.pickup_location_id).where(
                Hold.status == "in_transit").order_by(Hold.id)).all():
            self.act("arrive", lambda i=item_id, p=pickup: services.checkin(db.session.get(Item, i),
                                                                             location=self.location(p)))
        # returns: late loans come back more often
        for loan_id, item_id, due in db.session.execute(select(Loan.id, Loan.item_id, Loan.due_date).where(
                Loan.returned_at.is_(None)).order_by(Loan.id)).all():
            chance = 0.45 if due < today else 0.3 if (due - today).days <= 1 else 0.06
            if rng.random() < chance:
                self.act("return", lambda i=item_id: services.checkin(
                    db.session.get(Item, i), location=self.location(rng.choice(self.locations))))
        # renewals of loans due soon
        for loan_id, patron_id, due in db.session.execute(select(Loan.id, Loan.patron_id, Loan.due_date).where(
                Loan.returned_at.is_(None)).order_by(Loan.id)).all():
            if (due - today).days <= 2 and rng.random() < 0.35:
                self.act("renew", lambda lo=loan_id, p=patron_id: services.renew_loan(lo, db.session.get(Patron, p)))
        # patrons collect most ready holds
        for hold_id, patron_id, item_id in db.session.execute(select(Hold.id, Hold.patron_id, Hold.item_id).where(
                Hold.status == "ready").order_by(Hold.id)).all():
            if rng.random() < 0.5:
                self.act("collect", lambda i=item_id, p=patron_id: services.checkout(
                    db.session.get(Item, i), db.session.get(Patron, p)))
        # new holds, a few cancelled, suspended or resumed
        for _ in range(45):
            record_id = rng.choices(self.records, self.weights)[0]
            patron_id = rng.choice(self.patrons)
            not_needed = today + timedelta(days=rng.randint(3, 20)) if rng.random() < 0.2 else None
            self.act("hold", lambda r=record_id, p=patron_id, n=not_needed: services.place_hold(
                r, db.session.get(Patron, p), pickup_location_id=rng.choice(self.locations), not_needed_after=n))
        waiting = db.session.execute(select(Hold.id, Hold.patron_id, Hold.suspended_until).where(
            Hold.status.in_(("waiting", "ready"))).order_by(Hold.id)).all()
        for hold_id, patron_id, suspended in waiting:
            roll = rng.random()
            if roll < 0.04:
                self.act("cancel", lambda h=hold_id, p=patron_id: services.cancel_hold(h, db.session.get(Patron, p)))
            elif roll < 0.06:
                self.act("suspend", lambda h=hold_id, p=patron_id: services.suspend_hold(
                    h, db.session.get(Patron, p), today + timedelta(days=rng.randint(1, 6))))
            elif roll < 0.10 and suspended:
                self.act("resume", lambda h=hold_id, p=patron_id: services.resume_hold(h, db.session.get(Patron, p)))
        # checkouts of copies on the shelves
        available = list(db.session.scalars(select(Item.id).where(Item.status == "available").order_by(Item.id)))
        for item_id in rng.sample(available, min(len(available), 170)):
            patron_id = rng.choice(self.patrons)
            self.act("checkout", lambda i=item_id, p=patron_id: services.checkout(
                db.session.get(Item, i), db.session.get(Patron, p)))

    # ------------------------------------------------------------------ the night

    def nightly(self, *, twice: bool, crash: bool) -> dict:
        self.at(21, 0)
        if crash:  # a run dies before its commit: nothing of it may remain, the re-run does it all
            begin_write()
            daily_run()
            db.session.rollback()
        overdue_ready = db.session.execute(select(Hold.id, Hold.item_id, Hold.record_id).where(
            Hold.status == "ready", Hold.pickup_by < self.day)).all()
        begin_write()
        result = daily_run()
        db.session.commit()
        if twice:
            self.at(23, 30)
            begin_write()
            again = daily_run()
            db.session.commit()
            assert (again["due_soon"], again["overdue"], again["expired_holds"]) == (0, 0, 0), again
        self.check_expired_holds_passed_on(overdue_ready)
        for key in ("expired_holds", "due_soon", "overdue", "anonymized"):
            self.stats[f"night_{key}"] += result[key]
        return result

    # ------------------------------------------------------------------ invariants

    def check_expired_holds_passed_on(self, overdue_ready) -> None:
        today = self.day
        assert not db.session.scalar(select(func.count()).select_from(Hold).where(
            Hold.status == "ready", Hold.pickup_by < today))
        for hold_id, item_id, record_id in overdue_ready:
            assert db.session.get(Hold, hold_id).status == "expired"
            taker = db.session.scalar(select(Hold).where(Hold.item_id == item_id, Hold.id != hold_id,
                                                         Hold.status.in_(("ready", "in_transit"))))
            if taker is not None:
                self.stats["passed_on"] += 1
                continue
            item = db.session.get(Item, item_id)
            assert item.status == "available", (hold_id, item.status)
            with db.session.begin_nested() as sp:  # nobody eligible was waiting for it
                assert services.next_eligible_hold(record_id, today) is None, (hold_id, record_id)
                sp.rollback()
            self.stats["back_on_shelf"] += 1

    def check_invariants(self, *, smtp, push_service, smtp_down: bool) -> None:
        today, now = self.day, clock.now()
        db.session.expire_all()
        # one open loan per copy, and copies say so
        assert not db.session.execute(select(Loan.item_id).where(Loan.returned_at.is_(None)).group_by(Loan.item_id)
                                      .having(func.count() > 1)).all()
        on_loan = set(db.session.scalars(select(Loan.item_id).where(Loan.returned_at.is_(None))))
        assert on_loan == set(db.session.scalars(select(Item.id).where(Item.status == "on_loan")))
        # holds: one active per patron and title, queues numbered 1..n, set-aside copies consistent
        active = db.session.execute(select(Hold.patron_id, Hold.record_id).where(
            Hold.status.in_(("waiting", "in_transit", "ready")))).all()
        assert len(active) == len(set(active))
        queues: dict[int, list[int]] = {}
        for hold in db.session.scalars(select(Hold).where(Hold.status == "waiting").order_by(Hold.id)):
            position, length = services.queue_position(hold)
            queues.setdefault(hold.record_id, []).append(position)
            assert 1 <= position <= length
        for positions in queues.values():
            assert sorted(positions) == list(range(1, len(positions) + 1))
        for hold in db.session.scalars(select(Hold).where(Hold.status.in_(("ready", "in_transit")))):
            assert hold.item.status == ("on_hold_shelf" if hold.status == "ready" else "in_transit")
        shelf = db.session.scalar(select(func.count()).select_from(Item).where(Item.status == "on_hold_shelf"))
        assert shelf == db.session.scalar(select(func.count()).select_from(Hold).where(Hold.status == "ready"))
        # every due-soon and overdue notice owed tonight was sent, and each exactly once
        patrons = {p.id: p for p in db.session.scalars(select(Patron))}
        sent = {(n.loan_id, n.kind, n.due_date) for n in db.session.scalars(select(LoanNotice))}
        for loan in db.session.scalars(select(Loan).where(Loan.returned_at.is_(None))):
            days_left = (loan.due_date - today).days
            if 0 <= days_left <= patrons[loan.patron_id].notify_days_before:
                assert (loan.id, "due_soon", loan.due_date) in sent
            step = overdue_step(-days_left)
            if step is not None:
                assert (loan.id, f"overdue_{step}", loan.due_date) in sent
        notices = db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind.in_(NOTICE_KINDS)))
        assert notices == len(sent) == db.session.scalar(select(func.count()).select_from(LoanNotice))
        with_mail = db.session.scalar(select(func.count()).select_from(Notification).join(
            Patron, Patron.id == Notification.patron_id).where(Notification.kind.in_(NOTICE_KINDS),
                                                                 Patron.email.is_not(None)))
        assert with_mail == db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.kind.in_(NOTICE_KINDS)))
        # loans anonymised on time: not before ANONYMIZE_AFTER_DAYS, not after the night that reached it
        cutoff = now - timedelta(days=ANONYMIZE_AFTER_DAYS)
        keepers = {pid for pid, p in patrons.items() if p.keep_history}
        for returned_at, patron_id in db.session.execute(select(Loan.returned_at, Loan.patron_id).where(
                Loan.returned_at.is_not(None))).all():
            if returned_at >= cutoff:
                assert patron_id is not None
            else:
                assert patron_id is None or patron_id in keepers
        # the queues: everything sent exactly once; nothing stuck or dead
        ids = Counter(str(m["Message-ID"]) for m in smtp.messages)
        assert not ids or max(ids.values()) == 1
        assert len(ids) == db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.status == "sent"))
        pushes = Counter(push_service.requests)
        assert sum(pushes.values()) == db.session.scalar(select(func.count()).select_from(PushMessage).where(
            PushMessage.status == "sent"))
        for model in (OutboxEmail, PushMessage):
            assert not db.session.scalar(select(func.count()).select_from(model).where(model.status == "dead"))
        pending = db.session.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == "pending"))
        if smtp_down:
            assert pending > 0  # they wait for the server, with their attempt recorded
        else:
            assert pending == 0
        assert not db.session.scalar(select(func.count()).select_from(PushMessage).where(
            PushMessage.status == "pending"))


def test_a_month_in_the_library(app, smtp, push_service):
    with app.app_context():
        lib = Library(app, random.Random(SEED))
        lib.build(push_service.base)
        for n in range(DAYS):
            lib.day = START + timedelta(days=n)
            if lib.day.weekday() != 6:  # closed on Sundays; the nightly run still runs
                lib.open_day()
            lib.nightly(twice=n % 5 == 2, crash=n % 9 == 4)
            smtp.down = n == SMTP_DOWN_DAY
            run_worker(once=True)
            lib.check_invariants(smtp=smtp, push_service=push_service, smtp_down=smtp.down)
        s = lib.stats
        loans = db.session.scalar(select(func.count()).select_from(Loan))
        holds = db.session.scalar(select(func.count()).select_from(Hold))
        renewals = db.session.scalar(select(func.count()).select_from(Renewal))
        print(f"\nloans {loans}, holds {holds}, renewals {renewals}, mails {len(smtp.messages)}, "
              f"pushes {len(push_service.requests)}", dict(sorted(s.items())))
        # the month really exercised what it claims to check
        assert loans >= 2000 and holds >= 700 and renewals >= 300
        assert s["night_due_soon"] > 300 and s["night_overdue"] > 100 and s["night_anonymized"] > 300
        assert s["night_expired_holds"] > 20 and s["passed_on"] > 5 and s["back_on_shelf"] > 5
        assert s["collect"] > 100 and s["arrive"] > 20 and s["cancel"] > 20
        assert {f"overdue_{step}" for step in OVERDUE_STEPS} <= set(db.session.scalars(select(LoanNotice.kind)))
        assert len(push_service.requests) > 10
