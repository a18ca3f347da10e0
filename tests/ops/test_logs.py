"""Request ids (X-Request-ID) and the log format (text or JSON lines, secrets redacted from paths)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import uuid

import pytest

from opac.logs import make_handler, redact_path

from .test_backup import ROOT, prod_env

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app_config():
    return {"PROXY_COUNT": 0}


def test_every_response_has_a_fresh_request_id(client):
    a = client.get("/api/v1/session").headers["X-Request-ID"]
    b = client.get("/no-such-page").headers["X-Request-ID"]  # error pages too
    assert HEX32.fullmatch(a) and HEX32.fullmatch(b) and a != b


def test_a_client_cannot_choose_its_request_id_without_a_proxy(client):
    rid = client.get("/api/v1/session", headers={"X-Request-ID": "chosen-by-client-1234"}).headers["X-Request-ID"]
    assert rid != "chosen-by-client-1234" and HEX32.fullmatch(rid)


@pytest.mark.parametrize("offered, kept", [
    ("9f86d081884c7d659a2feaa0c55ad015", True),  # nginx $request_id
    ("0A000001:C35A_0A000002:1F90_6560C1A2_0003:1B2F", True),  # HAProxy unique-id
    ("short", False),
    ("x" * 200, False),
    ("two words here", False),
    ('ok-id-1234" level="CRITICAL', False),
])
def test_a_trusted_proxy_passes_its_request_id_when_it_looks_sane(app, offered, kept):
    app.config["PROXY_COUNT"] = 1
    client = app.test_client()
    rid = client.get("/api/v1/session", headers={"X-Request-ID": offered}).headers["X-Request-ID"]
    assert (rid == offered) is kept
    if not kept:
        assert HEX32.fullmatch(rid)


@pytest.mark.parametrize("path, shown", [
    ("/password-reset/Zk3-9_aa.bb", "/password-reset/[redacted]"),
    ("/ask/t/secret-thread-token", "/ask/t/[redacted]"),
    ("/api/v1/ask/t/secret-thread-token", "/api/v1/ask/t/[redacted]"),
    ("/ask/t/secret?hl=en", "/ask/t/[redacted]?hl=en"),
    ("/record/12?token=abc&x=1", "/record/12?token=[redacted]&x=1"),
    ("/password-reset", "/password-reset"),
    ("/search?q=ask/t/", "/search?q=ask/t/"),
])
def test_redact_path(path, shown):
    assert redact_path(path) == shown


def test_every_log_line_of_a_request_carries_its_id_and_a_redacted_path(app):
    stream = io.StringIO()
    handler = make_handler(stream, json_lines=True)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with app.test_request_context("/password-reset/very-secret-token", method="POST"):
            logging.getLogger("opac.test").warning("first")
            logging.getLogger("some.library").error("second")
            from opac.logs import request_id

            rid = request_id()
        logging.getLogger("opac.test").warning("outside")
        logging.getLogger("werkzeug").warning('127.0.0.1 - - "GET %s HTTP/1.1" 200 -', "/ask/t/thread-token-42?hl=en")
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["message"] for e in lines][:3] == ["first", "second", "outside"]
    assert lines[3]["message"] == '127.0.0.1 - - "GET /ask/t/[redacted]?hl=en HTTP/1.1" 200 -'
    assert "thread-token-42" not in stream.getvalue()
    for e in lines[:2]:
        assert e["request_id"] == rid and e["method"] == "POST" and e["path"] == "/password-reset/[redacted]"
        assert set(e) >= {"time", "level", "logger", "message", "request_id", "method", "path"}
    assert lines[2]["request_id"] is None and lines[2]["path"] is None
    assert "very-secret-token" not in stream.getvalue()


SCRIPT = textwrap.dedent("""
    import logging
    from opac import create_app

    app = create_app()
    log = logging.getLogger("opac.probe")

    @app.before_request
    def _probe():
        log.info("probe")

    client = app.test_client()
    for path, headers in [("/ask/t/thread-secret-123", {}), ("/api/v1/session", {"X-Request-ID": "edge-4f1c2b9e"})]:
        r = client.get(path, headers=headers)
        print("RID", r.headers["X-Request-ID"], flush=True)
    log.warning("after the requests")
""")


def _run_probe(tmp_path, **env_extra) -> tuple[list[str], list[str]]:
    env = prod_env(f"sqlite:///{tmp_path}/opac.sqlite", tmp_path, **env_extra)
    subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "flask")), "--app", "opac", "init-db"],
                   env=env, cwd=ROOT, check=True, capture_output=True)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("RID ")]
    return ids, [line for line in r.stderr.splitlines() if line.strip()]


def test_json_logs_in_production(tmp_path):
    ids, lines = _run_probe(tmp_path, OPAC_LOG_JSON="true", OPAC_PROXY_COUNT="1")
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    probes = [e for e in entries if e["message"] == "probe"]
    assert [e["request_id"] for e in probes] == ids
    assert HEX32.fullmatch(ids[0]) and ids[1] == "edge-4f1c2b9e"  # the proxy's id, since PROXY_COUNT=1
    assert probes[0]["path"] == "/ask/t/[redacted]" and probes[0]["method"] == "GET"
    assert probes[1]["path"] == "/api/v1/session" and probes[0]["logger"] == "opac.probe"
    after = [e for e in entries if e["message"] == "after the requests"]
    assert after and after[0]["request_id"] is None and after[0]["level"] == "WARNING"
    assert "thread-secret-123" not in "\n".join(lines)


def test_text_logs_carry_the_request_id(tmp_path):
    ids, lines = _run_probe(tmp_path, OPAC_SECRET_KEY="k-" + uuid.uuid4().hex)
    probes = [line for line in lines if line.endswith(" probe")]
    assert len(probes) == 2 and all(f"[{rid}]" in line for rid, line in zip(ids, probes, strict=True))
    assert ids[1] != "edge-4f1c2b9e"  # no proxy configured: the client's header is not trusted


def test_doctests_of_the_logs_module():
    import doctest

    import opac.logs

    assert doctest.testmod(opac.logs).failed == 0
