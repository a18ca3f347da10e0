"""New arrivals, news, feeds, and the promotion page."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.conftest import csrf_token


def test_new_arrivals_page_and_feed(client, load_records):
    load_records([dict(title="Buku Lama", year=1990), dict(title="Buku <Baru> & Segar", year=2024)])
    page = client.get("/new").get_data(as_text=True)
    assert page.index("Buku &lt;Baru&gt; &amp; Segar") < page.index("Buku Lama")  # newest first
    feed = client.get("/new.atom")
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.data)
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title") for e in root.findall("{http://www.w3.org/2005/Atom}entry")]
    assert titles[0] == "Buku <Baru> & Segar" and "Buku Lama" in titles


def test_news_admin_public_feed_and_promotion(app, client, make_staff, load_records):
    load_records([dict(title="Laskar Pelangi", authors=["Hirata, Andrea"], year=2005)])
    user, password = make_staff()
    staff = app.test_client()
    staff.post("/staff/login", data={"username": user, "password": password, "csrf_token": csrf_token(staff)})
    r = staff.post("/staff/news", data={"title": "Jam buka Ramadan", "body": "Buka 08.00–15.00 <script>x()</script>",
                                        "published": "on", "csrf_token": csrf_token(staff)})
    assert r.status_code == 303
    staff.post("/staff/news", data={"title": "Draf", "body": "belum", "csrf_token": csrf_token(staff)})
    assert "Jam buka Ramadan" in client.get("/").get_data(as_text=True)
    news = client.get("/news").get_data(as_text=True)
    assert "Jam buka Ramadan" in news and "Draf" not in news
    post = client.get("/news/1").get_data(as_text=True)
    assert "<script>" not in post.split("<main", 1)[1]
    assert client.get("/news/2").status_code == 404  # drafts are not public
    assert b"Jam buka Ramadan" in client.get("/news.atom").data
    promo = staff.get("/staff/promote").get_data(as_text=True)
    assert "https://wa.me/?text=" in promo and "twitter.com/intent/tweet" in promo and "Laskar Pelangi" in promo
    assert client.get("/staff/promote").status_code == 302  # staff only
