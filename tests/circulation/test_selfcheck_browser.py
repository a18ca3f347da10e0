"""Self-checkout in a real browser on a phone: log in, open "Pinjam sendiri", type a barcode, get the
receipt with the due date; a copy the rules refuse shows the reason."""

from __future__ import annotations

import re

import pytest
from flask_babel import format_date
from sqlalchemy import select

from opac.circulation import actions
from opac.circulation.models import Loan
from opac.extensions import db
from tests.browser import PHONE

pytestmark = [pytest.mark.browser]

NETWORKS = '["127.0.0.0/8"]'


@pytest.fixture
def app_config():
    return {"SELFCHECK_NETWORKS": ["127.0.0.0/8"], "LIVE_SERVER_ENV": {"SELFCHECK_NETWORKS": NETWORKS}}


@pytest.fixture
def shelf(app, load_records, make_patron):
    load_records([dict(title="Negeri 5 Menara", items=[{"barcode": "SC1", "location": "PUSAT"}]),
                  dict(title="Ayat-Ayat Cinta", items=[{"barcode": "SC2", "location": "PUSAT"}])])
    _other, other_card, _pin = make_patron()
    with app.test_request_context():
        assert actions.checkout(other_card, "SC2")["ok"]  # SC2 is on loan to someone else
    pid, card, pin = make_patron(name="Dewi Lestari")
    return {"patron_id": pid, "card": card, "pin": pin}


def test_borrow_by_typed_barcode_then_a_refused_copy(app, browser, shelf, live_server):
    ctx = browser.new_context(**PHONE, locale="id-ID")
    page = ctx.new_page()
    page.set_default_timeout(20000)
    try:
        page.goto(live_server + "/login")
        page.fill("#card", shelf["card"])
        page.fill("#pin", shelf["pin"])
        page.click("form.stack button[type=submit]")
        page.wait_for_url(re.compile(r".*/account/loans"))

        page.get_by_role("link", name="Pinjam sendiri").click()
        page.wait_for_url(re.compile(r".*/selfcheck$"))
        page.fill("#barcode", "SC1")
        page.get_by_role("button", name="Pinjam", exact=True).click()
        receipt = page.get_by_role("status")
        receipt.wait_for()
        with app.test_request_context():
            loan = db.session.scalar(select(Loan).where(Loan.patron_id == shelf["patron_id"]))
            assert loan is not None and loan.channel == "self"
            due = format_date(loan.due_date, "long")
        text = receipt.inner_text()
        assert "Negeri 5 Menara" in text and "SC1" in text and due in text

        page.get_by_role("link", name="Pinjam yang lain").click()
        page.fill("#barcode", "SC2")
        page.get_by_role("button", name="Pinjam", exact=True).click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Eksemplar ini sedang dipinjam" in alert.inner_text()  # the reason, in plain words
        assert "Negeri 5 Menara" not in page.content()
        with app.test_request_context():
            assert db.session.scalar(select(Loan).where(Loan.patron_id == shelf["patron_id"],
                                                        Loan.item.has(barcode="SC2"))) is None
    finally:
        ctx.close()
