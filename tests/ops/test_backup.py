"""`flask --app opac backup` / `restore` as an operator runs them: subprocesses, production-like environment.

Round trip on SQLite and on PostgreSQL: patrons, records, copies and loans made through the CLI; a thread
keeps writing (pairs of holidays, one transaction each) while the backup runs; the backup is restored
into a fresh database and every table is compared row by row.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
PG_BASE = os.environ.get("OPAC_TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FIRST_HOLIDAY = date(3000, 1, 1)


def prod_env(db_url: str, tmp_path: Path, **extra: str) -> dict:
    """The environment of a real deployment: no TESTING, no test config, only OPAC_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update({"OPAC_DATABASE_URL": db_url, "OPAC_INDEX_DIR": str(tmp_path / "index"),
                "OPAC_BASE_URL": "https://opac.example.org", "OPAC_SECRET_KEY": "backup-test-" + uuid.uuid4().hex})
    env.update(extra)
    return env


def flask(env: dict, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([FLASK, "--app", "opac", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if ok:
        assert r.returncode == 0, f"flask {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def make_library(env: dict, tmp_path: Path) -> None:
    """A small library through the CLI: records with copies, patrons, staff, two loans."""
    flask(env, "init-db")
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps({
        "control_number": f"BK{i}", "title": f"Buku cadangan {i}", "authors": [f"Penulis {i}"], "year": 2000 + i,
        "barcodes": [f"B{i}01", f"B{i}02"], "location": "Pusat",
    }) for i in range(1, 5)) + "\n")
    flask(env, "import", str(records))
    patrons = tmp_path / "patrons.csv"
    patrons.write_text("card,pin,name,category,email\n2026001,4826,Siti Aminah,student,siti@example.org\n"
                       "2026002,3917,Budi Santoso,lecturer,budi@example.org\n")
    flask(env, "patron", "import", str(patrons))
    flask(env, "staff", "create", "--username", "pustakawan", "--password", "kopi-susu-pagi-hari", "--name", "Pustakawan")
    flask(env, "circ", "checkout", "--card", "2026001", "--barcode", "B101")
    flask(env, "circ", "checkout", "--card", "2026002", "--barcode", "B201")


def table_rows(url: str) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {t: sorted((tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"'))), key=repr)
                    for t in names}
    finally:
        engine.dispose()


class HolidayWriter(threading.Thread):
    """Writes holidays two at a time (one transaction each pair) until stopped: a consistent copy
    holds an even number of them, the first ones written."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.pairs, self.stop, self.error = url, 0, threading.Event(), None

    def run(self):
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout=30000")
                    conn.commit()
                while not self.stop.is_set():
                    day = FIRST_HOLIDAY + timedelta(days=2 * self.pairs)
                    with conn.begin():
                        for d in (day, day + timedelta(days=1)):
                            conn.execute(sa.text("INSERT INTO holiday (day, name) VALUES (:d, 'tutup')"), {"d": d})
                    self.pairs += 1
                    time.sleep(0.002)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            engine.dispose()

    def wait_for(self, pairs: int, timeout: float = 60):
        deadline = time.time() + timeout
        while self.pairs < pairs and time.time() < deadline and self.error is None:
            time.sleep(0.01)
        assert self.error is None, self.error
        assert self.pairs >= pairs, "the writer thread made no progress"


def round_trip(source_url: str, target_url: str, tmp_path: Path, kind: str) -> None:
    env = prod_env(source_url, tmp_path)
    make_library(env, tmp_path)
    before = table_rows(source_url)
    assert len(before["loan"]) == 2 and len(before["patron"]) == 2 and len(before["record"]) == 4

    writer = HolidayWriter(source_url)
    writer.start()
    try:
        writer.wait_for(20)
        r = flask(env, "backup", str(tmp_path / "backups"))
        at_backup_end = writer.pairs
        writer.wait_for(at_backup_end + 20)
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert "Backup written" in r.stdout

    manifests = list((tmp_path / "backups").glob("opac-*.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    data = manifests[0].with_name(manifest["file"])
    assert manifest["kind"] == kind and data.suffix == (".sqlite" if kind == "sqlite" else ".dump")
    assert oct(data.stat().st_mode & 0o777) == "0o600"  # patrons' personal data
    assert manifest["schema_revision"] and manifest["counts"]["patron"] == 2 and manifest["counts"]["loan"] == 2
    holidays = manifest["counts"]["holiday"]
    # Taken while the writer ran: some pairs before it, some after, and never half a pair.
    assert holidays % 2 == 0 and 40 <= holidays < 2 * writer.pairs

    restore = flask(prod_env(target_url, tmp_path), "restore", str(tmp_path / "backups"))
    assert "flask --app opac reindex" in restore.stdout

    source, restored = table_rows(source_url), table_rows(target_url)
    assert set(restored) == set(source)
    for table in source:
        if table == "holiday":
            continue
        assert restored[table] == source[table], f"table {table} differs after the round trip"
    assert {t: len(rows) for t, rows in restored.items()} == manifest["counts"]
    days = sorted(row[0] for row in source["holiday"])[:holidays]
    assert sorted(row[0] for row in restored["holiday"]) == days  # exactly the first pairs written

    # The index is not in the backup: it is rebuilt from the restored database.
    target_env = prod_env(target_url, tmp_path, OPAC_INDEX_DIR=str(tmp_path / "index-restored"))
    flask(target_env, "reindex")
    assert "4 documents" in flask(target_env, "index", "status").stdout


def test_sqlite_round_trip_while_the_app_writes(tmp_path):
    (tmp_path / "live").mkdir()
    round_trip(f"sqlite:///{tmp_path}/live/opac.sqlite", f"sqlite:///{tmp_path}/restored/opac.sqlite", tmp_path,
               "sqlite")


@pytest.fixture
def pg_databases():
    """Two database names on the test server, prefixed ``ops_``; dropped afterwards."""
    base = sa.make_url(PG_BASE).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        admin.connect().close()
    except sa.exc.OperationalError:
        if os.environ.get("OPAC_TEST_DATABASE_URL") or os.environ.get("CI") == "true":
            raise  # CI runs this test once, in the SQLite pass: PostgreSQL must be up by then
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    tag = os.environ.get("OPAC_TEST_DB_PREFIX", "") + uuid.uuid4().hex[:8]
    names = [f"ops_backup_src_{tag}", f"ops_backup_dst_{tag}"]
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{names[0]}"'))
    yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    with admin.connect() as conn:
        for n in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
    admin.dispose()


def test_postgresql_round_trip_while_the_app_writes(tmp_path, pg_databases):
    source, target = pg_databases  # the target does not exist yet: restore creates it
    round_trip(source, target, tmp_path, "postgresql")

    r = flask(prod_env(source, tmp_path), "restore", str(tmp_path / "backups"), ok=False)
    assert r.returncode != 0 and "--force" in r.stderr and "other connections" in r.stderr


def _rewrite_manifest(manifest_path: Path, **changes) -> None:
    from opac.backup import sha256_file

    manifest = json.loads(manifest_path.read_text())
    manifest.update(changes)
    manifest["sha256"] = sha256_file(manifest_path.with_name(manifest["file"]))
    manifest_path.write_text(json.dumps(manifest))


def test_sqlite_restore_refuses_to_overwrite_checks_integrity_and_revision(tmp_path):
    url = f"sqlite:///{tmp_path}/opac.sqlite"
    env = prod_env(url, tmp_path)
    flask(env, "init-db")
    flask(env, "patron", "create", "--card", "2026001", "--pin", "4826", "--name", "Siti", "--category", "student")
    backups = tmp_path / "backups"
    flask(env, "backup", str(backups))
    flask(env, "patron", "create", "--card", "2026002", "--pin", "4826", "--name", "Budi", "--category", "student")

    # A database that holds data is not overwritten without --force, and says why.
    r = flask(env, "restore", str(backups), ok=False)
    assert r.returncode == 1 and "already holds a database" in r.stderr and "--force" in r.stderr
    assert "the app is running" not in r.stderr
    assert len(table_rows(url)["patron"]) == 2
    # …and says so when the app has it open (another process: this one).
    app_conn = sqlite3.connect(tmp_path / "opac.sqlite")
    app_conn.execute("PRAGMA journal_mode=WAL")
    app_conn.execute("SELECT count(*) FROM patron").fetchone()
    r = flask(env, "restore", str(backups), ok=False)
    app_conn.close()
    assert r.returncode == 1 and "the app is running" in r.stderr

    # With --force it is, after being backed up itself.
    r = flask(env, "restore", "--force", str(backups))
    assert "backed up first" in r.stdout
    patrons = table_rows(url)["patron"]
    assert len(patrons) == 1 and "2026001" in repr(patrons)
    saved = list((backups / "before-restore").glob("opac-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["counts"]["patron"] == 2

    # A data file that no longer matches its manifest.
    manifest_path = sorted(backups.glob("opac-*.json"))[-1]
    data = manifest_path.with_name(json.loads(manifest_path.read_text())["file"])
    fresh = prod_env(f"sqlite:///{tmp_path}/fresh.sqlite", tmp_path)
    original = data.read_bytes()
    data.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    r = flask(fresh, "restore", str(backups), ok=False)
    assert r.returncode == 1 and "checksum" in r.stderr

    # A damaged database whose manifest was made to match: PRAGMA integrity_check finds it.
    damaged = bytearray(original)
    page = 4096
    for offset in range(2 * page + 8, 2 * page + 200):
        damaged[offset] = 0xAB
    data.write_bytes(bytes(damaged))
    _rewrite_manifest(manifest_path)
    r = flask(fresh, "restore", str(backups), ok=False)
    assert r.returncode == 1 and "integrity" in r.stderr, r.stderr
    assert not (tmp_path / "fresh.sqlite").exists() or not table_rows(f"sqlite:///{tmp_path}/fresh.sqlite")

    # A schema revision this code does not know (a backup made by a newer version).
    data.write_bytes(original)
    with sqlite3.connect(data) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'fffffffffff0'")
    conn.close()
    _rewrite_manifest(manifest_path, schema_revision="fffffffffff0")
    r = flask(fresh, "restore", str(backups), ok=False)
    assert r.returncode == 1 and "does not know" in r.stderr
    assert not (tmp_path / "fresh.sqlite").exists() or not table_rows(f"sqlite:///{tmp_path}/fresh.sqlite")

    # A PostgreSQL backup is not restored into SQLite.
    _rewrite_manifest(manifest_path, kind="postgresql", schema_revision=json.loads(saved[0].read_text())["schema_revision"])
    r = flask(fresh, "restore", str(backups), ok=False)
    assert r.returncode == 1 and "same kind" in r.stderr


def test_backup_keeps_the_newest(tmp_path):
    env = prod_env(f"sqlite:///{tmp_path}/opac.sqlite", tmp_path)
    flask(env, "init-db")
    backups = tmp_path / "backups"
    made = []
    for _ in range(3):  # within a second or two: names get -1, -2 suffixes and must still sort in order
        r = flask(env, "backup", "--keep", "2", str(backups))
        made.append(r.stdout.split("Backup written: ")[1].split(" ")[0])
    left = sorted(p.name for p in backups.glob("opac-*.sqlite"))
    assert len(left) == 2 and len(list(backups.glob("opac-*.json"))) == 2
    assert {Path(m).name for m in made[1:]} == set(left)


def test_postgresql_without_pg_dump_prints_the_command(tmp_path):
    url = "postgresql+psycopg://opac:s3cret@127.0.0.1:5432/ops_never_created"
    r = flask(prod_env(url, tmp_path, OPAC_BACKUP_PG_DUMP="/nonexistent/pg_dump"), "backup", str(tmp_path / "b"),
              ok=False)
    assert r.returncode == 1
    assert "no backup was made" in r.stderr and "--format=custom" in r.stderr and "ops_never_created" in r.stderr
    assert "s3cret" not in r.stderr + r.stdout
