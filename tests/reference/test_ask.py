"""Ask a librarian: threads, replies and e-mail, privacy, spam defences, staff queue, FAQ."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from opac.catalog.models import utcnow
from opac.extensions import db
from opac.mail import OutboxEmail
from opac.reference import services
from opac.reference.models import FaqEntry, Question
from tests.conftest import HttpUser, csrf_token, run_at_once


@pytest.fixture
def app_config():
    return {"ASK_MIN_SECONDS": 0, "LIVE_SERVER_ENV": {"ASK_MAX_PER_IP": 3}}


@pytest.fixture
def faq(app):
    from opac.demo.faq import load_faq

    with app.app_context():
        load_faq()
        db.session.commit()


def stamp(client, seconds_ago=10):
    page = client.get("/ask").get_data(as_text=True)
    return re.search(r'name="ts" value="([^"]+)"', page).group(1)


def ask(client, text="Apakah perpustakaan punya buku Laskar Pelangi edisi bahasa Inggris?", **fields):
    data = {"question": text, "category": "finding", "name": "Ani", "email": "ani@example.org", "channel": "email",
            "csrf_token": csrf_token(client), "ts": stamp(client), "website": ""}
    data.update(fields)
    return client.post("/ask", data=data)


def staff_login(client, make_staff):
    user, password = make_staff()
    client.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(client)})


def test_anonymous_ask_staff_reply_patron_sees_it_and_email_is_sent(app, client, make_staff):
    r = ask(client)
    assert r.status_code == 200
    link = re.search(r'href="(https://opac.test/ask/t/[^"]+)"', r.get_data(as_text=True)).group(1)
    with app.app_context():
        q = db.session.scalar(select(Question))
        assert q.status == "received" and q.token in link and len(q.token) >= 40
        received = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "ask_received"))
        assert received.to == "ani@example.org" and link in received.body
        qid = q.id
    staff = app.test_client()
    staff_login(staff, make_staff)
    r = staff.post(f"/staff/questions/{qid}", data={"action": "reply", "csrf_token": csrf_token(staff),
                                                    "body": "Ada: <strong>The Rainbow Troops</strong>, lihat <a href=\"/record/1\">katalog</a>."})
    assert r.status_code in (200, 303)
    path = link.replace("https://opac.test", "")
    page = client.get(path).get_data(as_text=True)
    assert "<strong>The Rainbow Troops</strong>" in page and "Dijawab" in page or "Answered" in page
    with app.app_context():
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "ask_reply"))
        assert mail.to == "ani@example.org" and "The Rainbow Troops" in mail.body and link in mail.body
        assert db.session.get(Question, qid).first_reply_at is not None
    # the asker follows up in the same thread
    r = client.post(path, data={"message": "Terima kasih, bisa dipesan?", "csrf_token": csrf_token(client)})
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(Question, qid).status == "received"


def test_logged_in_patron_asks_and_finds_it_in_my_account(app, client, login, make_patron, make_staff):
    pid, card, pin = make_patron(email="siti@example.org")
    login(card, pin)
    page = client.get("/ask").get_data(as_text=True)
    assert 'value="siti@example.org"' in page  # prefilled
    ask(client, email="", name="", channel="app")
    mine = client.get("/account/questions").get_data(as_text=True)
    qid = int(re.search(r"/account/questions/(\d+)", mine).group(1))
    staff = app.test_client()
    staff_login(staff, make_staff)
    staff.post(f"/staff/questions/{qid}", data={"action": "reply", "body": "Jawaban untuk Siti", "csrf_token": csrf_token(staff)})
    assert "Jawaban untuk Siti" in client.get(f"/account/questions/{qid}").get_data(as_text=True)


def test_threads_are_private(app, client, login, make_patron, make_staff):
    pid, card, pin = make_patron()
    login(card, pin)
    ask(client, channel="app", text="Pertanyaan rahasia milik pemilik akun ini")
    with app.app_context():
        q = db.session.scalar(select(Question))
        qid, token = q.id, q.token
    other = app.test_client()
    _, card2, pin2 = make_patron()
    t = csrf_token(other)
    other.post("/login", data={"card": card2, "pin": pin2, "csrf_token": t})
    assert other.get(f"/account/questions/{qid}").status_code == 404
    assert "rahasia" not in other.get("/account/questions").get_data(as_text=True)
    anon = app.test_client()
    assert anon.get(f"/account/questions/{qid}").status_code == 302
    for guess in (str(qid), token[:-1] + ("A" if token[-1] != "A" else "B"), token[:20], "x" * 43):
        assert anon.get(f"/ask/t/{guess}").status_code == 404
        assert anon.get(f"/api/v1/ask/t/{guess}").status_code == 404
    assert anon.get(f"/staff/questions/{qid}").status_code == 302  # the staff queue refuses non-staff
    assert other.get(f"/staff/questions/{qid}").status_code == 302
    assert other.get("/staff/questions").status_code == 302
    assert anon.get(f"/ask/t/{token}").status_code == 200  # the holder of the link can read it


def test_script_in_question_or_reply_renders_inert(app, client, make_staff):
    evil = '<script>alert("q")</script><img src=x onerror=alert(1)> tolong bantu saya'
    r = ask(client, text=evil, name='<b onmouseover="x()">Eve</b>')
    link = re.search(r'href="https://opac.test(/ask/t/[^"]+)"', r.get_data(as_text=True)).group(1)
    with app.app_context():
        qid = db.session.scalar(select(Question.id))
    staff = app.test_client()
    staff_login(staff, make_staff)
    queue = staff.get("/staff/questions").get_data(as_text=True)
    assert "<script>alert" not in queue and "&lt;script&gt;" in queue
    staff.post(f"/staff/questions/{qid}", data={"action": "reply", "csrf_token": csrf_token(staff),
                                                "body": '<p onclick="x()">Ok <script>alert(2)</script><a href="javascript:alert(3)">klik</a> '
                                                        '<a href="https://example.org">aman</a></p>'})
    for page in (client.get(link).get_data(as_text=True), staff.get(f"/staff/questions/{qid}").get_data(as_text=True)):
        body = page.split("<main", 1)[1]
        assert "<script>alert" not in body and "onerror=" not in body.replace("onerror=alert(1)&gt;", "")
        assert "onclick" not in body and "javascript:" not in body and "onmouseover=\"" not in body
        assert '<a href="https://example.org" rel="noopener noreferrer">aman</a>' in body or "aman" in body
    thread = client.get(link.replace("/ask/t/", "/api/v1/ask/t/")).get_json()
    assert "<script>" not in str(thread)


def test_spam_honeypot_and_too_fast_are_not_stored(app, client):
    app.config["ASK_MIN_SECONDS"] = 3
    r = ask(client, website="http://spam.example")
    assert r.status_code == 200  # looks like success to a bot
    fresh = client.get("/ask").get_data(as_text=True)
    ts = re.search(r'name="ts" value="([^"]+)"', fresh).group(1)
    r = ask(client, ts=ts)  # sent at once
    assert r.status_code == 200
    r = ask(client, ts="forged")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_rate_limits_per_ip_and_contact(app, client):
    app.config.update(ASK_MAX_PER_IP=4, ASK_MAX_PER_CONTACT=2)
    codes = [ask(client, email="same@example.org").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    codes = [ask(client, email=f"u{i}@example.org").status_code for i in range(3)]
    # the IP allowed 4 questions in all (a refused attempt is rolled back with its question, so it
    # does not use up another limit's quota)
    assert codes == [200, 200, 429]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 4


def test_validation_messages_and_no_header_injection(app, client):
    assert ask(client, text="hi").status_code == 400
    assert ask(client, email="a@b.c\r\nBcc: victim@example.org").status_code == 400
    assert ask(client, channel="whatsapp", whatsapp="").status_code == 400
    r = ask(client, text="x" * 5000)
    assert r.status_code == 400
    with app.test_request_context():
        from opac.mail import header_safe, queue_email

        assert queue_email("a@example.org\nBcc: x@example.org", "s", "b") is None
        assert "\n" not in header_safe("Hello\r\nBcc: x@example.org")


def test_staff_actions_claim_note_close_reopen_faq_and_stats(app, client, make_staff):
    ask(client)
    with app.app_context():
        qid = db.session.scalar(select(Question.id))
    staff = app.test_client()
    staff_login(staff, make_staff)
    post = lambda action, **kw: staff.post(f"/staff/questions/{qid}", data={"action": action, "csrf_token": csrf_token(staff), **kw})  # noqa: E731
    post("claim")
    post("note", body="Cek dulu di gudang")
    assert "Cek dulu di gudang" not in client.get(_thread_path(app, qid)).get_data(as_text=True)  # internal
    post("reply", body="Sudah kami cek: tersedia.")
    post("close")
    assert "ditutup" in client.get(_thread_path(app, qid)).get_data(as_text=True).lower() or "closed" in client.get(_thread_path(app, qid)).get_data(as_text=True).lower()
    post("reopen")
    r = post("faq")
    assert r.status_code == 303 and "/staff/faq/" in r.headers["Location"]
    with app.app_context():
        q = db.session.get(Question, qid)
        assert q.assignee_id is not None and q.status == "answered"
        entry = db.session.scalar(select(FaqEntry))
        assert entry.published is False and "tersedia" in entry.answer and entry.source_question_id == qid
    stats = staff.get("/staff/reference/stats").get_data(as_text=True)
    assert "Median" in stats or "Median" in stats.title() or "median" in stats.lower()
    assert staff.get("/staff/questions?status=open&category=finding&assignee=me&age=0").status_code == 200


def _thread_path(app, qid):
    with app.app_context():
        return f"/ask/t/{db.session.get(Question, qid).token}"


def test_faq_public_search_helpful_and_admin(app, client, make_staff, faq):
    page = client.get("/faq").get_data(as_text=True)
    assert "Bagaimana cara memperpanjang pinjaman?" in page
    hits = client.get("/faq?q=lupa pin").get_data(as_text=True)
    assert "lupa PIN" in hits and "Wi-Fi" not in hits
    with app.app_context():
        fid = db.session.scalar(select(FaqEntry.id).where(FaqEntry.question.like("%lupa PIN%")))
    r = client.post(f"/faq/{fid}/helpful", json={}, headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"})
    assert r.get_json()["ok"] is True
    sug = client.get("/api/v1/ask/suggest?q=saya lupa pin kartu").get_json()
    assert sug["faqs"][0]["id"] == fid
    staff = app.test_client()
    staff_login(staff, make_staff)
    r = staff.post("/staff/faq/new", data={"category": "other", "question": "Apakah boleh makan di perpustakaan?",
                                           "answer": "<p>Tidak, <script>x</script>hanya minum air putih.</p>",
                                           "published": "on", "csrf_token": csrf_token(staff)})
    assert r.status_code == 303
    assert "Apakah boleh makan" in client.get("/faq").get_data(as_text=True)
    with app.app_context():
        new = db.session.scalar(select(FaqEntry).where(FaqEntry.question.like("Apakah boleh makan%")))
        assert "<script>" not in new.answer
        order_before = [e.id for e in db.session.scalars(select(FaqEntry).where(FaqEntry.category == "account").order_by(FaqEntry.position))]
    staff.post(f"/staff/faq/{order_before[1]}/move", data={"direction": "up", "csrf_token": csrf_token(staff)})
    with app.app_context():
        after = [e.id for e in db.session.scalars(select(FaqEntry).where(FaqEntry.category == "account").order_by(FaqEntry.position))]
    assert after[:2] == [order_before[1], order_before[0]]


def test_info_page_shows_todays_status(app, client):
    page = client.get("/info").get_data(as_text=True)
    for text in ("Instagram", "Facebook", "YouTube", "WhatsApp", "+62 21 555 0100"):
        assert text in page
    with app.test_request_context():
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from opac.reference.views import opening_status

        tz = ZoneInfo("Asia/Jakarta")
        assert opening_status(datetime(2026, 11, 23, 9, 0, tzinfo=tz))["open_now"] is True  # Monday 09:00
        assert opening_status(datetime(2026, 11, 23, 21, 0, tzinfo=tz))["open_now"] is False
        assert opening_status(datetime(2026, 11, 22, 10, 0, tzinfo=tz))["today_hours"] is None  # Sunday


def test_retention_removes_personal_data_of_closed_threads(app, client):
    ask(client)
    with app.app_context():
        q = db.session.scalar(select(Question))
        q.status = "closed"
        q.closed_at = utcnow() - timedelta(days=200)
        db.session.commit()
        assert services.purge_old_threads() == 1
        db.session.commit()
        q = db.session.scalar(select(Question))
        assert q.email is None and q.name is None and q.purged_at is not None
        assert all("Laskar" not in m.body for m in q.messages)
        token = q.token
    assert client.get(f"/ask/t/{token}").status_code == 404


def test_api_ask_with_idempotency_key_creates_one_question(app, client):
    ts = stamp(client)
    body = {"question": "Bisakah saya meminjam laptop di perpustakaan?", "category": "facilities", "ts": ts,
            "channel": "app", "website": ""}
    h = {"X-CSRFToken": csrf_token(client), "Idempotency-Key": "offline-1"}
    r1 = client.post("/api/v1/ask", json=body, headers=h)
    r2 = client.post("/api/v1/ask", json=body, headers=h)
    assert r1.get_json()["thread_url"] == r2.get_json()["thread_url"] and r2.get_json()["replayed"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 1


@pytest.mark.slow
def test_spam_limits_hold_with_several_workers(app, live_server):
    users = [HttpUser(live_server) for _ in range(12)]
    page = users[0].get("/ask").text
    ts = re.search(r'name="ts" value="([^"]+)"', page).group(1)
    time.sleep(3.2)  # the form has been open long enough
    results = run_at_once([lambda u=u, i=i: u.post("/api/v1/ask", json={
        "question": f"Pertanyaan nomor {i} tentang koleksi", "category": "other", "ts": ts, "channel": "email",
        "email": f"p{i}@example.org"}) for i, u in enumerate(users)])
    codes = [r.status_code for r in results]
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Question))
    assert stored == codes.count(200) == 3  # ASK_MAX_PER_IP on the server, across its 4 workers
    assert codes.count(429) == 9


def test_suggest_offers_our_records_that_have_all_the_words(client, load_records):
    rid, _ = load_records([{"title": "Laskar Pelangi", "authors": ["Hirata, Andrea"], "items": ["B1"]},
                           {"title": "Sang Pemimpi", "authors": ["Hirata, Andrea"], "items": ["B2"]}])
    sug = client.get("/api/v1/ask/suggest", query_string={"q": "laskar pelangi, hirata?"}).get_json()
    assert sug["records"] == [{"id": rid, "title": "Laskar Pelangi", "authors": ["Hirata, Andrea"],
                               "url": f"/record/{rid}"}]
    # only some of the words match (the search falls back to any word): no record is offered
    assert client.get("/api/v1/ask/suggest", query_string={"q": "laskar kalkulus"}).get_json()["records"] == []
