"""Command-line interface: ``flask --app opac <command>``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .extensions import db


class Progress:
    """A progress bar on a terminal, a line every few seconds otherwise."""

    def __init__(self, label: str, total: int | None = None):
        self.label = label
        self.total = total
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.n = 0

    def update(self, n: int, total: int | None = None) -> None:
        self.n = n
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 5.0):
            return
        self.last = now
        self._draw()

    def _draw(self, end: str = "") -> None:
        rate = self.n / max(time.monotonic() - self.start, 1e-6)
        if self.total:
            frac = min(self.n / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"{self.label} [{bar:<30}] {self.n}/{self.total} {frac:4.0%} {rate:,.0f}/s"
        else:
            text = f"{self.label} {self.n} {rate:,.0f}/s"
        if self.tty:
            click.echo("\r" + text + end, nl=False, err=True)
        else:
            click.echo(text, err=True)

    def done(self) -> None:
        self._draw(end="\n" if self.tty else "")


def init_app(app) -> None:
    app.cli.add_command(init_db)
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    app.cli.add_command(reindex)
    app.cli.add_command(index_group)
    app.cli.add_command(demo)
    for hook in app.extensions.get("opac_cli", []):
        hook(app)


def upgrade_database() -> None:
    """Create the database or upgrade it to the latest migration, then add defaults."""
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)
    from .seed import seed_defaults

    seed_defaults()
    db.session.commit()


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the database or upgrade it to the latest schema."""
    upgrade_database()
    click.echo(f"Database ready: {db.engine.url.render_as_string(hide_password=True)}")


def _report(report, verbose: bool) -> None:
    click.echo(f"Imported {report.imported} / updated {report.updated} / unchanged {report.unchanged} / "
               f"skipped {len(report.skipped)}  (copies added {report.items_added}, updated {report.items_updated})")
    for number, reason in report.skipped:
        click.echo(f"  skipped record {number}: {reason}")
    if report.warnings:
        shown = report.warnings if verbose else report.warnings[:20]
        click.echo(f"  {len(report.warnings)} warnings" + ("" if verbose else " (first 20; --verbose for all)"))
        for number, msg in shown:
            click.echo(f"  record {number}: {msg}")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["marc", "xml", "csv", "jsonl"]), default=None,
              help="Input format (default: from the file name or contents).")
@click.option("--verbose", is_flag=True, help="List every warning.")
@with_appcontext
def import_command(paths, fmt, verbose):
    """Import MARC21, MARCXML, CSV or JSON-lines files (re-importing updates, never duplicates)."""
    from .catalog.services import ImportReport, import_data

    from .search import sync

    # Bulk mode: the outbox still records every change in its transaction, but the index is
    # written once at the end (one segment) rather than after every batch commit.
    db.session.info["opac_sync"] = False
    try:
        for path in paths:
            data = path.read_bytes()
            click.echo(f"{path}:")
            report = ImportReport()
            bar = Progress("  importing")
            import_data(data, name=path.name, fmt=fmt, source=path.name[:64], report=report,
                        commit=db.session.commit, progress=bar.update)
            bar.done()
            _report(report, verbose)
    finally:
        db.session.info["opac_sync"] = True
    pending = sync.pending()
    if pending:
        bar = Progress("  indexing", pending)
        n = sync.drain(current_app, timeout=600, progress=bar.update)
        bar.done()
        click.echo(f"Search index updated: {n} records.")


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["xml", "mrc"]), default="xml", help="MARCXML or MARC21.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def export_command(fmt, output):
    """Export the whole catalogue as MARCXML or MARC21 (items in 852)."""
    from .catalog.marc import write_collection
    from .catalog.services import iter_export

    with open(output, "wb") as out:
        n = write_collection(iter_export(), fmt, out)
    click.echo(f"Exported {n} records to {output}")


@click.command("reindex")
@with_appcontext
def reindex():
    """Rebuild the search index from the database (atomically swapped in when done)."""
    from .search import sync

    bar = Progress("indexing")
    n = sync.rebuild(current_app, progress=bar.update)
    bar.done()
    click.echo(f"Indexed {n} records.")


@click.group("index")
def index_group():
    """Search index maintenance."""


@index_group.command("sync")
@with_appcontext
def index_sync():
    """Apply pending changes from the outbox to the index."""
    from .search import sync

    n = sync.drain(current_app, timeout=60)
    click.echo(f"Applied {n} record changes; {sync.pending()} pending.")


@index_group.command("status")
@with_appcontext
def index_status():
    """Say whether the index is usable, and how big it is."""
    from .search import sync
    from .search.services import index_status as status

    info = status()
    if info["ok"]:
        click.echo(f"OK: {info['documents']} documents, {info['size_bytes'] / 1e6:.1f} MB, "
                   f"{sync.pending()} changes pending")
    else:
        click.echo(f"PROBLEM: {info['problem']}. Run: flask --app opac reindex")
        sys.exit(1)


@click.command("demo")
@click.option("--force", is_flag=True, help="Load even if the catalogue already has records.")
@with_appcontext
def demo(force):
    """Load the demo catalogue (well-known Indonesian and English books with copies)."""
    from .demo import load_demo

    n = load_demo(force=force)
    click.echo(f"Demo catalogue: {n} records." if n else "Catalogue not empty; demo not loaded (use --force).")
