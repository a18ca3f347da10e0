"""Command-line interface: ``flask --app opac <command>``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .db import begin_write
from .extensions import db
from .priority import background


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
    app.cli.add_command(delete_record_command)
    app.cli.add_command(withdraw_record_command)
    app.cli.add_command(reinstate_record_command)
    app.cli.add_command(reindex)
    app.cli.add_command(index_group)
    app.cli.add_command(demo)
    init_more(app)


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
    from .db import yield_to_requests

    background(current_app)  # the web's workers first

    from .catalog.services import ImportReport, import_data
    from .search import sync

    # Every change goes into the index change feed in its own transaction; each node's
    # `index follow` applies them (a large import in few big index segments).
    with yield_to_requests(current_app.config["BULK_YIELD_SECONDS"]):  # the desk's requests before each batch
        begin_write()  # SQLite: the write lock first, as the web's write requests do
        for path in paths:
            data = path.read_bytes()
            click.echo(f"{path}:")
            report = ImportReport()
            bar = Progress("  importing")
            import_data(data, name=path.name, fmt=fmt, source=path.name[:64], report=report,
                        commit=db.session.commit, progress=bar.update)
            bar.done()
            _report(report, verbose)
    click.echo(f"Search index: {sync.pending()} changes in the feed for `flask --app opac index follow` to apply.")


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


def _each_record(control_numbers, change, done: str) -> None:
    """Apply ``change`` (a catalog service) to each record by control number, one transaction each;
    a missing or refused record is reported and the command exits 1 after the others."""
    from sqlalchemy import select

    from .catalog.models import Record
    from .catalog.services import CatalogError
    from .circulation.services import lock

    failed = 0
    for control in control_numbers:
        begin_write()
        rid = db.session.scalar(select(Record.id).where(Record.control_number == control))
        # locked as the staff page locks it: a hold placed meanwhile waits, then sees the change
        record = lock(Record, rid) if rid is not None else None
        if record is None:
            db.session.rollback()
            click.echo(f"{control}: no such record", err=True)
            failed += 1
            continue
        try:
            change(record)
        except CatalogError as exc:
            db.session.rollback()
            click.echo(f"{control}: {exc.message}", err=True)
            failed += 1
            continue
        db.session.commit()
        click.echo(f"{control}: {done}")
    if failed:
        raise SystemExit(1)


@click.command("delete-record")
@click.argument("control_numbers", nargs=-1, required=True)
@with_appcontext
def delete_record_command(control_numbers):
    """Delete records (and their copies) by control number; harvesters see them as deleted."""
    from .catalog.services import delete_record

    _each_record(control_numbers, delete_record, "deleted")


@click.command("withdraw-record")
@click.argument("control_numbers", nargs=-1, required=True)
@click.option("--reason", default="", help="Why (written to the record's edit log).")
@with_appcontext
def withdraw_record_command(control_numbers, reason):
    """Withdraw records by control number (as the staff record page does): out of the catalogue,
    copies withdrawn, harvesters see them as deleted; `reinstate-record` undoes it."""
    from .catalog.services import withdraw_record

    _each_record(control_numbers, lambda record: withdraw_record(record, by=None, reason=reason), "withdrawn")


@click.command("reinstate-record")
@click.argument("control_numbers", nargs=-1, required=True)
@with_appcontext
def reinstate_record_command(control_numbers):
    """Bring withdrawn records back into the catalogue (their withdrawn copies become available)."""
    from .catalog.services import reinstate_record

    _each_record(control_numbers, lambda record: reinstate_record(record, by=None), "reinstated")


@click.command("reindex")
@with_appcontext
def reindex():
    """Rebuild the search index from the database while the old one serves; no change is lost."""
    from .search import sync

    background(current_app)

    bar = Progress("indexing")
    n = sync.rebuild(current_app, progress=bar.update)
    bar.done()
    click.echo(f"Indexed {n} records.")


@click.group("index")
def index_group():
    """Search index maintenance."""


@index_group.command("follow")
@click.option("--once", is_flag=True, help="Apply the pending changes and exit.")
@with_appcontext
def index_follow(once):
    """Keep this node's index (OPAC_INDEX_DIR) in step with the database's change feed (one per node)."""
    import logging

    from .search import sync

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    background(current_app)
    if once:
        n = sync.follow(current_app, once=True)
        click.echo(f"Applied {n} record changes; {sync.pending()} pending.")
        return
    click.echo(f"Following the change feed into {current_app.config['INDEX_DIR']} (pid {os.getpid()})",
               err=True)
    sync.follow(current_app)


@index_group.command("sync")
@with_appcontext
def index_sync():
    """Apply the pending changes once (the same as `index follow --once`)."""
    from .search import sync

    background(current_app)

    n = sync.follow(current_app, once=True)
    click.echo(f"Applied {n} record changes; {sync.pending()} pending.")


@index_group.command("prune")
@with_appcontext
def index_prune():
    """Delete change-feed rows older than INDEX_FEED_RETENTION_DAYS (the follower also does this hourly)."""
    from .search import sync

    click.echo(f"Pruned {sync.prune_feed(current_app)} feed rows.")


@index_group.command("status")
@with_appcontext
def index_status():
    """Say whether the index is usable, how big it is and how far behind the feed."""
    from .search import sync
    from .search.services import index_status as status

    info = status()
    if info["ok"]:
        feed = sync.feed_status(current_app)
        if feed["position"] is None:
            lag = "no feed position (the follower will rebuild it)"
        else:
            lag = f"{feed['lag_changes']} changes pending, lag {feed['lag_seconds']:.1f} s, feed position {feed['position']}"
        click.echo(f"OK: {info['documents']} documents, {info['size_bytes'] / 1e6:.1f} MB, {lag}")
    else:
        click.echo(f"PROBLEM: {info['problem']}. Run: flask --app opac reindex")
        sys.exit(1)


@click.command("demo")
@click.option("--force", is_flag=True, help="Load even if the catalogue already has records.")
@with_appcontext
def demo(force):
    """Load the demo catalogue (well-known Indonesian and English books with copies)."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from .demo import load_demo

    n = load_demo(force=force)
    click.echo(f"Demo catalogue: {n} records." if n else "Catalogue not empty; demo not loaded (use --force).")


# ----------------------------------------------------------------------------- accounts


@click.group("patron")
def patron_group():
    """Patrons (library members)."""


@patron_group.command("create")
@click.option("--card", required=True)
@click.option("--pin", required=True)
@click.option("--name", required=True)
@click.option("--category", required=True, help="student, lecturer, staff, public, or your own")
@click.option("--email", default=None)
@click.option("--whatsapp", default=None)
@click.option("--expires", default=None, help="Card expiry YYYY-MM-DD (default: the category's card years)")
@with_appcontext
def patron_create(card, pin, name, category, email, whatsapp, expires):
    """Create a patron."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from datetime import date

    from .accounts.services import create_patron
    from .errors import DomainError

    try:
        p = create_patron(card, pin, name, category, email=email, whatsapp=whatsapp,
                          expires_on=date.fromisoformat(expires) if expires else None)
        db.session.commit()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Patron {p.card_number} created (card expires {p.expires_on}).")


@patron_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def patron_import(path):
    """Import patrons from CSV: card,pin,name,category[,email,whatsapp,expires_on]."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from .accounts.services import import_patrons

    created, errors = import_patrons(path.read_text(encoding="utf-8-sig"))
    db.session.commit()
    click.echo(f"Created {created} patrons; {len(errors)} rows skipped.")
    for line, msg in errors:
        click.echo(f"  line {line}: {msg}")


@patron_group.command("set-pin")
@click.option("--card", required=True)
@click.option("--pin", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def patron_set_pin(card, pin):
    """Set a patron's PIN at the desk (e.g. a member migrated from SLiMS without an e-mail address)."""
    from .accounts.services import set_patron_pin
    from .db import begin_write
    from .errors import DomainError

    begin_write()
    try:
        set_patron_pin(card, pin)
        db.session.commit()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"PIN of patron {card} set; their other sessions are ended.")


def _set_block(card: str, blocked: bool, note: str | None) -> None:
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from .circulation.services import patron_by_card
    from .errors import DomainError

    try:
        p = patron_by_card(card)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    p.blocked, p.block_note = blocked, note
    db.session.commit()
    click.echo(f"Patron {card} {'blocked' if blocked else 'unblocked'}.")


@patron_group.command("block")
@click.option("--card", required=True)
@click.option("--note", required=True, help="Why (shown to the patron when an action is refused)")
@with_appcontext
def patron_block(card, note):
    """Block a patron's account (borrowing, renewing and holds are refused with the note)."""
    _set_block(card, True, note)


@patron_group.command("unblock")
@click.option("--card", required=True)
@with_appcontext
def patron_unblock(card):
    """Lift a block."""
    _set_block(card, False, None)


@patron_group.command("category")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--card-years", default=1, show_default=True, help="How long a new card is valid")
@with_appcontext
def patron_category(code, name, card_years):
    """Add or rename a patron category (e.g. alumni, visiting researcher)."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from sqlalchemy import select

    from .accounts.models import PatronCategory

    cat = db.session.scalar(select(PatronCategory).where(PatronCategory.code == code))
    if cat is None:
        db.session.add(PatronCategory(code=code, name=name, card_years=card_years))
    else:
        cat.name, cat.card_years = name, card_years
    db.session.commit()
    click.echo(f"Category {code}: {name}")


@click.group("staff")
def staff_group():
    """Staff accounts (separate from patron cards)."""


@staff_group.command("create")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["librarian", "admin"]), default="librarian")
@click.option("--email", default=None)
@with_appcontext
def staff_create(username, password, name, role, email):
    """Create a staff account."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from .accounts.services import create_staff
    from .errors import DomainError

    try:
        create_staff(username, password, name, role, email)
        db.session.commit()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    except Exception as exc:  # noqa: BLE001 - e.g. a duplicate user name
        raise click.ClickException(f"could not create {username}: {exc.__class__.__name__}") from None
    click.echo(f"Staff account {username} ({role}) created.")


@staff_group.command("reset-2fa")
@click.argument("username")
@with_appcontext
def staff_reset_2fa(username):
    """Remove a locked-out staff member's two-step verification and sign them out everywhere;
    they set it up again at their next login (admins must)."""
    from sqlalchemy import select

    from .accounts import twofa
    from .accounts.models import StaffUser
    from .accounts.services import end_all_sessions
    from .db import begin_write

    begin_write()
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    if staff is None:
        raise click.ClickException(f"no staff account named {username}")
    twofa.reset(staff)
    end_all_sessions(staff)
    db.session.commit()
    click.echo(f"Two-step verification removed for {staff.username}; all their sessions are ended.")


# ----------------------------------------------------------------------------- circulation


@click.group("circ")
def circ_group():
    """Circulation at the command line."""


def _print_result(result: dict) -> None:
    if not result["ok"]:
        raise click.ClickException(result["message"])
    click.echo(" ".join(f"{k}={v}" for k, v in result.items() if k not in ("ok",)))


@circ_group.command("checkout")
@click.option("--card", required=True)
@click.option("--barcode", required=True)
@with_appcontext
def circ_checkout(card, barcode):
    """Lend a copy to a patron."""
    from .circulation import actions

    _print_result(actions.checkout(card, barcode))


@circ_group.command("checkin")
@click.option("--barcode", required=True)
@click.option("--location", default=None, help="Code of the location where the copy is returned")
@with_appcontext
def circ_checkin(barcode, location):
    """Return a copy (sets it aside when a hold waits)."""
    from sqlalchemy import select

    from .catalog.models import Location
    from .circulation import actions

    loc = db.session.scalar(select(Location).where(Location.code == location)) if location else None
    _print_result(actions.checkin(barcode, loc.id if loc else None))


@circ_group.command("policy")
@click.option("--category", default=None, help="Patron category code (omit for every category)")
@click.option("--type", "material_type", default=None, help="Material type (omit for every type)")
@click.option("--loan-days", type=int)
@click.option("--max-loans", type=int)
@click.option("--max-renewals", type=int)
@click.option("--max-holds", type=int)
@click.option("--renew-from", type=click.Choice(["due_date", "today"]))
@click.option("--renew-window-days", type=int, help="Renewals only this many days before the due date")
@click.option("--renew-overdue/--no-renew-overdue", default=None)
@click.option("--pickup-days", type=int)
@click.option("--fine-per-day", type=int)
@with_appcontext
def circ_policy(category, material_type, **values):
    """Set the circulation rules of a patron category × material type (the most specific rule wins)."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from sqlalchemy import select

    from .accounts.services import category_by_code
    from .circulation.models import CirculationPolicy
    from .circulation.rules import DEFAULT_POLICY
    from .errors import DomainError

    try:
        cat_id = category_by_code(category).id if category else None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    pol = db.session.scalar(select(CirculationPolicy).where(
        CirculationPolicy.category_id.is_(cat_id) if cat_id is None else CirculationPolicy.category_id == cat_id,
        CirculationPolicy.material_type.is_(None) if material_type is None else CirculationPolicy.material_type == material_type))
    if pol is None:
        pol = CirculationPolicy(category_id=cat_id, material_type=material_type, **DEFAULT_POLICY)
        db.session.add(pol)
    for k, v in values.items():
        if v is not None:
            setattr(pol, k, v)
    db.session.commit()
    click.echo(f"Policy {category or '*'} × {material_type or '*'}: {pol.loan_days} days, {pol.max_loans} loans, "
               f"{pol.max_renewals} renewals, {pol.max_holds} holds")


@circ_group.command("policies")
@with_appcontext
def circ_policies():
    """List the circulation rules."""
    from sqlalchemy import select

    from .accounts.models import PatronCategory
    from .circulation.models import CirculationPolicy

    cats = {c.id: c.code for c in db.session.scalars(select(PatronCategory))}
    for p in db.session.scalars(select(CirculationPolicy)):
        click.echo(f"{cats.get(p.category_id, '*'):<10} {p.material_type or '*':<12} {p.loan_days:>3} days  "
                   f"loans {p.max_loans:>2}  renewals {p.max_renewals}  holds {p.max_holds:>2}  "
                   f"renew from {p.renew_from}  pickup {p.pickup_days} days")


@click.command("notify")
@with_appcontext
def notify_command():
    """Daily run: expire uncollected holds, queue due-soon and overdue notices, anonymise loans, purge questions,
    and check the saved searches whose week is up for new records."""
    from .circulation.notify import daily_run

    begin_write()
    result = daily_run()
    from .accounts.registration import purge_unverified_registrations

    result["unverified_signups_purged"] = purge_unverified_registrations()
    from .patron_services.alerts import run_saved_search_alerts

    result.update(run_saved_search_alerts())
    db.session.commit()
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))


@click.command("worker")
@click.option("--once", is_flag=True, help="Send everything due now, then exit.")
@with_appcontext
def worker_command(once):
    """Send queued e-mail and Web Push until stopped (SIGTERM finishes the current message)."""
    from .notifications.worker import run

    background(current_app)

    totals = run(once=once)
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(totals.items())) or "nothing to send")


@click.group("calendar")
def calendar_group():
    """Library calendar: holidays (closed weekdays are the CLOSED_WEEKDAYS setting)."""


@calendar_group.command("add-holiday")
@click.argument("day")
@click.argument("name")
@with_appcontext
def calendar_add(day, name):
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from datetime import date

    from .circulation.models import Holiday

    db.session.merge(Holiday(day=date.fromisoformat(day), name=name))
    db.session.commit()
    click.echo(f"Closed on {day}: {name}")


@calendar_group.command("list")
@with_appcontext
def calendar_list():
    from sqlalchemy import select

    from .circulation.models import Holiday

    for h in db.session.scalars(select(Holiday).order_by(Holiday.day)):
        click.echo(f"{h.day}  {h.name}")


@click.group("push")
def push_group():
    """Web Push (VAPID keys)."""


@push_group.command("keys")
@click.option("--force", is_flag=True, help="Replace existing keys (every device must subscribe again).")
@with_appcontext
def push_keys(force):
    """Create the VAPID key pair in instance/vapid.json (once) and print the public key."""
    from .push import generate_keys

    keys = generate_keys(force=force)
    click.echo(f"VAPID public key: {keys['public_key']}")


@click.group("reference")
def reference_group():
    """Ask a librarian."""


@reference_group.command("purge")
@with_appcontext
def reference_purge():
    """Remove personal data from closed questions older than REFERENCE_RETENTION_DAYS."""
    begin_write()  # SQLite: the write lock first, as the web's write requests do
    from .reference.services import purge_old_threads

    n = purge_old_threads()
    db.session.commit()
    click.echo(f"Purged {n} closed questions.")


def init_more(app) -> None:
    from .backup import backup_command, restore_command
    from .slims.cli import import_slims_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(reference_group)
    app.cli.add_command(import_slims_command)
    from .partners.cli import harvest_command, partner_group

    app.cli.add_command(partner_group)
    app.cli.add_command(harvest_command)
    for cmd in (patron_group, staff_group, circ_group, notify_command, worker_command, calendar_group, push_group):
        app.cli.add_command(cmd)
