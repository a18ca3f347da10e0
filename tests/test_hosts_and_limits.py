"""Deployment safety: absolute URLs from OPAC_BASE_URL only, trusted hosts, proxies, body limits,
HSTS, and the documented configuration defaults really in force."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from opac.extensions import db
from opac.mail import OutboxEmail

from .conftest import ROOT, csrf_token, staff_login


def _reset_mail(app):
    with app.app_context():
        return db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "password_reset")).all()


def test_forged_host_is_refused_before_a_reset_mail_is_written(app, client, make_patron):
    _, card, _ = make_patron(email="victim@example.org")
    token = csrf_token(client)
    r = client.post("/password-reset", data={"card_or_email": card, "csrf_token": token},
                    headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert _reset_mail(app) == []


def test_forwarded_host_never_reaches_a_link(app, client, make_patron):
    _, card, _ = make_patron(email="victim@example.org")
    r = client.post("/password-reset", data={"card_or_email": card, "csrf_token": csrf_token(client)},
                    headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"})
    assert r.status_code == 303
    (mail,) = _reset_mail(app)
    links = re.findall(r"\w+://\S+", mail.body)
    assert links and all(link.startswith("https://opac.test/password-reset/") for link in links)
    assert "evil.example" not in mail.body


def test_absolute_urls_in_pages_and_feeds_use_the_base_url(client, make_record):
    rid = make_record(title="Laskar Pelangi")
    page = client.get(f"/record/{rid}", headers={"X-Forwarded-Host": "evil.example"}).get_data(as_text=True)
    assert f'content="https://opac.test/record/{rid}"' in page
    assert "evil.example" not in page
    feed = client.get("/new/feed.atom").get_data(as_text=True) if client.get("/new/feed.atom").status_code == 200 else ""
    assert "evil.example" not in feed


def test_no_code_builds_absolute_urls_from_the_request():
    """Every absolute URL goes through opac.urls (BASE_URL); url_for(_external=True) would use Host."""
    offenders = []
    for path in list((ROOT / "opac").rglob("*.py")) + list((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for bad in ("_external=True", "host_url", "url_root"):
            if bad in text and path.name != "urls.py":
                offenders.append(f"{path.relative_to(ROOT)}: {bad}")
    assert offenders == []


@pytest.mark.parametrize("app_config", [{"BASE_URL": "https://perpustakaan.example.ac.id"}])
def test_trusted_hosts_default_to_the_base_url_host(app, client):
    assert app.config["TRUSTED_HOSTS"] == ["perpustakaan.example.ac.id", "localhost", "127.0.0.1"]
    assert client.get("/", headers={"Host": "perpustakaan.example.ac.id"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


@pytest.mark.parametrize("app_config", [{"PROXY_COUNT": 1, "LOGIN_MAX_ATTEMPTS_PER_IP": 3}])
def test_spoofed_forwarded_for_does_not_escape_the_ip_throttle(client):
    """Behind one proxy the client's own X-Forwarded-For entries are ignored: the proxy's is used."""
    statuses = []
    for i in range(5):
        r = client.post("/login", data={"card": f"nobody{i}", "pin": "8642", "csrf_token": csrf_token(client)},
                        headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"})
        statuses.append(r.status_code)
    assert statuses[:3] == [400, 400, 400]
    assert all(s == 429 for s in statuses[3:]), statuses


@pytest.mark.parametrize("app_config", [{"LOGIN_MAX_ATTEMPTS_PER_IP": 3}])
def test_without_proxies_forwarded_for_is_ignored(client):
    statuses = []
    for i in range(4):
        r = client.post("/login", data={"card": f"nobody{i}", "pin": "8642", "csrf_token": csrf_token(client)},
                        headers={"X-Forwarded-For": f"198.51.100.{i}"})
        statuses.append(r.status_code)
    assert statuses[-1] == 429, statuses


def test_oversized_bodies_get_413_before_they_are_read(client):
    big = json.dumps({"question": "x" * (2 * 1024 * 1024)})
    r = client.post("/api/v1/ask", data=big, content_type="application/json",
                    headers={"X-CSRFToken": csrf_token(client)})
    assert r.status_code == 413
    r = client.post("/staff/import", data={"csrf_token": "x", "file": (Path(__file__).open("rb"), "a.mrc"),
                                           "pad": "y" * (2 * 1024 * 1024)}, content_type="multipart/form-data")
    assert r.status_code == 413  # anonymous: the staff upload limit is not granted


def test_staff_upload_may_exceed_the_general_limit(app, client, make_admin):
    user, password, secret = make_admin()  # bulk imports are an admin's action
    staff_login(client, app, user, password, secret)
    lines = "\n".join(json.dumps({"id": f"BIG{i}", "title": f"Buku besar {i}", "notes": "n" * 400})
                      for i in range(3000)).encode()
    assert len(lines) > 1024 * 1024
    import io

    r = client.post("/staff/import", data={"csrf_token": csrf_token(client), "file": (io.BytesIO(lines), "big.jsonl")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    assert "3000" in r.get_data(as_text=True)


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    r = client.get("/", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize("app_config", [{"PROXY_COUNT": 1}])
def test_hsts_behind_a_tls_proxy(client):
    r = client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert "Strict-Transport-Security" in r.headers


def test_live_config_matches_every_documented_default(tmp_path, monkeypatch):
    """What opac/config.py documents is what create_app() runs with (Flask's own defaults used to win)."""
    import os

    from opac import config, create_app

    for name in list(os.environ):
        if name.startswith("OPAC_"):
            monkeypatch.delenv(name)
    given = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}", "SECRET_KEY": "k" * 32,
             "INDEX_DIR": str(tmp_path / "ix")}
    app = create_app(given)
    computed = {"TRUSTED_HOSTS"}  # derived from BASE_URL when None
    mismatched = {key: (app.config[key], value) for key, value in config.defaults().items()
                  if key not in given and key not in computed and app.config[key] != value}
    assert mismatched == {}
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]
    # and every documented key has its one line of documentation
    source = Path(config.__file__).read_text()
    undocumented = [key for key in config.defaults() if not re.search(rf"#:.*\n(?:#:.*\n|\w+: .*\n)*{key}\b", source)]
    assert undocumented == []
