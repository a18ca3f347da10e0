"""Database backups and restores: ``flask --app opac backup DIR`` / ``flask --app opac restore DIR``.

SQLite is copied with its online backup API (one step inside one read transaction: a consistent
snapshot while the app keeps writing); PostgreSQL with ``pg_dump -Fc`` inside an exported snapshot,
so that the row counts in the manifest are those of the dump. A backup is two files: the database
copy (``opac-<UTC time>.sqlite`` or ``.dump``) and its manifest (``opac-<UTC time>.json``: schema
revision, row count per table, SHA-256). The search index is not backed up: it is rebuilt from the
database with ``flask --app opac reindex``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

MANIFEST_FORMAT = 1
PREFIX = "opac-"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Plan:
    """What a PostgreSQL step will run (shown to the operator, or printed when the binary is missing)."""

    argv: list[str]
    env: dict[str, str]

    def shell(self) -> str:
        shown = " ".join(shlex.quote(a) for a in self.argv)
        return ("PGPASSWORD=… " if "PGPASSWORD" in self.env else "") + shown


# ----------------------------------------------------------------------------- shared helpers


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _new_names(directory: Path, ext: str) -> tuple[Path, Path]:
    """Free (data file, manifest) names for a backup made now."""
    stamp = _stamp()
    for n in range(1000):
        stem = f"{PREFIX}{stamp}" + (f"-{n}" if n else "")
        data, manifest = directory / f"{stem}{ext}", directory / f"{stem}.json"
        if not data.exists() and not manifest.exists():
            return data, manifest
    raise BackupError(f"too many backups in {directory} within one second")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically, readable by the owner only (backups hold patrons' personal data)."""
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def migrations_state(revision: str | None) -> str:
    """``"current"`` (this code's head), ``"older"`` (an earlier revision of this code) or ``"unknown"``."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", current_app.extensions["migrate"].directory)
    script = ScriptDirectory.from_config(cfg)
    if revision is None:
        return "unknown"
    revisions = set(revision.split(","))
    if revisions == set(script.get_heads()):
        return "current"
    known = {r.revision for r in script.walk_revisions()}
    return "older" if revisions <= known else "unknown"


def _manifest(kind: str, data: Path, revision: str, counts: dict[str, int], source: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        opac_version = version("opac")
    except PackageNotFoundError:  # running from a source tree
        opac_version = "unknown"
    return {
        "format": MANIFEST_FORMAT,
        "kind": kind,
        "file": data.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "schema_revision": revision,
        "counts": counts,
        "total_rows": sum(counts.values()),
        "size_bytes": data.stat().st_size,
        "sha256": sha256_file(data),
        "source": source,
        "opac_version": opac_version,
    }


def database_url() -> sa.URL:
    return sa.make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


# ----------------------------------------------------------------------------- SQLite


def _sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"cannot back up or restore this SQLite database: {url.database or 'in memory'}")
    return Path(url.database)


def _read_only(path: Path) -> str:
    """A URI opening ``path`` read-only (never creating it)."""
    return path.resolve().as_uri() + "?mode=ro"


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [r[0] for r in rows]


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _sqlite_tables(conn)}  # noqa: S608


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version ORDER BY version_num").fetchall()
    except sqlite3.DatabaseError:
        return None
    return ",".join(r[0] for r in rows) or None


def _sqlite_integrity(conn: sqlite3.Connection) -> list[str]:
    """Problems found by ``PRAGMA integrity_check`` and ``foreign_key_check`` (empty: sound)."""
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
        problems += [f"foreign key: {r[0]} row {r[1]} -> {r[2]}" for r in conn.execute("PRAGMA foreign_key_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return problems


def backup_sqlite(directory: Path) -> dict:
    """Copy the SQLite database into ``directory`` through the online backup API; return the manifest."""
    url = database_url()
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"the database {source} does not exist (run `flask --app opac init-db` first)")
    data, manifest_path = _new_names(directory, ".sqlite")
    partial = data.with_name(f".{data.name}.partial")
    src = sqlite3.connect(_read_only(source), uri=True, timeout=30)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, inside one read transaction. In WAL mode the
            # app's writers are not blocked and the copy is the database as of one instant.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            problems = _sqlite_integrity(dst)
            if problems:
                raise BackupError(f"the copy fails its integrity check: {'; '.join(problems[:5])}")
            revision = _sqlite_revision(dst)
            if revision is None:
                raise BackupError(f"{source} is not an opac database (no schema revision); nothing backed up")
            counts = _sqlite_counts(dst)
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, data)
    manifest = _manifest("sqlite", data, revision, counts, url.render_as_string(hide_password=True))
    _write_private(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def sqlite_in_use(path: Path) -> bool:
    """Whether another process has the (WAL-mode) database open: each connection holds a shared lock on
    byte 128 of the ``-shm`` file (SQLite's "DMS" lock), so an exclusive lock on it cannot be taken."""
    import fcntl

    try:
        fd = os.open(f"{path}-shm", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128)
        return False
    finally:
        os.close(fd)


def _sqlite_describe_target(path: Path) -> str | None:
    """None if ``path`` holds no tables (missing or empty), else a short description of what it holds."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(_read_only(path), uri=True, timeout=30)
    try:
        counts = _sqlite_counts(conn)
    except sqlite3.DatabaseError as exc:
        return f"an unreadable file ({exc})"
    finally:
        conn.close()
    if not counts:
        return None
    in_use = "; open in another process right now: the app is running" if sqlite_in_use(path) else ""
    return (f"{len(counts)} tables, {counts.get('record', 0)} records, {counts.get('patron', 0)} patrons, "
            f"{counts.get('loan', 0)} loans{in_use}")


def restore_sqlite(manifest: dict, data: Path, *, force: bool) -> list[str]:
    """Check the backup, then copy it over the configured SQLite database; return notes for the operator."""
    src = sqlite3.connect(_read_only(data), uri=True)
    try:
        problems = _sqlite_integrity(src)
        if problems:
            raise BackupError(f"{data.name} fails its integrity check: {'; '.join(problems[:5])}")
        _check_revision(manifest, _sqlite_revision(src))
        counts = _sqlite_counts(src)
        if counts != manifest["counts"]:
            raise BackupError(f"{data.name} does not hold the rows its manifest lists")
        target = _sqlite_path(database_url())
        notes = []
        held = _sqlite_describe_target(target)
        if held and not force:
            raise BackupError(f"{target} already holds a database ({held}). Stop the app on every node "
                              "(web, index follower, worker), then run the restore again with --force.")
        if held:
            notes.append(_save_before_restore(data.parent, backup_sqlite))
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            dst.execute("PRAGMA busy_timeout=30000")
            # Through the backup API, not a file copy: it takes SQLite's locks and handles the WAL.
            src.backup(dst, pages=-1)
            restored = _sqlite_counts(dst)
        finally:
            dst.close()
    finally:
        src.close()
    if restored != manifest["counts"]:
        raise BackupError(f"after the restore {target} does not hold the rows the manifest lists")
    return notes


# ----------------------------------------------------------------------------- PostgreSQL


def _libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and the environment that carries the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = sa.URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                          query=url.query)
    return plain.render_as_string(hide_password=False), env


def _binary(key: str) -> str | None:
    name = str(current_app.config[key])
    return shutil.which(name)


def _pg_counts(conn) -> dict[str, int]:
    tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))
    return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for (t,) in tables.all()}  # noqa: S608


def _pg_revision(conn) -> str | None:
    if not conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar():
        return None
    rows = conn.execute(sa.text("SELECT version_num FROM alembic_version ORDER BY version_num")).scalars().all()
    return ",".join(rows) or None


def pg_dump_plan(data: Path, snapshot: str | None = None) -> Plan:
    dsn, env = _libpq(database_url())
    binary = _binary("BACKUP_PG_DUMP") or str(current_app.config["BACKUP_PG_DUMP"])
    argv = [binary, "--format=custom", f"--file={data}"]
    if snapshot:
        argv.append(f"--snapshot={snapshot}")
    return Plan(argv + [f"--dbname={dsn}"], env)


def pg_restore_plan(data: Path, *, clean: bool) -> Plan:
    dsn, env = _libpq(database_url())
    binary = _binary("BACKUP_PG_RESTORE") or str(current_app.config["BACKUP_PG_RESTORE"])
    argv = [binary, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if clean:
        argv += ["--clean", "--if-exists"]
    return Plan(argv + [f"--dbname={dsn}", str(data)], env)


def backup_postgresql(directory: Path, echo=click.echo) -> dict:
    """``pg_dump -Fc`` inside an exported snapshot (counts and dump see the same instant)."""
    data, manifest_path = _new_names(directory, ".dump")
    if _binary("BACKUP_PG_DUMP") is None:
        plan = pg_dump_plan(data)
        raise BackupError(
            f"{current_app.config['BACKUP_PG_DUMP']} was not found, so no backup was made. Install the PostgreSQL "
            "client of the server's major version or newer (Debian: apt-get install postgresql-client), or point "
            f"OPAC_BACKUP_PG_DUMP at it; or run by hand:\n  {plan.shell()}")
    url = database_url()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            revision = _pg_revision(conn)
            if revision is None:
                raise BackupError(f"{url.database} is not an opac database (no schema revision); nothing backed up")
            counts = _pg_counts(conn)
            plan = pg_dump_plan(data, snapshot)
            echo(f"Running: {plan.shell()}")
            fd = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # pg_dump keeps the mode
            os.close(fd)
            done = subprocess.run(plan.argv, env=plan.env, capture_output=True, text=True)
            conn.rollback()
    finally:
        engine.dispose()
    if done.returncode != 0:
        data.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
    manifest = _manifest("postgresql", data, revision, counts, url.render_as_string(hide_password=True))
    _write_private(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _pg_target_state(url: sa.URL) -> tuple[bool, dict[str, int], int]:
    """(database exists, its tables' row counts, other sessions connected to it)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            counts = _pg_counts(conn)
            others = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar_one()
            return True, counts, others
    except sa.exc.OperationalError as exc:
        if "does not exist" in str(exc):
            return False, {}, 0
        raise BackupError(f"cannot connect to {url.render_as_string(hide_password=True)}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _pg_create_database(url: sa.URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            name = url.database.replace('"', '""')
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def restore_postgresql(manifest: dict, data: Path, *, force: bool, echo=click.echo) -> list[str]:
    """Check the archive, then ``pg_restore`` it (in one transaction) into the configured database."""
    _check_revision(manifest, manifest.get("schema_revision"))
    restore_bin = _binary("BACKUP_PG_RESTORE")
    url = database_url()
    exists, counts, others = _pg_target_state(url)
    held = {t: n for t, n in counts.items() if n} if exists else {}
    if counts and not force:
        raise BackupError(
            f"the database {url.database} already holds an opac database ({len(counts)} tables, {counts.get('record', 0)} records, "
            f"{counts.get('patron', 0)} patrons, {counts.get('loan', 0)} loans; {others} other connections). "
            "Stop the app on every node (web, index follower, worker), then run the restore again with --force.")
    plan = pg_restore_plan(data, clean=bool(counts))
    if restore_bin is None:
        raise BackupError(
            f"{current_app.config['BACKUP_PG_RESTORE']} was not found, so nothing was restored. Install the "
            "PostgreSQL client (Debian: apt-get install postgresql-client) or point OPAC_BACKUP_PG_RESTORE at it; "
            f"or run by hand{'' if exists else ' (after CREATE DATABASE)'}:\n  {plan.shell()}")
    listing = subprocess.run([restore_bin, "--list", str(data)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{data.name} is not a readable pg_dump archive: {listing.stderr.strip()}")
    notes = []
    if held:
        notes.append(_save_before_restore(data.parent, lambda d: backup_postgresql(d, echo=lambda _m: None)))
    if not exists:
        _pg_create_database(url)
        notes.append(f"Created the database {url.database}.")
    echo(f"Running: {plan.shell()}")
    done = subprocess.run(plan.argv, env=plan.env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {done.returncode}); the database is unchanged: {done.stderr.strip()}")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            restored = _pg_counts(conn)
            extra = sorted(set(restored) - set(manifest["counts"]))
            for table in extra:  # tables of a newer schema that --clean does not know about
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
                restored.pop(table)
            revision = _pg_revision(conn)
    finally:
        engine.dispose()
    if extra:
        notes.append(f"Dropped tables the backup does not have: {', '.join(extra)}.")
    if revision != manifest["schema_revision"] or restored != manifest["counts"]:
        raise BackupError(f"after the restore {url.database} does not hold the rows and revision the manifest lists")
    return notes


# ----------------------------------------------------------------------------- restore: choosing and checking


def _manifests(directory: Path) -> list[Path]:
    """The backup manifests in ``directory``, oldest first (``opac-<time>.json``, ``opac-<time>-<n>.json``)."""
    found = []
    for path in directory.glob(f"{PREFIX}*.json"):
        m = re.fullmatch(re.escape(PREFIX) + r"(\d{8}T\d{6}Z)(?:-(\d+))?", path.stem)
        if m:
            found.append(((m.group(1), int(m.group(2) or 0)), path))
    return [path for _key, path in sorted(found)]


def find_backup(source: Path) -> tuple[dict, Path]:
    """The manifest and data file of ``source``: a manifest, a data file, or a directory (its newest backup)."""
    if source.is_dir():
        manifests = _manifests(source)
        if not manifests:
            raise BackupError(f"no backup in {source} (expected {PREFIX}<time>.json manifests)")
        manifest_path = manifests[-1]
    elif source.suffix == ".json":
        manifest_path = source
    else:
        manifest_path = source.with_suffix(".json")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the manifest {manifest_path}: {exc}") from exc
    if manifest.get("format") != MANIFEST_FORMAT or not manifest.get("file"):
        raise BackupError(f"{manifest_path} is not a backup manifest of this version of opac")
    data = manifest_path.parent / Path(manifest["file"]).name
    if not data.is_file():
        raise BackupError(f"the backup file {data} named by {manifest_path.name} is missing")
    if sha256_file(data) != manifest.get("sha256"):
        raise BackupError(f"{data.name} does not match the checksum in its manifest: damaged or replaced")
    return manifest, data


def _save_before_restore(backups: Path, backup) -> str:
    """Back up the database about to be overwritten into ``<backups>/before-restore``; say where."""
    directory = backups / "before-restore"
    directory.mkdir(mode=0o700, exist_ok=True)
    try:
        manifest = backup(directory)
    except BackupError as exc:
        raise BackupError(f"the database to be replaced could not be saved first, so nothing was restored: {exc}") from exc
    return (f"The database it replaces was backed up first: {directory / manifest['file']} "
            f"(undo with: flask --app opac restore --force {directory / manifest['file']}).")


def _check_revision(manifest: dict, revision: str | None) -> None:
    if revision != manifest.get("schema_revision"):
        raise BackupError(f"the backup's schema revision ({revision}) is not the one its manifest lists "
                          f"({manifest.get('schema_revision')})")
    if migrations_state(revision) == "unknown":
        raise BackupError(f"the backup has schema revision {revision}, which this version of opac does not know "
                          "(made by a newer version?): install that version, or a newer one, to restore it")


def prune(directory: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups (manifest + data file) made by this command."""
    manifests = _manifests(directory)
    removed = []
    for manifest_path in manifests[:-keep] if keep > 0 else []:
        try:
            name = Path(json.loads(manifest_path.read_text())["file"]).name
        except (OSError, ValueError, KeyError):
            continue
        (directory / name).unlink(missing_ok=True)
        manifest_path.unlink()
        removed.append(name)
    return removed


# ----------------------------------------------------------------------------- commands


def _kind() -> str:
    name = database_url().get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of {name} databases are not supported (SQLite and PostgreSQL are)")
    return name


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", type=click.IntRange(min=0), default=0, show_default=True,
              help="Afterwards delete all but the newest N backups in DIRECTORY (0: keep every one).")
@with_appcontext
def backup_command(directory: Path, keep: int):
    """Back up the database into DIRECTORY (a timestamped copy plus a manifest); safe while the app runs."""
    try:
        kind = _kind()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if kind == "sqlite":
            manifest = backup_sqlite(directory)
        else:
            click.echo("PostgreSQL: pg_dump in custom format (-Fc), from one snapshot; the app can keep running.")
            manifest = backup_postgresql(directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, sqlite3.Error, sa.exc.SQLAlchemyError) as exc:
        raise click.ClickException(f"no backup was made: {getattr(exc, 'orig', None) or exc}") from exc
    click.echo(f"Backup written: {directory / manifest['file']} ({manifest['size_bytes'] / 1e6:.1f} MB, "
               f"schema {manifest['schema_revision']}, {manifest['total_rows']} rows in {len(manifest['counts'])} "
               f"tables; manifest {Path(manifest['file']).stem}.json). The search index needs no backup.")
    for name in prune(directory, keep):
        click.echo(f"Deleted old backup {name}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database that already holds data (stop the app first).")
@with_appcontext
def restore_command(source: Path, force: bool):
    """Restore the database from SOURCE: a backup directory (its newest backup) or a backup's manifest or file."""
    try:
        kind = _kind()
        manifest, data = find_backup(source)
        if manifest.get("kind") != kind:
            raise BackupError(f"{data.name} is a {manifest.get('kind')} backup but OPAC_DATABASE_URL is {kind}; "
                              "restore it into a database of the same kind")
        click.echo(f"Restoring {data.name} (made {manifest['created_at']}, schema {manifest['schema_revision']}, "
                   f"{manifest['total_rows']} rows).")
        if kind == "sqlite":
            notes = restore_sqlite(manifest, data, force=force)
        else:
            notes = restore_postgresql(manifest, data, force=force)
        state = migrations_state(manifest["schema_revision"])
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, sqlite3.Error, sa.exc.SQLAlchemyError) as exc:
        raise click.ClickException(f"the restore stopped: {getattr(exc, 'orig', None) or exc}") from exc
    for note in notes:
        click.echo(note)
    click.echo(f"Restored into {database_url().render_as_string(hide_password=True)}: integrity checked, "
               f"{manifest['total_rows']} rows in {len(manifest['counts'])} tables as in the manifest.")
    click.echo("Next steps:")
    if state == "older":
        click.echo("  flask --app opac init-db    # the backup's schema is older: upgrade it first")
    click.echo("  flask --app opac reindex    # rebuild the search index, on every node")
    click.echo("  then start (or restart) the web, index follower and worker services")
