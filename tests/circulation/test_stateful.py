"""Hypothesis stateful test of the circulation rules: random sequences of checkouts, checkins,
renewals and hold actions by several patrons keep every invariant, and a refused action
changes nothing."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete, func, select

from opac.accounts.models import Patron
from opac.catalog.models import Item, Location
from opac.circulation import actions, rules, services
from opac.circulation.models import ACTIVE_HOLD, Fine, Hold, IdempotencyKey, Loan, Renewal
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.notifications.models import Notification
from tests.circulation.snapshot import db_state

BARCODES = ["X1", "X2", "Y1"]


def test_circulation_state_machine(app, load_records, make_patron):
    ids = load_records([
        dict(title="Dua Eksemplar", items=[{"barcode": "X1", "location": "PUSAT"}, {"barcode": "X2", "location": "PUSAT"}]),
        dict(title="Satu Eksemplar", items=[{"barcode": "Y1", "location": "PUSAT"}]),
    ])
    patrons = [make_patron() for _ in range(3)]
    with app.app_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        for pol in db.session.scalars(select(rules.CirculationPolicy)):
            pol.max_loans, pol.max_renewals, pol.max_holds = 2, 2, 2
        db.session.commit()
        pickup = loc.id

    class Circulation(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.ctx = app.test_request_context()
            self.ctx.push()
            for model in (Renewal, Fine, Notification, OutboxEmail, IdempotencyKey, Hold, Loan):
                db.session.execute(delete(model))
            for it in db.session.scalars(select(Item)):
                it.status = "available"
            db.session.commit()
            self.today = rules.today()

        def teardown(self):
            db.session.rollback()
            db.session.remove()
            self.ctx.pop()

        def _guarded(self, fn):
            before = db_state()
            result = fn()
            if not result.get("ok"):
                assert db_state() == before, result
            return result

        @rule(p=st.integers(0, 2), b=st.sampled_from(BARCODES))
        def checkout(self, p, b):
            self._guarded(lambda: actions.checkout(patrons[p][1], b))

        @rule(b=st.sampled_from(BARCODES))
        def checkin(self, b):
            self._guarded(lambda: actions.checkin(b, pickup))

        @rule(p=st.integers(0, 2), which=st.integers(0, 3))
        def renew(self, p, which):
            loan_ids = db.session.scalars(select(Loan.id).where(Loan.patron_id == patrons[p][0],
                                                                Loan.returned_at.is_(None))).all() + [999999]
            self._guarded(lambda: actions.renew(patrons[p][0], loan_ids[which % len(loan_ids)]))

        @rule(p=st.integers(0, 2), r=st.integers(0, 1))
        def place_hold(self, p, r):
            self._guarded(lambda: actions.place_hold(patrons[p][0], ids[r], pickup))

        @rule(p=st.integers(0, 2), which=st.integers(0, 3), op=st.sampled_from(["cancel", "suspend", "resume"]))
        def hold_action(self, p, which, op):
            hold_ids = db.session.scalars(select(Hold.id).where(Hold.patron_id == patrons[(p + which) % 3][0])).all()
            if not hold_ids:
                return
            hid = hold_ids[which % len(hold_ids)]
            if op == "cancel":
                self._guarded(lambda: actions.cancel_hold(patrons[p][0], hid))
            elif op == "suspend":
                self._guarded(lambda: actions.suspend_hold(patrons[p][0], hid, self.today + timedelta(days=3)))
            else:
                self._guarded(lambda: actions.resume_hold(patrons[p][0], hid))

        @invariant()
        def one_open_loan_per_item_and_statuses_agree(self):
            for it in db.session.scalars(select(Item).execution_options(populate_existing=True)):
                open_loans = db.session.scalar(select(func.count()).select_from(Loan).where(
                    Loan.item_id == it.id, Loan.returned_at.is_(None)))
                set_aside = db.session.scalar(select(func.count()).select_from(Hold).where(
                    Hold.item_id == it.id, Hold.status.in_(("ready", "in_transit"))))
                assert open_loans <= 1 and set_aside <= 1
                assert (it.status == "on_loan") == (open_loans == 1), (it.barcode, it.status)
                assert (it.status in ("on_hold_shelf", "in_transit")) == (set_aside == 1), (it.barcode, it.status)
                assert not (open_loans and set_aside)

        @invariant()
        def holds_and_limits(self):
            for pid, _card, _pin in patrons:
                patron = db.session.get(Patron, pid)
                pol = rules.policy_for(patron.category_id, "book")
                active = db.session.scalars(select(Hold).where(Hold.patron_id == pid, Hold.status.in_(ACTIVE_HOLD))).all()
                assert len(active) <= pol.max_holds
                assert len({h.record_id for h in active}) == len(active)
                loans = db.session.scalars(select(Loan).where(Loan.patron_id == pid, Loan.returned_at.is_(None))).all()
                assert len(loans) <= pol.max_loans
                assert all(loan.renewals <= pol.max_renewals for loan in loans)
                borrowed = {loan.item.record_id for loan in loans}
                assert not borrowed & {h.record_id for h in active}

        @invariant()
        def queue_positions_have_no_gaps(self):
            for rid in ids:
                waiting = db.session.scalars(select(Hold).where(Hold.record_id == rid, Hold.status == "waiting")).all()
                assert sorted(services.queue_position(h)[0] for h in waiting) == list(range(1, len(waiting) + 1))

    run_state_machine_as_test(Circulation, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
