"""Small things a patron meets (issue 11, item 13): covers keep their text inside, one language at
a time, services spelled as they spell themselves, a clean login ``next``, record links in
librarians' replies, no empty boxes in low-data mode; and dates in one form with <time>."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from sqlalchemy import select

from opac.catalog.covers import BOLD_EM, TEXT_WIDTH, cover_svg
from opac.extensions import db
from opac.reference import services as ref
from tests.conftest import csrf_token

LONG = "Metodologi Penelitian Kuantitatif, Kualitatif, dan Kombinasi (Mixed Methods) untuk Ilmu Pendidikan dan Sosial"


def test_generated_cover_text_stays_inside(app, client, load_records):
    for title in (LONG, "Pneumonoultramicroscopicsilicovolcanoconiosis", "MMMMMMMMMMMM WWWWWWWWWWWW", "A"):
        svg = ET.fromstring(cover_svg(title, "Wirjosoedirdjo Poerbatjaraka Hadikoesoemo, R."))
        texts = [t for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        for t in texts:
            size = float(t.get("font-size"))
            estimate = len(t.text) * size * (BOLD_EM if t.get("font-weight") else 0.56)
            assert t.get("textLength") == str(TEXT_WIDTH) or estimate <= TEXT_WIDTH, (title, t.text)
            assert 0 < float(t.get("y")) <= 240 - 16, (title, t.text)
        assert len(texts) >= 2
    rid = load_records([dict(title=LONG, authors=["Sugiyono"])])[0]
    r = client.get(f"/cover/{rid}.svg")
    assert r.status_code == 200 and b"Metodologi" in r.data


def test_patron_category_in_one_language(app, client, login, make_patron):
    pid, card, pin = make_patron()
    login(card, pin)
    page = client.get("/account").get_data(as_text=True)
    assert "Mahasiswa" in page and "Student" not in page
    en = client.get("/account?hl=en").get_data(as_text=True)
    assert "Student" in en and "Mahasiswa" not in en
    assert client.get("/api/v1/me").get_json()["patron"]["category"] == "Student"  # the cookie keeps English


def test_services_spelled_their_way_and_reply_channel_in_the_interface_language(app, client):
    info = client.get("/info").get_data(as_text=True)
    assert ">YouTube<" in info and ">WhatsApp<" in info and "Youtube" not in info and "Whatsapp" not in info
    with app.test_request_context():
        assert str(ref.CHANNEL_LABELS["app"]) == "balas di aplikasi"


def test_login_next_has_no_stray_question_mark(client):
    r = client.get("/account/loans")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login?next=/account/loans")
    r = client.get("/account/loans?sort=due")
    assert "next=/account/loans?sort%3Ddue" in r.headers["Location"] or "next=/account/loans%3Fsort%3Ddue" in r.headers["Location"]


def test_record_paths_in_a_reply_become_links_and_nothing_else(app, client, login, make_patron, make_staff):
    with app.test_request_context():
        html = ref.sanitize_html("Lihat /record/12 dan /record/12/marc, https://evil.example/record/3, "
                                 "/record/1<script>alert(1)</script> atau <a href=\"javascript:x\">/record/4</a>")
    assert '<a href="/record/12" rel="noopener noreferrer">/record/12</a> dan /record/12/marc' in html
    assert 'https://evil.example/record/3' in html and 'href="https://evil' not in html
    assert "<script" not in html and "javascript" not in html
    assert html.count("<a ") == 3  # /record/12, /record/1 and the (now empty-href) link kept as text
    assert 'href="/record/4"' not in html  # an existing link's text is not turned into a second link


def test_low_data_mode_leaves_no_empty_cover_boxes(client, load_records):
    rid = load_records([dict(title="Bumi Manusia", authors=["Toer, Pramoedya Ananta"])])[0]
    normal = client.get("/search?q=bumi").get_data(as_text=True)
    assert 'class="cover"' in normal
    low = client.get("/search?q=bumi&lowdata=1").get_data(as_text=True)
    assert "Manusia" in low and 'class="cover' not in low and "cover-none" not in low
    assert f'href="/record/{rid}"' in low


def test_dates_use_one_form_with_a_machine_readable_time(app, client, login, make_patron, load_records):
    from opac.circulation import actions
    from opac.circulation.models import Loan

    load_records([dict(title="Bumi Manusia", items=[{"barcode": "D1", "location": "PUSAT"}])])
    pid, card, pin = make_patron()
    with app.test_request_context():
        assert actions.checkout(card, "D1")["ok"]
        due = db.session.scalar(select(Loan.due_date))
    login(card, pin)
    page = client.get("/account/loans").get_data(as_text=True)
    months = "Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des".split()
    shown = f"{due.day} {months[due.month - 1]} {due.year}"
    assert f'<time datetime="{due.isoformat()}">{shown}</time>' in page
    r = client.post("/account/loans/renew-all", data={"csrf_token": csrf_token(client), "idempotency_key": "d1"})
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\d">\d{1,2} [A-Z][a-z]{2} \d{4}</time>', r.get_data(as_text=True))
