"""Partner libraries: registering them and harvesting their records (incrementally, never losing place).

A harvest asks for ListRecords ``from`` the partner's stored ``harvest_from``; each page is written
and committed by the edge (``commit``), so a harvest that stops half-way keeps what it read and the
next one reads it again harmlessly (records are matched by OAI identifier and only changed values
are written). ``harvest_from`` moves to the first response's ``responseDate`` only when the whole
list was read: a partner that goes down mid-run is asked for the same changes next time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import delete, insert, literal, select

from .. import clock
from ..catalog.models import utcnow
from ..extensions import db
from ..search.documents import LOCAL
from ..search.models import IndexChange
from .mapping import RecordProblem, record_values
from .models import METADATA_PREFIXES, Partner, PartnerRecord
from .oai_client import Client, PartnerDown

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class PartnerError(Exception):
    """A partner command refused (bad name, unknown partner…); the message says why."""


@dataclass
class HarvestReport:
    partner: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: (OAI identifier, reason) of records that could not be read; the harvest went on without them
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: why the harvest stopped early (the partner is down); None when it completed
    error: str | None = None


# ----------------------------------------------------------------------------- registering partners


def find_partner(name: str) -> Partner:
    partner = db.session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise PartnerError(f"no partner named {name!r} (see `flask --app opac partner list`)")
    return partner


def _check(base_url: str | None, prefix: str | None, record_url: str | None) -> None:
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise PartnerError("the OAI-PMH base URL must start with http:// or https://")
    if prefix is not None and prefix not in METADATA_PREFIXES:
        raise PartnerError(f"metadata prefix must be one of {', '.join(METADATA_PREFIXES)}")
    if record_url and not record_url.startswith(("http://", "https://")):
        raise PartnerError("the record page pattern must be an http:// or https:// URL")


def add_partner(name: str, base_url: str, *, display_name: str | None = None, set_spec: str | None = None,
                prefix: str = "oai_dc", record_url: str | None = None) -> Partner:
    """Register a partner library (harvested by ``harvest_partner``)."""
    if not _NAME.match(name) or name == LOCAL:
        raise PartnerError(f"partner names are lower-case letters, digits and '-' (not {LOCAL!r}): {name!r}")
    if db.session.scalar(select(Partner.id).where(Partner.name == name)) is not None:
        raise PartnerError(f"a partner named {name!r} exists (use `partner update`)")
    _check(base_url, prefix, record_url)
    partner = Partner(name=name, display_name=display_name or name, base_url=base_url, set_spec=set_spec or None,
                      metadata_prefix=prefix, record_url=record_url or None)
    db.session.add(partner)
    db.session.flush()
    return partner


def _queue_records(partner: Partner, kind: str) -> None:
    """Put every record of ``partner`` in the index change feed (their documents change or go)."""
    ids = select(-PartnerRecord.id, literal(kind), literal(utcnow())).where(PartnerRecord.partner_id == partner.id)
    db.session.execute(insert(IndexChange).from_select(["record_id", "kind", "created_at"], ids))


def update_partner(partner: Partner, *, display_name: str | None = None, base_url: str | None = None,
                   set_spec: str | None = None, prefix: str | None = None, record_url: str | None = None) -> None:
    """Change a partner's settings. A new set or format restarts its harvest from the beginning; a new
    record page pattern re-indexes its records (their links change)."""
    _check(base_url, prefix, record_url)
    if display_name:
        partner.display_name = display_name
    if base_url:
        partner.base_url = base_url
    if (set_spec is not None and (set_spec or None) != partner.set_spec) or (prefix and prefix != partner.metadata_prefix):
        partner.set_spec = partner.set_spec if set_spec is None else (set_spec or None)
        partner.metadata_prefix = prefix or partner.metadata_prefix
        partner.harvest_from = None
    if record_url is not None and (record_url or None) != partner.record_url:
        partner.record_url = record_url or None
        _queue_records(partner, "upsert")


def remove_partner(partner: Partner) -> int:
    """Forget a partner and its records (they leave the index through the feed); returns how many."""
    n = db.session.query(PartnerRecord).filter_by(partner_id=partner.id).count()
    _queue_records(partner, "delete")
    db.session.execute(delete(PartnerRecord).where(PartnerRecord.partner_id == partner.id))
    db.session.delete(partner)
    db.session.flush()
    return n


def list_partners() -> list[tuple[Partner, int]]:
    """Every partner with its number of records."""
    from sqlalchemy import func

    counts = dict(db.session.execute(select(PartnerRecord.partner_id, func.count()).group_by(PartnerRecord.partner_id)).all())
    return [(p, counts.get(p.id, 0)) for p in db.session.scalars(select(Partner).order_by(Partner.name))]


# ----------------------------------------------------------------------------- harvesting


def next_from(response_date: str, granularity: str | None) -> str:
    """The ``from`` of the next harvest: the first response's date, in the repository's granularity.

    >>> next_from("2026-11-29T23:42:45Z", "YYYY-MM-DD"), next_from("2026-11-29T23:42:45Z", "YYYY-MM-DDThh:mm:ssZ")
    ('2026-11-29', '2026-11-29T23:42:45Z')
    """
    return response_date[:10] if (granularity or "YYYY-MM-DD") == "YYYY-MM-DD" else response_date


def _apply_page(partner: Partner, page, report: HarvestReport) -> None:
    identifiers = [h.identifier for h, _m in page.records if h.identifier]
    existing = {r.identifier: r for r in db.session.scalars(
        select(PartnerRecord).where(PartnerRecord.partner_id == partner.id, PartnerRecord.identifier.in_(identifiers)))
    } if identifiers else {}
    for header, meta in page.records:
        if not header.identifier or len(header.identifier) > 255:
            report.failed.append((header.identifier[:300] or "(no identifier)", "missing or longer than 255 characters"))
            continue
        rec = existing.get(header.identifier)
        if header.deleted:
            if rec is not None:
                db.session.delete(rec)
                existing.pop(header.identifier)
                report.deleted += 1
            continue
        try:
            values = record_values(partner.metadata_prefix, meta)
        except (RecordProblem, ValueError, TypeError, KeyError, AttributeError) as exc:
            # the record is broken, not the harvest: report it and go on with the rest
            report.failed.append((header.identifier, str(exc) or type(exc).__name__))
            continue
        values["datestamp"] = header.datestamp[:32]
        if rec is None:
            rec = PartnerRecord(partner=partner, identifier=header.identifier[:255], **values)
            db.session.add(rec)
            existing[header.identifier] = rec
            report.added += 1
        elif any(getattr(rec, k) != v for k, v in values.items() if k != "datestamp"):
            for k, v in values.items():
                setattr(rec, k, v)
            report.updated += 1
        else:
            rec.datestamp = values["datestamp"]
            report.unchanged += 1
    db.session.flush()


def harvest_partner(partner: Partner, *, commit: Callable[[], None],
                    progress: Callable[[int, int | None], None] | None = None,
                    client: Client | None = None) -> HarvestReport:
    """Harvest ``partner``'s changes since its last complete harvest; ``commit`` is called after each
    page (and at the end). A partner that is down is reported in ``report.error``, never raised."""
    report = HarvestReport(partner.name)
    client = client or Client(partner.base_url, timeout=float(current_app.config["PARTNER_HARVEST_TIMEOUT"]),
                              user_agent=f"opac-harvester/1.0 ({current_app.config['LIBRARY_NAME']})")
    started = None
    done = 0
    try:
        repo = client.identify()
        partner.granularity = repo.granularity[:32]
        since = partner.harvest_from
        if since and partner.granularity == "YYYY-MM-DD":
            since = since[:10]
        for page in client.list_records(partner.metadata_prefix, set_spec=partner.set_spec, from_=since):
            started = started or page.response_date
            _apply_page(partner, page, report)
            commit()
            done += len(page.records)
            if progress:
                progress(done, page.complete_list_size)
        if not started:
            raise PartnerDown("ListRecords: the response has no responseDate")
        partner.harvest_from = next_from(started, partner.granularity)
        partner.last_error = None
    except PartnerDown as exc:
        db.session.rollback()  # the page being read is read again next time
        report.error = partner.last_error = str(exc)[:2000]
    partner.last_harvest_at = clock.now()
    commit()
    return report
