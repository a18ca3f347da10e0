"""Partner libraries and the records harvested from them.

Partner records live in their own table, not in ``record``: circulation, the OAI-PMH provider,
exports and staff screens read ``Record`` only, so they can never lend, re-export or count a
record another library holds. The search index reads both (see ``opac.search.sync``).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog.material_types import MATERIAL_TYPES
from ..catalog.models import Description, utcnow
from ..extensions import db

METADATA_PREFIXES = ("oai_dc", "marc21")


class Partner(db.Model):
    """Another library whose OAI-PMH repository we harvest."""

    __tablename__ = "partner"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short name used on the command line and in the Library facet's URLs (``[a-z0-9-]``).
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: The library's name shown to patrons.
    display_name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(Text)
    set_spec: Mapped[str | None] = mapped_column(String(200))
    metadata_prefix: Mapped[str] = mapped_column(String(16), default="oai_dc")
    #: The partner's record page: ``{local}`` (identifier after its last ':' or '/') and
    #: ``{identifier}`` are replaced; without it the record's own http(s) dc:identifier is used.
    record_url: Mapped[str | None] = mapped_column(Text)
    #: The repository's datestamp granularity (from Identify): ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``.
    granularity: Mapped[str | None] = mapped_column(String(32))
    #: ``from`` of the next harvest, in the partner's granularity; moves only after a complete harvest.
    harvest_from: Mapped[str | None] = mapped_column(String(32))
    last_harvest_at: Mapped[datetime | None] = mapped_column()
    #: Why the last harvest stopped (None when it completed); the next harvest retries from ``harvest_from``.
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(f"metadata_prefix IN {METADATA_PREFIXES!r}", name="metadata_prefix"),
    )

    def __repr__(self) -> str:
        return f"<Partner {self.name}>"


class PartnerRecord(Description, db.Model):
    """A record held by a partner library, as its repository last served it."""

    __tablename__ = "partner_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"), index=True)
    #: The OAI identifier in the partner's repository.
    identifier: Mapped[str] = mapped_column(String(255))
    #: The header datestamp as the partner wrote it (a record with the same datestamp is unchanged).
    datestamp: Mapped[str] = mapped_column(String(32))
    #: The record's page at the partner, when its metadata names one.
    url: Mapped[str | None] = mapped_column(Text)
    #: What makes two libraries' records the same book: ``isbn:<ISBN-13>`` or ``035:<number>``.
    match_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    partner: Mapped[Partner] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("partner_id", "identifier", name="uq_partner_record_identifier"),
        CheckConstraint(f"material_type IN {MATERIAL_TYPES!r}", name="material_type"),
    )

    @property
    def control_number(self) -> str:
        """Searchable like our control numbers (``control:…``): the OAI identifier."""
        return self.identifier

    def page_url(self) -> str | None:
        """The record's page at the partner (its URL pattern, else the URL its metadata gave)."""
        pattern = self.partner.record_url
        if not pattern:
            return self.url
        local = self.identifier.replace("/", ":").rsplit(":", 1)[-1]
        return pattern.replace("{local}", quote(local, safe="")).replace("{identifier}", quote(self.identifier, safe=""))

    def __repr__(self) -> str:
        return f"<PartnerRecord {self.identifier}>"
