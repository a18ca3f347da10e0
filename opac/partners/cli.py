"""``flask --app opac partner …`` and ``flask --app opac harvest [NAME]``: the edge of union search."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from .models import METADATA_PREFIXES


def _commit() -> None:
    from ..db import begin_write

    db.session.commit()
    begin_write()


@click.group("partner")
def partner_group():
    """Partner libraries harvested over OAI-PMH into the union search."""


def _fail(exc) -> None:
    db.session.rollback()
    raise click.ClickException(str(exc)) from None


@partner_group.command("add")
@click.argument("name")
@click.argument("base_url")
@click.option("--set", "set_spec", help="Harvest only this OAI-PMH set.")
@click.option("--prefix", type=click.Choice(METADATA_PREFIXES), default="oai_dc", show_default=True,
              help="Metadata format to harvest (SLiMS serves oai_dc only).")
@click.option("--name", "display_name", help="The library's name shown to patrons (default: NAME).")
@click.option("--record-url", help="The partner's record page, with {local} (identifier after its last ':' "
              "or '/') or {identifier}; default: the URL in the record's dc:identifier.")
@with_appcontext
def partner_add(name, base_url, set_spec, prefix, display_name, record_url):
    """Register partner NAME with its OAI-PMH BASE_URL (then run `harvest NAME`)."""
    from .services import PartnerError, add_partner

    try:
        partner = add_partner(name, base_url, display_name=display_name, set_spec=set_spec, prefix=prefix,
                              record_url=record_url)
        db.session.commit()
    except PartnerError as exc:
        _fail(exc)
    click.echo(f"Partner {partner.name} ({partner.display_name}) added: {partner.base_url} [{partner.metadata_prefix}]")


@partner_group.command("update")
@click.argument("name")
@click.option("--url", "base_url", help="A new OAI-PMH base URL.")
@click.option("--set", "set_spec", help="Harvest only this set ('' for all; restarts the harvest).")
@click.option("--prefix", type=click.Choice(METADATA_PREFIXES), help="Metadata format (restarts the harvest).")
@click.option("--name", "display_name", help="The library's name shown to patrons.")
@click.option("--record-url", help="The record page pattern ({local} or {identifier}; '' for none).")
@with_appcontext
def partner_update(name, base_url, set_spec, prefix, display_name, record_url):
    """Change partner NAME's settings."""
    from .services import PartnerError, find_partner, update_partner

    try:
        partner = find_partner(name)
        update_partner(partner, display_name=display_name, base_url=base_url, set_spec=set_spec, prefix=prefix,
                       record_url=record_url)
        db.session.commit()
    except PartnerError as exc:
        _fail(exc)
    click.echo(f"Partner {name} updated.")


@partner_group.command("list")
@with_appcontext
def partner_list():
    """Partners, their records and the state of their last harvest."""
    from .services import list_partners

    rows = list_partners()
    if not rows:
        click.echo("No partners (add one with `flask --app opac partner add NAME OAI_BASE_URL`).")
    for p, n in rows:
        state = f"failed: {p.last_error}" if p.last_error else (
            f"harvested {p.last_harvest_at:%Y-%m-%d %H:%M}" if p.last_harvest_at else "never harvested")
        click.echo(f"{p.name}\t{p.display_name}\t{p.base_url}\t{p.metadata_prefix}"
                   f"{' set ' + p.set_spec if p.set_spec else ''}\t{n} records\tfrom {p.harvest_from or '-'}\t{state}")


@partner_group.command("remove")
@click.argument("name")
@with_appcontext
def partner_remove(name):
    """Forget partner NAME and its records."""
    from .services import PartnerError, find_partner, remove_partner

    try:
        n = remove_partner(find_partner(name))
        db.session.commit()
    except PartnerError as exc:
        _fail(exc)
    click.echo(f"Partner {name} removed with {n} records.")


class _Progress:
    """A progress bar on stderr, started once the first page tells how long the list is."""

    def __init__(self, label: str):
        self.label, self.bar, self.done = label, None, 0

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total or 0, done), label=self.label,
                                         file=click.get_text_stream("stderr"))
            self.bar.__enter__()
        elif total and total > self.bar.length:
            self.bar.length = total
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _print_report(report) -> None:
    click.echo(f"{report.partner}: {report.added} added, {report.updated} updated, {report.deleted} deleted, "
               f"{report.unchanged} unchanged, {len(report.failed)} failed")
    for identifier, reason in report.failed:
        click.echo(f"  failed {identifier}: {reason}")
    if report.error:
        click.echo(f"  stopped: {report.error} (the next harvest retries from the same point)")


@click.command("harvest")
@click.argument("name", required=False)
@with_appcontext
def harvest_command(name):
    """Harvest partner NAME (default: every partner) from where its last complete harvest ended.

    Exits with status 1 when a partner could not be harvested completely (it is retried next time)."""
    from flask import current_app
    from sqlalchemy.exc import SQLAlchemyError

    from ..db import begin_write
    from ..search import sync
    from ..search.services import index_status
    from .services import HarvestReport, PartnerError, find_partner, harvest_partner, list_partners

    try:
        partners = [find_partner(name)] if name else [p for p, _n in list_partners()]
    except PartnerError as exc:
        _fail(exc)
    if not partners:
        click.echo("No partners to harvest.")
        return
    names = [p.name for p in partners]
    down = []
    for pname in names:
        partner = find_partner(pname)
        begin_write()
        progress = _Progress(pname)
        try:
            report = harvest_partner(partner, commit=_commit, progress=progress)
        except SQLAlchemyError as exc:  # one partner's bad data must not keep the others from their harvest
            db.session.rollback()
            report = HarvestReport(pname, error=f"database error: {str(exc).splitlines()[0][:300]}")
        finally:
            progress.close()
        db.session.commit()
        _print_report(report)
        if report.error:
            down.append(pname)
    if not index_status()["ok"]:
        click.echo(f"Search index built: {sync.rebuild(current_app)} records.")
    else:
        click.echo(f"Search index: {sync.pending()} changes in the feed for `flask --app opac index follow` to apply.")
    if down:
        click.echo(f"Not harvested completely: {', '.join(down)}", err=True)
        sys.exit(1)
