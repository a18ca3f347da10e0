"""``flask --app opac import-slims --url mysql+pymysql://user@host/slims``: the edge of the migration."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db


def _commit() -> None:
    from ..db import begin_write

    db.session.commit()
    begin_write()


def _print_report(report, verbose: bool) -> None:
    click.echo(f"{'':10} {'imported':>9} {'updated':>9} {'unchanged':>10} {'skipped':>8}")
    for kind, c in report.counts.items():
        click.echo(f"{kind:10} {c['imported']:>9} {c['updated']:>9} {c['unchanged']:>10} {c['skipped']:>8}")
    for kind, key, reason in report.skipped:
        click.echo(f"  skipped {kind} {key}: {reason}")
    if report.warnings:
        shown = report.warnings if verbose else report.warnings[:50]
        click.echo(f"  {len(report.warnings)} warnings" + ("" if verbose else " (first 50; --verbose for all)"))
        for kind, key, msg in shown:
            click.echo(f"  {kind} {key}: {msg}")


@click.command("import-slims")
@click.option("--url", required=True, envvar="OPAC_SLIMS_URL",
              help="SLiMS database, e.g. mysql+pymysql://user:password@127.0.0.1/slims")
@click.option("--with-history", is_flag=True, help="Also import returned loans (loan history).")
@click.option("--verbose", is_flag=True, help="List every warning.")
@with_appcontext
def import_slims_command(url, with_history, verbose):
    """Import a SLiMS 9 database: records, items, patrons, open loans (a second run updates)."""
    import sqlalchemy as sa

    from ..db import begin_write
    from ..search import sync
    from ..search.services import index_status
    from .importer import SlimsReport, SlimsSource, connect, count_rows, import_loans, import_patrons, import_records

    report = SlimsReport()
    try:
        engine = connect(url)
        conn = engine.connect()
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        raise click.ClickException(f"cannot open the SLiMS database: {str(exc).splitlines()[0][:200]}") from None
    try:
        totals = count_rows(conn, with_history=with_history)
        src = SlimsSource(conn)
        begin_write()
        with click.progressbar(length=totals["records"], label="records and items", file=click.get_text_stream("stderr")) as bar:
            import_records(src, report, commit=_commit, progress=bar.update)
        with click.progressbar(length=totals["patrons"], label="patrons", file=click.get_text_stream("stderr")) as bar:
            import_patrons(conn, report, commit=_commit, progress=bar.update)
        with click.progressbar(length=totals["loans"], label="loans", file=click.get_text_stream("stderr")) as bar:
            import_loans(conn, report, with_history=with_history, commit=_commit, progress=bar.update)
        db.session.commit()
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        raise click.ClickException(f"SLiMS database not readable: {str(exc).splitlines()[0][:200]}") from None
    finally:
        conn.close()
        engine.dispose()
    _print_report(report, verbose)
    if not index_status()["ok"]:  # a fresh installation: build the whole index once
        click.echo(f"Search index built: {sync.rebuild(current_app)} records.")
    else:
        click.echo(f"Search index: {sync.pending()} changes in the feed for `flask --app opac index follow` to apply.")
    click.echo("Members have no PIN yet: they set one with 'Forgot PIN?' (e-mail) or at the desk.")
