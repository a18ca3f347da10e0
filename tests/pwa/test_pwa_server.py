"""Server side of the PWA: worker script, saved-list sync, share target, scanner, push, gzip, low data."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from sqlalchemy import select

from opac.accounts.models import PushSubscription, SavedRecord
from opac.extensions import db


def test_service_worker_is_versioned_and_lists_the_shell(client):
    r = client.get("/sw.js")
    assert r.status_code == 200 and r.mimetype == "application/javascript"
    assert r.headers["Service-Worker-Allowed"] == "/" and r.headers["Cache-Control"] == "no-cache"
    body = r.get_data(as_text=True)
    assert "__VERSION__" not in body and "__PRECACHE__" not in body
    precache = json.loads(body.split("const PRECACHE = ")[1].split(";\n")[0])
    assert {"/offline/id", "/offline/en", "/saved/id", "/saved/en"} <= set(precache)
    assert any(p.startswith("/assets/app.") and p.endswith(".css") for p in precache)
    modules = sorted(p.name for p in (Path(__file__).parents[2] / "static" / "pwa" / "js").glob("*.js"))
    precached = sorted(p.split("/")[-1].split(".")[0] + ".js" for p in precache if p.startswith("/assets/js/"))
    assert precached == modules  # every module, so the app starts offline
    for url in precache:  # everything precached must load, or the worker would not install
        assert client.get(url).status_code == 200, url


def test_modules_are_served_hashed_with_their_imports_hashed(client):
    """A module worker and module pages: every relative import is rewritten to a hashed URL that
    serves; the page preloads all that its entry module imports."""
    page = client.get("/").get_data(as_text=True)
    entry = page.split('<script type="module" src="')[1].split('"')[0]
    assert entry.startswith("/assets/js/app.")

    def graph(start):
        seen, todo = set(), [start]
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            r = client.get(url)
            assert r.status_code == 200 and "javascript" in r.mimetype, url
            body = r.get_data(as_text=True)
            assert not re.search(r'from\s*"\.', body) and not re.search(r'^import\s*"\.', body, re.M), url
            if url != "/sw.js":
                assert "immutable" in r.headers["Cache-Control"]
            todo += re.findall(r'from\s*"(/assets/js/[^"]+)"', body)
        return seen - {start}

    imported = graph(entry)
    assert any("/assets/js/store." in u for u in imported) and len(imported) > 10
    assert set(re.findall(r'<link rel="modulepreload" href="([^"]+)"', page)) == imported
    assert any("/assets/js/routes." in u for u in graph("/sw.js"))  # the worker's own rules
    assert client.get(entry.replace("/app.", "/app.0")).status_code == 404


def test_offline_shell_in_each_language_sets_no_language_cookie(client):
    en = client.get("/offline/en")
    assert en.status_code == 200 and "Set-Cookie" not in en.headers
    text = en.get_data(as_text=True)
    assert '<html lang="en"' in text and "You are offline" in text and 'name="library-time-zone" content="Asia/Jakarta"' in text
    assert 'id="offline-topics"' in text and "Finding materials" in text
    ind = client.get("/offline/id").get_data(as_text=True)
    assert '<html lang="id"' in ind and "Anda sedang luring" in ind and "Simpan dan kirim saat daring" in ind
    assert client.get("/offline/xx").status_code == 404
    assert '<html lang="en"' in client.get("/saved/en").get_data(as_text=True)


def test_release_file_changes_the_worker_version(app, client, tmp_path):
    release = tmp_path / "release"
    release.write_text("a")
    app.config["PWA_RELEASE_FILE"] = str(release)
    def version():
        return next(line for line in client.get("/sw.js").get_data(as_text=True).splitlines()
                    if line.startswith("const VERSION"))

    v1 = version()
    release.write_text("b")
    assert version() != v1


def test_hashed_assets_are_immutable(client):
    page = client.get("/").get_data(as_text=True)
    css = page.split('rel="stylesheet" href="')[1].split('"')[0]
    r = client.get(css)
    assert r.status_code == 200 and "immutable" in r.headers["Cache-Control"]
    assert client.get(css.replace(".css", "x.css")).status_code == 404


def test_offline_shell_and_saved_pages_are_public(client):
    for url in ("/offline", "/saved"):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"


def test_saved_list_sync(app, client, login, make_patron, load_records, api):
    ids = load_records([dict(title="Satu"), dict(title="Dua"), dict(title="Tiga")])
    pid, card, pin = make_patron()
    login(card, pin)
    r = api.post("/api/v1/saved/sync", json={"add": [ids[0], ids[1], 999999], "remove": []})
    assert [s["title"] for s in r.get_json()["saved"]] == ["Satu", "Dua"]
    r = api.post("/api/v1/saved/sync", json={"add": [ids[2], ids[0]], "remove": [ids[1]]})
    assert sorted(s["title"] for s in r.get_json()["saved"]) == ["Satu", "Tiga"]
    with app.app_context():
        assert {s.record_id for s in db.session.scalars(select(SavedRecord))} == {ids[0], ids[2]}


def test_share_target_and_scan(client, load_records):
    [rid] = load_records([dict(title="Laskar Pelangi", isbns=["9789793062792"])])
    r = client.get("/share", query_string={"title": "Lihat", "url": f"http://x/record/{rid}"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/record/{rid}")
    r = client.get("/share", query_string={"text": "buku laskar pelangi https://example.org/x"})
    assert "q=buku+laskar+pelangi" in r.headers["Location"]
    r = client.get("/scan", query_string={"isbn": "979-3062-79-7"})
    assert r.headers["Location"].endswith(f"/record/{rid}")
    r = client.get("/scan", query_string={"isbn": "9780000000002"})
    assert "/search?q=" in r.headers["Location"]
    assert "BarcodeDetector" not in client.get("/scan").get_data(as_text=True)  # plain page; the script enhances


def test_push_keys_subscribe_and_send_by_the_worker(app, client, login, make_patron, api, runner, monkeypatch,
                                                   load_records):
    res = runner.invoke(args=["push", "keys"])
    assert res.exit_code == 0 and "VAPID public key:" in res.output
    assert len(client.get("/api/v1/push/key").get_json()["public_key"]) > 80
    pid, card, pin = make_patron()
    login(card, pin)
    sub = {"endpoint": "https://push.example.org/abc", "keys": {"p256dh": "BPx" + "a" * 80, "auth": "x" * 22}}
    assert api.post("/api/v1/push/subscribe", json=sub).status_code == 200
    assert api.post("/api/v1/push/subscribe", json={"endpoint": "http://insecure"}).status_code == 400
    # keys are base64url and the endpoint printable: a NUL byte is refused, not a 500 on PostgreSQL
    for bad in ({**sub, "keys": {"p256dh": "BPx\x00" + "a" * 80, "auth": "x" * 22}},
                {**sub, "keys": {"p256dh": "BPx" + "a" * 80, "auth": "x y" * 8}},
                {**sub, "endpoint": "https://push.example.org/a\x00b"}):
        assert api.post("/api/v1/push/subscribe", json=bad).status_code == 400
    assert api.post("/api/v1/push/unsubscribe", json={"endpoint": "https://x/\x00"}).status_code == 200
    sent = []
    import pywebpush

    monkeypatch.setattr(pywebpush, "webpush", lambda **kw: sent.append(kw))
    [rid] = load_records([dict(title="Bumi Manusia", items=[{"barcode": "PU1", "location": "PUSAT"}])])
    other = make_patron()
    from opac.catalog.models import Location
    from opac.circulation import actions

    with app.test_request_context():
        db.session.scalar(select(Location)).is_pickup = True
        db.session.commit()
        assert actions.checkout(other[1], "PU1")["ok"]
        pickup = db.session.scalar(select(Location.id))
        assert actions.place_hold(pid, rid, pickup)["ok"]
        assert sent == []
        assert actions.checkin("PU1")["ok"]  # the hold is ready: a push message is queued
    assert sent == []  # no push service is called from a request
    from opac.notifications.worker import run

    with app.app_context():
        assert run(once=True) == {"push_sent": 1}
    assert len(sent) == 1
    payload = json.loads(sent[0]["data"])
    assert payload["kind"] == "hold_ready" and "Bumi Manusia" in payload["body"]
    assert sent[0]["subscription_info"]["endpoint"] == sub["endpoint"]
    with app.app_context():
        assert db.session.scalar(select(PushSubscription.patron_id)) == pid


def test_gzip_and_low_data(client, load_records):
    load_records([dict(title="Laskar Pelangi", items=["G1"])])
    r = client.get("/search?q=laskar", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in r.headers["Vary"]
    assert b"Laskar" in gzip.decompress(r.data)
    first = client.get("/search?q=laskar&lowdata=1")
    page = first.get_data(as_text=True)
    assert "/cover/" not in page and 'class="cover' not in page  # no empty boxes either
    assert "lowdata=1" in first.headers["Set-Cookie"]
    assert "/cover/" not in client.get("/search?q=laskar").get_data(as_text=True)  # remembered per device
    assert "/cover/" in client.get("/search?q=laskar&lowdata=0").get_data(as_text=True)
