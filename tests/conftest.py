"""Shared fixtures: an app per test on a fresh database (SQLite, or PostgreSQL when
``OPAC_TEST_DATABASE_URL`` is set) and a fresh search index; record factories; shared data."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser import browser, playwright_instance  # noqa: E402,F401  (one browser per test process)

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("OPAC_TEST_DATABASE_URL", "")


def _reuse_url_builders() -> None:
    """Every test makes an app, and each app compiles its ~600 URL rules into builder functions
    (werkzeug generates and compiles Python code for each): most of the ``app`` fixture's time. A
    builder for a rule without defaults depends only on the rule's parsed parts, and takes the rule
    as its argument, so the test process compiles each such builder once and reuses it."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    builders: dict = {}

    def reused(self, append_unknown: bool = True):
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    Rule._compile_builder = reused


_reuse_url_builders()


def pytest_configure(config):
    """Compile the app's modules to bytecode once, before any test starts a process. Where
    ``PYTHONDONTWRITEBYTECODE`` is set (as on the CI machines) nothing else writes ``__pycache__``, so
    every gunicorn worker, follower and ``flask`` command the tests start compiled the app's 140 modules from
    source again: 0.3 s of a 1.9 s start-up, a sixth of a live server's set-up. Reading bytecode is not
    affected by the setting."""
    if not hasattr(config, "workerinput"):  # the controller (or the only process), not each xdist worker
        import compileall

        compileall.compile_dir(ROOT / "opac", quiet=2)

#: Fixtures that reach the database under test (a test without one of them in its closure gets the
#: same result on SQLite and on PostgreSQL). A fixture that reads OPAC_TEST_DATABASE_URL belongs here.
DATABASE_FIXTURES = ("template_database", "opac_url")


def uses_test_database(item) -> bool:
    return any(name in DATABASE_FIXTURES for name in getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The PostgreSQL pass (OPAC_TEST_DATABASE_URL set) runs only the tests that use the database
    under test: the others (analysis, lint, JavaScript, MARC parsing, commands on their own SQLite
    file...) already ran in the SQLite pass. Tests marked ``heavy`` go first, so that with ``-n 2``
    they start at once on different workers instead of one starting near the end."""
    if PG_URL:
        once = [item for item in items if not uses_test_database(item)]
        if once:
            config.hook.pytest_deselected(items=once)
            items[:] = [item for item in items if uses_test_database(item)]
    items.sort(key=lambda item: 0 if item.get_closest_marker("heavy") else 1)


def shared_data_dir() -> Path | None:
    candidates = [os.environ.get("OPAC_SHARED_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"]
    for c in candidates:
        if c and Path(c, "README.md").exists():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skipped on a fresh clone, a hard failure in CI (OPAC_REQUIRE_SHARED_DATA=1)."""
    path = shared_data_dir()
    if path is None:
        if os.environ.get("OPAC_REQUIRE_SHARED_DATA") == "1":
            pytest.fail("../shared/data is missing but this run requires it (OPAC_REQUIRE_SHARED_DATA=1)")
        pytest.skip("../shared/data not present (fresh clone outside the workplace)")
    return path


@pytest.fixture(scope="session", autouse=True)
def light_password_hashing():
    """PINs and passwords hashed and checked in the test process use Argon2id at its lightest cost:
    at the recommended cost each hash and each login takes 0.1-0.5 s, minutes over the suite.
    Subprocesses (commands, gunicorn) keep the production hasher; tests/test_cli.py checks its cost."""
    from argon2 import PasswordHasher

    from opac.accounts import services

    production = services._hasher
    services._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    services._dummy_hash.cache_clear()
    yield
    services._hasher = production
    services._dummy_hash.cache_clear()


def _worker() -> str:
    """Name of this test process's PostgreSQL database (OPAC_TEST_DB_PREFIX keeps parallel checkouts apart)."""
    return os.environ.get("OPAC_TEST_DB_PREFIX", "") + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """A migrated database to copy (SQLite) or to truncate (PostgreSQL) for each test."""
    from opac import create_app
    from opac.cli import upgrade_database

    if PG_URL:
        base = sa.make_url(PG_URL)
        name = f"opac_test_{_worker()}"
        admin = sa.create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # commits do not wait for the disk (a test database need not survive a crash of the
            # server): a commit took ~20 ms instead of ~3 on a busy machine, and a test commits often
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        admin.dispose()
        url = base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite"
        url = f"sqlite:///{path}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                      "INDEX_DIR": str(tmp_path_factory.mktemp("ix-template"))})
    with app.app_context():
        upgrade_database()
        from opac.extensions import db

        db.engine.dispose()
    return url


def _fresh_database(template_url: str, tmp_path: Path) -> str:
    if template_url.startswith("sqlite"):
        src = Path(template_url.removeprefix("sqlite:///"))
        dst = tmp_path / "opac.sqlite"
        shutil.copy(src, dst)
        return f"sqlite:///{dst}"
    engine = sa.create_engine(template_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            _empty_postgresql_tables(conn)
    except sa.exc.DBAPIError:  # a foreign-key cycle the ordered deletes cannot undo: empty everything
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in _pg_tables(conn)) + " CASCADE"))
    with engine.begin() as conn:
        for (seq,) in conn.execute(sa.text("SELECT quote_ident(sequencename) FROM pg_sequences "
                                           "WHERE schemaname = 'public' AND last_value IS NOT NULL")):
            conn.execute(sa.text(f"ALTER SEQUENCE {seq} RESTART"))
    engine.dispose()
    return template_url


def _pg_tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]


def _empty_postgresql_tables(conn) -> None:
    """Empty the tables the last test wrote (the sequences are restarted by the caller), as after
    the migrations. TRUNCATE of every table took over a second per test; a test writes a handful
    of tables, and DELETE of their rows, children first, takes milliseconds."""
    from opac.extensions import db

    tables = _pg_tables(conn)
    if not tables:
        return
    used = {r[0] for r in conn.execute(sa.text(" UNION ALL ".join(
        f"(SELECT '{t}' FROM \"{t}\" LIMIT 1)" for t in tables)))}
    order = [t.name for t in reversed(db.metadata.sorted_tables)]
    unknown = sorted(used - set(order))  # not among the models: no order known, TRUNCATE takes its dependants too
    if unknown:
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in unknown) + " CASCADE"))
    for t in order:
        if t in used:
            conn.execute(sa.text(f'DELETE FROM "{t}"'))


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Extra config for the ``app`` fixture (override in a test module)."""
    return {}


@pytest.fixture
def app(template_database, tmp_path, app_config):
    from opac import create_app
    from opac.extensions import db
    from opac.seed import seed_defaults

    url = _fresh_database(template_database, tmp_path)
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "INDEX_DIR": str(tmp_path / "index"),
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "BASE_URL": "https://opac.test",
        # a command run in this process (the CLI runner) would lower the test worker's CPU priority
        # for the rest of the run; commands' niceness is tested in subprocesses (tests/ops/test_priority.py)
        "BACKGROUND_NICE": 0,
    }
    config.update(app_config)
    app = create_app(config)
    with app.app_context():
        seed_defaults()
        db.session.commit()
        from opac.search import sync

        sync.rebuild(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        si = app.extensions.get("opac_search")
        if si:
            si.close()


def apply_index_changes(app) -> int:
    """Apply pending change-feed rows to the test's index now (what `index follow` does within
    a second); tests call it between a change and a search."""
    from opac.search import sync

    with app.app_context():
        return sync.follow_once(app, rebuild_if_needed=False)


@pytest.fixture
def sync_index(app):
    """``sync_index()`` applies the pending index changes (see ``apply_index_changes``)."""
    return lambda: apply_index_changes(app)


@pytest.fixture
def smtp():
    """A fake SMTP server on loopback that records what it receives (tests/notifications/fakes.py)."""
    from tests.notifications.fakes import FakeSmtp

    server = FakeSmtp()
    yield server
    server.close()


@pytest.fixture
def push_service():
    """A fake Web Push service on loopback that records what it receives."""
    from tests.notifications.fakes import FakePushService

    server = FakePushService()
    yield server
    server.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An application context for service-level tests."""
    with app.test_request_context():
        yield app


@pytest.fixture
def make_record(app):
    """Create (commit) a record with optional items: ``make_record(title=..., items=[...])``."""
    from opac.catalog.services import upsert_record
    from opac.extensions import db

    counter = {"n": 0}

    def factory(**fields):
        counter["n"] += 1
        base = {
            "control_number": f"T{counter['n']:05d}-{uuid.uuid4().hex[:6]}", "title": f"Record {counter['n']}",
            "authors": [], "subjects": [], "languages": ["ind"], "isbns": [], "issns": [], "series": [],
            "notes": [], "links": [], "material_type": "book", "items": [],
        }
        base.update(fields)
        base["items"] = [
            {"barcode": it} if isinstance(it, str) else it for it in base.get("items") or []
        ]
        with app.test_request_context():
            record, _outcome, _notes, _counts = upsert_record(base)
            db.session.commit()
            rid = record.id
        apply_index_changes(app)
        return rid

    return factory


@pytest.fixture
def search_api(app, client):
    def run(q="", **params):
        apply_index_changes(app)
        r = client.get("/api/v1/search", query_string={"q": q, **params})
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()

    return run


@pytest.fixture
def load_records(app):
    """Create many records in one transaction (one index update): returns their ids in order."""
    from opac.catalog.services import LocationCache, upsert_record
    from opac.extensions import db

    def load(rows: list[dict]) -> list[int]:
        ids = []
        with app.test_request_context():
            cache = LocationCache()
            for i, row in enumerate(rows):
                base = {"control_number": f"L{i:05d}-{uuid.uuid4().hex[:6]}", "authors": [], "subjects": [],
                        "languages": ["ind"], "isbns": [], "issns": [], "series": [], "notes": [], "links": [],
                        "material_type": "book", "items": []}
                base.update(row)
                base["authors"] = [a if isinstance(a, dict) else {"name": a, "role": "author", "kind": "person"}
                                   for a in base["authors"]]
                base["items"] = [{"barcode": it} if isinstance(it, str) else it for it in base["items"]]
                record, *_ = upsert_record(base, locations=cache)
                ids.append(record.id)
            db.session.commit()
        apply_index_changes(app)
        return ids

    return load


# ----------------------------------------------------------------------------- accounts & circulation helpers


_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture
def make_patron(app):
    """Create a patron (committed); returns (id, card, pin)."""
    from opac.accounts.services import create_patron
    from opac.extensions import db

    counter = {"n": 0}

    def factory(category="student", pin="2468", **kw):
        counter["n"] += 1
        # a unique card whose digits never end in the PIN (a card-tail PIN is refused as trivial)
        card = kw.pop("card", f"P{counter['n']:04d}{uuid.uuid4().hex[:4].translate(_NO_DIGITS)}")
        with app.test_request_context():
            p = create_patron(card, pin, kw.pop("name", f"Patron {counter['n']}"), category, **kw)
            db.session.commit()
            return p.id, card, pin

    return factory


@pytest.fixture
def make_staff(app):
    from opac.accounts.services import create_staff
    from opac.extensions import db

    def factory(username="librarian", password="correct-horse-battery", role="librarian"):
        with app.test_request_context():
            create_staff(username, password, username.title(), role)
            db.session.commit()
        return username, password

    return factory


def csrf_token(client) -> str:
    return client.get("/api/v1/session").get_json()["csrf_token"]


@pytest.fixture
def login(client):
    """Log the test client in as a patron through the real form (CSRF included)."""

    def do(card, pin):
        token = csrf_token(client)
        r = client.post("/login", data={"card": card, "pin": pin, "csrf_token": token})
        assert r.status_code == 303, r.get_data(as_text=True)[:500]
        return r

    return do


@pytest.fixture
def api(client):
    """JSON calls with the session's CSRF token: api.post(url, json=...)."""

    class Api:
        def get(self, url, **kw):
            return client.get(url, **kw)

        def post(self, url, json=None, headers=None):
            h = {"X-CSRFToken": csrf_token(client)}
            h.update(headers or {})
            return client.post(url, json=json or {}, headers=h)

    return Api()


# ----------------------------------------------------------------------------- a real server


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornNode:
    """The app under gunicorn (its embedded index follower included) on the test's database, as a
    deployment runs it: ``start()``, ``stop()`` (SIGTERM), ``kill()`` (SIGKILL to every process of
    the node). A node keeps its port across restarts; ``index_dir`` and ``env`` make each node of
    several its own. The master imports the app's code before it forks (``OPAC_PRELOAD_CODE``): a
    worker then boots in 0.1 s rather than 1 s of CPU."""

    def __init__(self, app, *, index_dir: str | None = None, workers: int = 4, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.index_dir = index_dir or app.config["INDEX_DIR"]
        self.env = dict(os.environ)
        self.env.update({
            "OPAC_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "OPAC_INDEX_DIR": self.index_dir,
            "OPAC_SECRET_KEY": app.config["SECRET_KEY"], "OPAC_LOGIN_MAX_ATTEMPTS": str(app.config["LOGIN_MAX_ATTEMPTS"]),
            "OPAC_BIND": f"127.0.0.1:{self.port}", "OPAC_WORKERS": str(workers),
            "OPAC_PRELOAD_CODE": "true",
        })
        self.env.update({f"OPAC_{k}": str(v) for k, v in app.config.get("LIVE_SERVER_ENV", {}).items()})
        self.env.update(env or {})
        self.proc = None
        with app.app_context():
            from opac.extensions import db

            db.engine.dispose()

    def start(self, ready_path: str = "/api/v1/session", timeout: float = 60) -> GunicornNode:
        """Start gunicorn and wait until ``ready_path`` answers 200."""
        import subprocess
        import sys
        import time

        import requests

        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        log = open(os.environ.get("OPAC_TEST_SERVER_LOG", os.devnull), "ab")
        self.proc = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        while True:
            try:
                if requests.get(self.base + ready_path, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.kill()
                raise RuntimeError("gunicorn did not start (set OPAC_TEST_SERVER_LOG to see why)")
            time.sleep(0.3)

    def _signal_all(self, sig) -> None:
        import signal

        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:  # the follower and workers are in the group too: all die at once
            self.proc.wait()

    def kill(self) -> None:
        import signal

        self._signal_all(signal.SIGKILL)

    def stop(self) -> None:
        import signal
        import subprocess

        self._signal_all(signal.SIGTERM)
        try:
            # a browser that keeps a connection open holds a graceful shutdown for gunicorn's full
            # graceful_timeout; the tests need no more than a few seconds of grace
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def live_server(app, request):
    """The app under gunicorn with 4 sync workers (2 for a browser test: one person's requests),
    on the test's database and index."""
    import time

    in_browser = request.node.get_closest_marker("browser")
    node = GunicornNode(app, workers=2 if in_browser else 4).start()
    if not in_browser:
        time.sleep(0.3)  # let every worker finish booting (0.1 s each) before the tests fire requests at once
    yield node.base
    node.stop()


class HttpUser:
    """A browser-like client of the live server: session cookie + CSRF token."""

    def __init__(self, base: str, host: str | None = None):
        """``host``: the Host header to send (a proxy on loopback serving the public name, over
        TLS with a test certificate)."""
        import requests

        self.base = base
        self.s = requests.Session()
        if host:
            self.s.headers["Host"] = host
            self.s.headers["Referer"] = f"https://{host}/"  # as a browser sends it: CSRF checks it over HTTPS
            self.s.verify = False
            self.s.trust_env = False  # an environment CA bundle would override verify=False
        self.token = self.s.get(base + "/api/v1/session").json()["csrf_token"]

    def post(self, path, json=None, data=None, headers=None):
        h = {"X-CSRFToken": self.token}
        h.update(headers or {})
        if data is not None:
            data = {"csrf_token": self.token, **data}
        return self.s.post(self.base + path, json=json, data=data, headers=h, allow_redirects=False, timeout=60)

    def get(self, path):
        return self.s.get(self.base + path, timeout=60)

    def login_patron(self, card, pin):
        r = self.post("/api/v1/login", json={"card": card, "pin": pin})
        assert r.status_code == 200, r.text
        self.token = r.json()["csrf_token"]
        return self

    def login_staff(self, user, password):
        r = self.post("/staff/login", data={"username": user, "password": password})
        assert r.status_code == 303, r.text[:300]
        self.token = self.s.get(self.base + "/api/v1/session").json()["csrf_token"]
        return self


def run_at_once(fns, timeout: float | None = 120):
    """Call every function in its own thread, released together by a barrier; results in order
    (``timeout``: how long to wait for each thread; None waits as long as the calls take)."""
    import threading

    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def worker(i, fn):
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


# ----------------------------------------------------------------------------- staff two-step verification


def totp_code(secret: str, offset: int = 0) -> str:
    """The TOTP code an authenticator app would show now (``offset`` seconds later)."""
    import time

    import pyotp

    return pyotp.TOTP(secret).at(time.time() + offset)


def enrol_two_factor(app, username: str) -> str:
    """Turn two-step verification on for a staff member (as the enrolment page does); returns the secret."""
    from sqlalchemy import select

    from opac.accounts import twofa
    from opac.accounts.models import StaffUser
    from opac.extensions import db

    with app.test_request_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        secret = twofa.begin_enrolment(staff)
        twofa.confirm_enrolment(staff, totp_code(secret))
        twofa.authenticator(staff).last_step = None  # so that a login in the same 30 s can use a code
        db.session.commit()
    return secret


def staff_login(client, app, username: str, password: str, secret: str | None = None):
    """Log a staff member in through the real forms: password, then the code when one is asked."""
    from sqlalchemy import update

    from opac.accounts.models import StaffTwoFactor, StaffUser
    from opac.extensions import db

    r = client.post("/staff/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    if r.headers["Location"].endswith("/staff/login/code"):
        assert secret, "this staff member needs a code"
        with app.app_context():  # each test login may reuse the current step
            sid = db.session.scalar(sa.select(StaffUser.id).where(StaffUser.username == username))
            db.session.execute(update(StaffTwoFactor).where(StaffTwoFactor.staff_id == sid).values(last_step=None))
            db.session.commit()
        r = client.post("/staff/login/code", data={"code": totp_code(secret), "csrf_token": csrf_token(client)})
        assert r.status_code == 303, r.get_data(as_text=True)[:300]
    return r


@pytest.fixture
def make_admin(app, make_staff):
    """An admin with two-step verification on: returns (username, password, secret)."""

    def factory(username="admin", password="correct-horse-battery-staple"):
        make_staff(username, password, "admin")
        return username, password, enrol_two_factor(app, username)

    return factory
