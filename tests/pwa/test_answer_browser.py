"""In a real browser: the librarian answers, the patron sees the badge on the (cached, public)
home page and the Ask tab, opens the thread, and the badge is gone."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from opac.accounts.models import Patron, StaffUser
from opac.extensions import db
from opac.reference import services as ref

pytestmark = [pytest.mark.browser]


@pytest.fixture
def answered(app, make_patron, make_staff):
    pid, card, pin = make_patron(name="Siti Aminah")
    user, _password = make_staff()
    with app.test_request_context():
        q = ref.ask("Apakah ada buku tentang sejarah Majapahit?", category="finding", name=None, email=None,
                    whatsapp=None, channel="app", patron=db.session.get(Patron, pid), ip="10.0.0.9")
        ref.reply(q, db.session.scalar(select(StaffUser).where(StaffUser.username == user)), "Ada, lihat /record/1.")
        db.session.commit()
        return {"card": card, "pin": pin, "question_id": q.id}


@pytest.fixture
def site(answered, live_server):
    return live_server


def test_answer_badge_end_to_end(page, site, answered):
    page.goto(site + "/login")
    page.fill("#card", answered["card"])
    page.fill("#pin", answered["pin"])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r".*/account/loans"))
    badge = page.locator(".main-nav [data-badge=answers]")
    assert badge.is_visible() and badge.locator("[aria-hidden=true]").inner_text() == "1"  # server-rendered
    page.goto(site + "/")  # a public page: the script asks for the count
    badge.wait_for(state="visible")
    assert badge.locator("[aria-hidden=true]").inner_text() == "1"
    assert "1 jawaban baru" in badge.text_content()

    page.goto(site + "/account/questions")
    page.click(f"a[href$='/account/questions/{answered['question_id']}']")
    page.locator("form[data-mark-read]").wait_for(state="hidden")  # the page marked it read
    assert page.locator(".thread a[href='/record/1']").count() == 1  # the record path is a link
    badge.wait_for(state="hidden")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/ask/unread")):
        page.goto(site + "/")
    page.wait_for_load_state("networkidle")
    assert badge.is_hidden()
