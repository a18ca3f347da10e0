"""Shared fixtures: an app per test on a fresh database (SQLite, or PostgreSQL when
``OPAC_TEST_DATABASE_URL`` is set) and a fresh search index; record factories; shared data."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("OPAC_TEST_DATABASE_URL", "")


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


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


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
    engine = sa.create_engine(template_url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    return template_url


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
        "SERVER_NAME": "opac.test",
        "INDEX_RECONCILE_SECONDS": 0.0,
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
            return record.id

    return factory


@pytest.fixture
def search_api(client):
    def run(q="", **params):
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
        return ids

    return load
