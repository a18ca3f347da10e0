"""The deploy/ folder: the proxies' configurations parse, and every unit runs a real command of the app."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from opac import config
from tests.conftest import free_port
from tests.ops.conftest import HAPROXY, local_haproxy_config, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def test_haproxy_config_is_valid(tmp_path, certificate):
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy not installed (Debian package haproxy)")
    text = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    assert "/readyz" in text and "X-Request-ID" in text
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text.replace("/etc/haproxy/certs/opac.example.ac.id.pem", str(certificate["both"])))
    r = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALERT" not in r.stdout + r.stderr and "WARNING" not in r.stdout + r.stderr


def test_nginx_config_is_valid(tmp_path, certificate):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx not installed")
    text = (DEPLOY / "nginx" / "opac.conf").read_text()
    site = tmp_path / "opac.conf"
    site.write_text(text.replace("/etc/letsencrypt/live/opac.example.ac.id/fullchain.pem", str(certificate["cert"]))
                    .replace("/etc/letsencrypt/live/opac.example.ac.id/privkey.pem", str(certificate["key"]))
                    .replace("/var/log/nginx/", f"{tmp_path}/"))
    temp_paths = "\n".join(f"    {kind}_temp_path {tmp_path}/{kind};" for kind in
                           ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log {tmp_path}/access.log;\n{temp_paths}\n    include {site};\n}}\n")
    r = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                        "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[warn]" not in r.stderr and "[emerg]" not in r.stderr


def _exec_starts(unit: Path) -> list[list[str]]:
    lines = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line.lstrip("-@:+!")) for line in lines]


def test_there_is_a_unit_for_every_process():
    names = {u.name for u in UNITS}
    assert names == {"opac-web.service", "opac-index-follow.service", "opac-worker.service", "opac-notify.service",
                     "opac-backup.service"}
    timers = {t.name for t in (DEPLOY / "systemd").glob("*.timer")}
    assert timers == {"opac-notify.timer", "opac-backup.timer"}
    for timer in timers:
        assert "OnCalendar=" in (DEPLOY / "systemd" / timer).read_text()


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_exec_start_names_a_real_command(app, unit):
    text = unit.read_text()
    assert "EnvironmentFile=/etc/opac/opac.env" in text and "User=opac" in text
    commands = _exec_starts(unit)
    assert len(commands) == 1, "one ExecStart per unit"
    argv = commands[0]
    program = Path(argv[0]).name
    if program == "gunicorn":
        assert argv[1:] == ["-c", "gunicorn.conf.py", "wsgi:app"]
        assert (ROOT / "gunicorn.conf.py").is_file() and (ROOT / "wsgi.py").is_file()
        return
    assert program == "flask" and argv[1:3] == ["--app", "opac"], argv
    group: click.Command = app.cli
    words, rest = [], argv[3:]
    while isinstance(group, click.Group) and rest and not rest[0].startswith("-"):
        words.append(rest.pop(0))
        sub = group.commands.get(words[-1])
        if sub is None:
            pytest.fail(f"{unit.name}: `flask --app opac {' '.join(words)}` is not a command of the app")
        group = sub
    assert not isinstance(group, click.Group), f"{unit.name}: {' '.join(words)} is a group, not a command"
    # The arguments and options parse as the command declares them (without running it).
    group.make_context(" ".join(words), list(rest))


def _documented_keys() -> set[str]:
    keys = set(config.defaults()) | {"DATABASE_URL", "INDEX_DIR", "SECRET_KEY"}
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    keys |= {m.group(1) for m in re.finditer(r'"OPAC_([A-Z0-9_]+)"', gunicorn)}
    return keys


def test_environment_example_names_only_real_settings():
    text = (DEPLOY / "opac.env.example").read_text()
    named = set(re.findall(r"^#?\s*OPAC_([A-Z0-9_]+)=", text, flags=re.M))
    for required in ("BASE_URL", "DATABASE_URL", "INDEX_DIR", "SECRET_KEY", "PROXY_COUNT", "SESSION_COOKIE_SECURE"):
        assert re.search(rf"^OPAC_{required}=", text, flags=re.M), f"OPAC_{required} must be set in the example"
    unknown = named - _documented_keys()
    assert not unknown, f"not settings of the app: {sorted(unknown)}"


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    import sys

    venv_bin = str(Path(sys.executable).parent) + "/"
    (tmp_path / "opac.env").write_text("")
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/opac/.venv/bin/", venv_bin)
        (tmp_path / unit.name).write_text(text.replace("/etc/opac/opac.env", str(tmp_path / "opac.env")))
    files = sorted(str(p) for p in tmp_path.iterdir() if p.suffix in (".service", ".timer"))
    r = subprocess.run([analyze, "verify", "--man=no", *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


def test_environment_example_loads_as_typed_settings(tmp_path):
    """Sourced by sh (as the README does; systemd reads the same syntax), the example gives typed values."""
    import json
    import sys

    example = (DEPLOY / "opac.env.example").read_text()
    # The commented examples too, so that their quoting is checked.
    example = re.sub(r"^# (OPAC_(?:TRUSTED_HOSTS|HSTS_SECONDS)=)", r"\1", example, flags=re.M)
    env_file = tmp_path / "opac.env"
    env_file.write_text(example.replace("/var/lib/opac/index", str(tmp_path / "index")))
    probe = ("import json; from opac import create_app; c = create_app().config; print(json.dumps({k: c[k] for k in "
             "('BASE_URL', 'PROXY_COUNT', 'SESSION_COOKIE_SECURE', 'TRUSTED_HOSTS', 'HSTS_SECONDS', 'LOG_JSON', "
             "'LIBRARY_NAME', 'SECRET_KEY')}))")
    r = subprocess.run(["sh", "-c", f'set -a; . "{env_file}"; set +a; exec "{sys.executable}" -c "$0"', probe],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout.strip().splitlines()[-1])
    assert c["BASE_URL"] == "https://opac.example.ac.id" and c["PROXY_COUNT"] == 1 and c["LOG_JSON"] is True
    assert c["SESSION_COOKIE_SECURE"] is True and c["HSTS_SECONDS"] == 31536000
    assert c["TRUSTED_HOSTS"][0] == "opac.example.ac.id" and c["LIBRARY_NAME"] == "Perpustakaan Universitas Contoh"
    assert c["SECRET_KEY"] == "CHANGE-ME"


# ----------------------------------------------------------------------------- the examples, running


@pytest.fixture
def served_app(app):
    """The app behind one proxy (OPAC_PROXY_COUNT=1), served by werkzeug in a thread on loopback."""
    import threading

    from werkzeug.serving import make_server

    app.config.update(PROXY_COUNT=1, BASE_URL="https://opac.example.ac.id",
                      TRUSTED_HOSTS=["opac.example.ac.id", "localhost", "127.0.0.1"])
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # what create_app does when PROXY_COUNT=1
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def test_nginx_example_in_front_of_the_app(tmp_path, certificate, served_app):
    import requests
    import urllib3

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx not installed")
    urllib3.disable_warnings()
    http_port, https_port = free_port(), free_port()
    text = (DEPLOY / "nginx" / "opac.conf").read_text()
    text = re.sub(r"^\s*listen \[::\]:.*\n", "", text, flags=re.M)
    text = (text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
            .replace("server 127.0.0.1:8000", f"server 127.0.0.1:{served_app}")
            .replace("/etc/letsencrypt/live/opac.example.ac.id/fullchain.pem", str(certificate["cert"]))
            .replace("/etc/letsencrypt/live/opac.example.ac.id/privkey.pem", str(certificate["key"]))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "opac.conf").write_text(text)
    temp_paths = "\n".join(f"    {kind}_temp_path {tmp_path}/{kind};" for kind in
                           ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\nworker_processes 1;\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{temp_paths}\n    include {tmp_path}/opac.conf;\n}}\n")
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(https_port, proc)
        base = f"https://127.0.0.1:{https_port}"
        host = {"Host": "opac.example.ac.id"}
        r = requests.get(f"http://127.0.0.1:{http_port}/search?q=x", headers=host, allow_redirects=False, timeout=10)
        assert r.status_code == 301 and r.headers["Location"] == "https://opac.example.ac.id/search?q=x"

        r = requests.get(base + "/ask/t/thread-secret-9876", verify=False, timeout=30,
                         headers={**host, "X-Request-ID": "forged-by-the-client"})
        assert r.status_code == 404
        rid = r.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)  # nginx's $request_id, not the client's
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")  # HTTPS seen through the proxy

        r = requests.get(base + "/api/v1/session", verify=False, timeout=30, headers={"Host": "evil.example.com"})
        assert r.status_code == 400  # not a trusted host
    finally:
        proc.terminate()
        proc.wait(10)
    log = (tmp_path / "opac.access.log").read_text()
    line = next(line for line in log.splitlines() if rid in line)
    assert "/ask/t/[redacted]" in line and "thread-secret-9876" not in log


def test_haproxy_example_in_front_of_two_nodes(tmp_path, certificate):
    """HAProxy checks /readyz, passes only nodes that answer 200, sets X-Request-ID itself, redacts its log."""
    import http.server
    import json
    import threading
    import time

    import requests
    import urllib3

    urllib3.disable_warnings()
    seen: list[dict] = []

    def node(ready: bool):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path == "/readyz":
                    self.send_response(200 if ready else 503)
                    self.end_headers()
                    return
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                body = json.dumps({"node": "ready" if ready else "lagging"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    good, lagging = node(True), node(False)
    http_port, https_port = free_port(), free_port()
    text = local_haproxy_config(certificate, http_port, https_port, [good.server_port, lagging.server_port])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(https_port, proc)
        time.sleep(1.0)  # a few health checks
        nodes, ids = set(), set()
        for _ in range(6):
            r = requests.get(f"https://127.0.0.1:{https_port}/password-reset/reset-secret-5555", verify=False,
                             timeout=10, headers={"Host": "opac.example.ac.id", "X-Request-ID": "forged-by-client"})
            assert r.status_code == 200, r.text
            nodes.add(r.json()["node"])
        assert nodes == {"ready"}  # the node whose /readyz says 503 gets nothing
        for request in seen:
            assert request["x-forwarded-proto"] == "https" and request["x-forwarded-for"] == "127.0.0.1"
            assert request["x-request-id"] != "forged-by-client"
            ids.add(request["x-request-id"])
        assert len(ids) == 6
        r = requests.get(f"http://127.0.0.1:{http_port}/", allow_redirects=False, timeout=10)
        assert r.status_code == 301 and r.headers["Location"].startswith("https://")
    finally:
        proc.terminate()
        try:
            _out, err = proc.communicate(timeout=10)
        finally:
            good.shutdown()
            lagging.shutdown()
    assert "/password-reset/[redacted]" in err and "reset-secret-5555" not in err
    assert any(i in err for i in ids)


def test_a_gunicorn_worker_freezes_its_start_and_collects_young_objects_less_often():
    """Each commit of the follower used to send a worker's collector through all its cached
    objects again and again (bench/ops_bench.py: 0.36 ms of a 3.2 ms search); the worker hook
    moves the start's objects out of its sight and raises the young generation's threshold."""
    import gc
    import runpy

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        conf["post_worker_init"](None)
        assert gc.get_threshold() == (conf["GC_YOUNG_THRESHOLD"], *before[1:])
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_preloaded_code_is_imported_before_the_fork_and_a_reload_after_an_upgrade_says_to_restart():
    """OPAC_PRELOAD_CODE: the master imports every module of the app (not its migrations), freezes their
    objects out of the collector's sight, and keeps their files' times; a reload after a file changed
    forks workers from the old code, so it logs an error that says to restart. Gunicorn runs its config
    file again on a reload: the reloaded hooks still know what the start imported. Without a change a
    reload logs nothing."""
    import gc
    import runpy
    import sys

    class Log:
        def __init__(self):
            self.lines = []

        def info(self, msg, *args):
            self.lines.append(("info", msg % args))

        def error(self, msg, *args):
            self.lines.append(("error", msg % args))

    server = type("Server", (), {"log": Log()})()
    started = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    frozen = gc.get_freeze_count()
    try:
        started["_preload_code"](server)
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
    assert "opac.staff.views" in sys.modules and "opac.oai.views" in sys.modules
    source = str(ROOT / "opac" / "search" / "engine.py")
    assert source in started["_master"](server)["preloaded"]
    assert server.log.lines[-1][0] == "info"

    reloaded = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # what gunicorn does on a HUP
    reloaded["on_reload"](server)
    assert [level for level, _ in server.log.lines] == ["info"]
    assert reloaded["_master"](server) is started["_master"](server)

    reloaded["_master"](server)["preloaded"][source] -= 1  # as if the file had been replaced after the start
    reloaded["on_reload"](server)
    level, line = server.log.lines[-1]
    assert level == "error" and "engine.py" in line and "systemctl restart opac-web" in line


@pytest.mark.parametrize(("raw", "on"), [("true", True), ("False", False), ("off", False), ("1", True), ("no", False)])
def test_gunicorns_switches_read_the_environment_as_the_app_does(monkeypatch, raw, on):
    import runpy

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setenv("OPAC_PRELOAD_CODE", raw)
    assert conf["_setting"]("PRELOAD_CODE") is on
    monkeypatch.setenv("OPAC_PRELOAD_CODE", "sometimes")
    with pytest.raises(ValueError, match="OPAC_PRELOAD_CODE='sometimes': expected true or false"):
        conf["_setting"]("PRELOAD_CODE")
