"""OAI-PMH 2.0 provider: the six verbs over the catalogue, as XML bytes (the view only moves bytes).

Datestamps are ``Record.updated_at`` (UTC, shown to the second); deleted records are served from
``RecordTombstone`` as deleted headers (``deletedRecord persistent``), and so are withdrawn records
(``Record.withdrawn_at``; reinstated, they come back with a new datestamp). Lists are ordered by
(datestamp, kind, id) and resumed after the last one seen, so a harvest is complete while records
change. Resumption tokens are signed (SECRET_KEY) and carry the whole query: no server state.

Set names are the catalogue's own labels (the material types' and the facets'), always in the
library's default language (``BABEL_DEFAULT_LOCALE``): a harvest reads the same whoever asks, and
never follows a visitor's language cookie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from lxml import etree
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from ..catalog import material_types
from ..catalog.marc import to_marcxml
from ..catalog.models import Item, Location, Record, RecordTombstone, utcnow
from ..catalog.services import record_marc, record_set_specs
from ..extensions import db
from ..search.vocabulary import FACET_LABELS
from ..urls import absolute_url

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"

#: metadataPrefix -> (schema, namespace)
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS),
    "marc21": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC_NS),
}
#: verb -> (required arguments, optional arguments, whether resumptionToken is accepted)
VERBS = {
    "Identify": (set(), set(), False),
    "ListMetadataFormats": (set(), {"identifier"}, False),
    "ListSets": (set(), set(), True),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), False),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}, True),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}, True),
}
#: setSpec of each kind of set -> its setName (the facets' labels where the kind is a facet)
SET_KINDS = {"type": FACET_LABELS["type"], "location": FACET_LABELS["location"], "collection": _l("Collection")}
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_INVALID_XML_BYTES = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LOCAL_SAFE = "-_.!~*'();/?:@&=+$,"


class OAIError(Exception):
    """An OAI-PMH error condition: ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def datestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value) -> str:
    return _INVALID_XML.sub("", str(value))


def _sub(parent, tag: str, text=None, **attrs):
    if not tag.startswith("{"):
        tag = f"{{{OAI_NS}}}{tag}"
    el = etree.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _text(text)
    return el


def repository_host() -> str:
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def oai_identifier(control_number: str) -> str:
    """``oai:<host of BASE_URL>:<control number>`` (the control number percent-encoded where needed)."""
    return f"oai:{repository_host()}:{quote(control_number, safe=_LOCAL_SAFE)}"


def control_number_of(identifier: str) -> str | None:
    prefix = f"oai:{repository_host()}:"
    if not identifier.startswith(prefix):
        return None
    return unquote(identifier[len(prefix):]) or None


# ----------------------------------------------------------------------------- arguments


def parse_arguments(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, or OAIError(badVerb / badArgument)."""
    verbs = [v for k, v in pairs if k == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OAIError("badVerb", "Missing, repeated or illegal verb." if len(verbs) != 1
                       else f"Illegal verb: {verbs[0]}.")
    verb = verbs[0]
    args: dict[str, str] = {}
    for key, value in pairs:
        if key == "verb":
            continue
        if key in args:
            raise OAIError("badArgument", f"Repeated argument: {key}.")
        args[key] = value
    required, optional, resumable = VERBS[verb]
    allowed = required | optional | ({"resumptionToken"} if resumable else set())
    illegal = sorted(set(args) - allowed)
    if illegal:
        raise OAIError("badArgument", f"Illegal argument for {verb}: {', '.join(illegal)}.")
    if "resumptionToken" in args:
        if len(args) > 1:
            raise OAIError("badArgument", "resumptionToken is an exclusive argument.")
        return verb, args
    missing = sorted(required - set(args))
    if missing:
        raise OAIError("badArgument", f"Missing argument for {verb}: {', '.join(missing)}.")
    return verb, args


def _parse_date(value: str, *, end: bool) -> tuple[datetime, str]:
    """(bound, granularity): ``from`` is inclusive, the returned ``until`` bound is exclusive."""
    try:
        if _DAY.match(value):
            day = datetime.strptime(value, "%Y-%m-%d")
            return (day + timedelta(days=1) if end else day), "day"
        if _SECOND.match(value):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            return (moment + timedelta(seconds=1) if end else moment), "second"
    except ValueError:
        pass
    raise OAIError("badArgument", f"Illegal date: {value} (use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ).")


# ----------------------------------------------------------------------------- queries


@dataclass
class ListQuery:
    verb: str
    prefix: str
    set_spec: str | None = None
    from_: str | None = None
    until: str | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        lo = hi = None
        granularities = set()
        if self.from_:
            lo, g = _parse_date(self.from_, end=False)
            granularities.add(g)
        if self.until:
            hi, g = _parse_date(self.until, end=True)
            granularities.add(g)
        if len(granularities) > 1:
            raise OAIError("badArgument", "from and until must have the same granularity.")
        if lo and hi and lo >= hi:
            raise OAIError("badArgument", "from is later than until.")
        return lo, hi

    def record_filters(self) -> list:
        lo, hi = self.bounds()
        where = [Record.hidden.is_(False)]  # hidden from the public catalogue, so from harvesters too
        if lo:
            where.append(Record.updated_at >= lo)
        if hi:
            where.append(Record.updated_at < hi)
        if self.set_spec:
            kind, _, value = self.set_spec.partition(":")
            if kind == "type":
                if value:
                    where.append(Record.material_type == value)
            elif kind == "location":
                cond = [Item.record_id == Record.id, Item.location_id.is_not(None)]
                if value:
                    cond.append(Item.location_id.in_(select(Location.id).where(Location.code == value)))
                where.append(select(Item.id).where(*cond).exists())
            elif kind == "collection":
                cond = [Item.record_id == Record.id, Item.collection.is_not(None)]
                if value:
                    cond.append(Item.collection == value)
                where.append(select(Item.id).where(*cond).exists())
            else:
                where.append(Record.id.is_(None))
        return where

    def tombstone_filters(self) -> list:
        lo, hi = self.bounds()
        where = []
        if lo:
            where.append(RecordTombstone.deleted_at >= lo)
        if hi:
            where.append(RecordTombstone.deleted_at < hi)
        if self.set_spec:
            kind, _, value = self.set_spec.partition(":")
            needle = f" {self.set_spec} " if value else f" {kind}:"
            where.append(RecordTombstone.sets.contains(needle, autoescape=True))
        return where


def _after_records(cursor):
    d, k, i = cursor
    if k == 0:
        return or_(Record.updated_at > d, and_(Record.updated_at == d, Record.id > i))
    return Record.updated_at > d


def _after_tombstones(cursor):
    d, k, i = cursor
    if k == 0:
        return RecordTombstone.deleted_at >= d
    return or_(RecordTombstone.deleted_at > d, and_(RecordTombstone.deleted_at == d, RecordTombstone.id > i))


def fetch_page(query: ListQuery, cursor, size: int) -> tuple[list, bool]:
    """Up to ``size`` entries (datestamp, kind, id, object) after ``cursor``; and whether more follow."""
    rq = select(Record).where(*query.record_filters()).options(
        selectinload(Record.items).joinedload(Item.location))
    tq = select(RecordTombstone).where(*query.tombstone_filters())
    if cursor:
        rq = rq.where(_after_records(cursor))
        tq = tq.where(_after_tombstones(cursor))
    records = db.session.scalars(rq.order_by(Record.updated_at, Record.id).limit(size + 1)).all()
    tombs = db.session.scalars(tq.order_by(RecordTombstone.deleted_at, RecordTombstone.id).limit(size + 1)).all()
    entries = [(r.updated_at, 0, r.id, r) for r in records] + [(t.deleted_at, 1, t.id, t) for t in tombs]
    entries.sort(key=lambda e: e[:3])
    return entries[:size], len(entries) > size


def count_matches(query: ListQuery) -> int:
    n = db.session.scalar(select(func.count(Record.id)).where(*query.record_filters())) or 0
    return n + (db.session.scalar(select(func.count(RecordTombstone.id)).where(*query.tombstone_filters())) or 0)


# ----------------------------------------------------------------------------- resumption tokens


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="opac.oai.resumption")


def make_token(query: ListQuery, cursor, total: int, offset: int) -> str:
    d, k, i = cursor
    return _serializer().dumps({"v": query.verb, "m": query.prefix, "s": query.set_spec, "f": query.from_,
                                "u": query.until, "c": [d.isoformat(), k, i], "n": total, "o": offset})


def read_token(token: str, verb: str):
    try:
        data = _serializer().loads(token, max_age=int(current_app.config["OAI_TOKEN_LIFETIME"]))
        if data["v"] != verb:
            raise ValueError("another verb")
        query = ListQuery(verb, data["m"], data["s"], data["f"], data["u"])
        d, k, i = data["c"]
        return query, (datetime.fromisoformat(d), int(k), int(i)), int(data["n"]), int(data["o"])
    except SignatureExpired:
        raise OAIError("badResumptionToken", "The resumption token has expired; start the list again.") from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise OAIError("badResumptionToken", "The resumption token is invalid.") from None


# ----------------------------------------------------------------------------- verbs


def _earliest() -> datetime:
    values = [v for v in (db.session.scalar(select(func.min(Record.updated_at))),
                          db.session.scalar(select(func.min(RecordTombstone.deleted_at)))) if v]
    return min(values) if values else utcnow()


def identify(root, _args) -> None:
    el = _sub(root, "Identify")
    _sub(el, "repositoryName", current_app.config["LIBRARY_NAME"])
    _sub(el, "baseURL", absolute_url("oai.endpoint"))
    _sub(el, "protocolVersion", "2.0")
    _sub(el, "adminEmail", current_app.config["OAI_ADMIN_EMAIL"] or current_app.config["CONTACT_EMAIL"])
    _sub(el, "earliestDatestamp", datestamp(_earliest()))
    _sub(el, "deletedRecord", "persistent")
    _sub(el, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    desc = _sub(el, "description")
    ident = etree.SubElement(desc, f"{{{ID_NS}}}oai-identifier", nsmap={None: ID_NS, "xsi": XSI_NS})
    ident.set(f"{{{XSI_NS}}}schemaLocation", f"{ID_NS} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")
    for tag, value in (("scheme", "oai"), ("repositoryIdentifier", repository_host()), ("delimiter", ":"),
                       ("sampleIdentifier", oai_identifier("000001"))):
        _sub(ident, f"{{{ID_NS}}}{tag}", value)


def _exists(identifier: str) -> Record | RecordTombstone:
    control = control_number_of(identifier)
    found = None
    if control:
        found = db.session.scalar(select(Record).where(Record.control_number == control, Record.hidden.is_(False))) or db.session.scalar(
            select(RecordTombstone).where(RecordTombstone.control_number == control))
    if found is None:
        raise OAIError("idDoesNotExist", f"No record has the identifier {identifier}.")
    return found


def list_metadata_formats(root, args) -> None:
    if "identifier" in args:
        _exists(args["identifier"])
    el = _sub(root, "ListMetadataFormats")
    for prefix, (schema, ns) in FORMATS.items():
        fmt = _sub(el, "metadataFormat")
        _sub(fmt, "metadataPrefix", prefix)
        _sub(fmt, "schema", schema)
        _sub(fmt, "metadataNamespace", ns)


def all_sets() -> list[tuple[str, str]]:
    """(setSpec, setName) of every set: the three kinds, then their members."""
    sets = list(SET_KINDS.items())
    for (mt,) in db.session.execute(select(Record.material_type).distinct().order_by(Record.material_type)):
        sets.append((f"type:{mt}", material_types.of(mt).label))
    for code, name in db.session.execute(select(Location.code, Location.name).order_by(Location.code)):
        sets.append((f"location:{code}", name or code))
    for (col,) in db.session.execute(select(Item.collection).distinct().where(Item.collection.is_not(None))
                                     .order_by(Item.collection)):
        sets.append((f"collection:{col}", col))
    return sets


def list_sets(root, args) -> None:
    if "resumptionToken" in args:
        raise OAIError("badResumptionToken", "ListSets is complete in one response; this token is not valid.")
    el = _sub(root, "ListSets")
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        for spec, name in all_sets():
            s = _sub(el, "set")
            _sub(s, "setSpec", spec)
            _sub(s, "setName", name)


def _header(parent, entry) -> None:
    obj = entry[3]
    if isinstance(obj, RecordTombstone):
        h = _sub(parent, "header", status="deleted")
        _sub(h, "identifier", oai_identifier(obj.control_number))
        _sub(h, "datestamp", datestamp(obj.deleted_at))
        for spec in obj.sets.split():
            _sub(h, "setSpec", spec)
        return
    h = _sub(parent, "header", **({"status": "deleted"} if obj.withdrawn_at is not None else {}))
    _sub(h, "identifier", oai_identifier(obj.control_number))
    _sub(h, "datestamp", datestamp(obj.updated_at))
    for spec in record_set_specs(obj):
        _sub(h, "setSpec", spec)


def _dc(parent, rec: Record) -> None:
    dc = etree.SubElement(parent, f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    dc.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {FORMATS['oai_dc'][0]}")

    def add(tag, value):
        if value not in (None, ""):
            _sub(dc, f"{{{DC_NS}}}{tag}", value)

    add("title", rec.full_title)
    for a in rec.authors or []:
        add("creator" if a.get("role") in (None, "author") else "contributor", a.get("name"))
    for s in rec.subjects or []:
        add("subject", s)
    add("description", rec.summary)
    for n in rec.notes or []:
        add("description", n)
    add("publisher", rec.publisher)
    add("date", rec.year)
    add("type", material_types.of(rec.material_type).dc_type)
    add("type", rec.material_type)
    add("format", rec.physical)
    add("identifier", absolute_url("catalog.record", record_id=rec.id))
    for i in rec.isbns or []:
        add("identifier", f"urn:isbn:{i}")
    for i in rec.issns or []:
        add("identifier", f"urn:issn:{i}")
    for link in rec.links or []:
        add("identifier", link.get("url") if isinstance(link, dict) else link)
    for s in rec.series or []:
        add("relation", s)
    for lang in rec.languages or []:
        add("language", lang)


def _marc21(parent, rec: Record) -> None:
    xml = _INVALID_XML_BYTES.sub(b"", to_marcxml(record_marc(rec)))
    parent.append(etree.fromstring(xml))


def _record(parent, entry, prefix: str) -> None:
    el = _sub(parent, "record")
    _header(el, entry)
    obj = entry[3]
    if isinstance(obj, Record) and obj.withdrawn_at is None:  # a withdrawn record is a deleted header
        meta = _sub(el, "metadata")
        (_dc if prefix == "oai_dc" else _marc21)(meta, obj)


def _check_prefix(prefix: str) -> None:
    if prefix not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"Metadata format {prefix} is not served (use oai_dc or marc21).")


def get_record(root, args) -> None:
    _check_prefix(args["metadataPrefix"])
    obj = _exists(args["identifier"])
    if isinstance(obj, Record):
        entry = (obj.updated_at, 0, obj.id, obj)
    else:
        entry = (obj.deleted_at, 1, obj.id, obj)
    _record(_sub(root, "GetRecord"), entry, args["metadataPrefix"])


def list_items(root, args, verb: str) -> None:
    if "resumptionToken" in args:
        query, cursor, total, offset = read_token(args["resumptionToken"], verb)
    else:
        query = ListQuery(verb, args["metadataPrefix"], args.get("set"), args.get("from"), args.get("until"))
        _check_prefix(query.prefix)
        query.bounds()
        cursor, total, offset = None, None, 0
    size = max(1, int(current_app.config["OAI_PAGE_SIZE"]))
    entries, more = fetch_page(query, cursor, size)
    if not entries and cursor is None:
        raise OAIError("noRecordsMatch", "No records match the request.")
    if total is None:
        total = count_matches(query)
    el = _sub(root, verb)
    for entry in entries:
        if verb == "ListRecords":
            _record(el, entry, query.prefix)
        else:
            _header(el, entry)
    if more or cursor is not None:
        expires = datetime.now(UTC) + timedelta(seconds=int(current_app.config["OAI_TOKEN_LIFETIME"]))
        attrs = {"completeListSize": str(max(total, offset + len(entries))), "cursor": str(offset)}
        if more:
            attrs["expirationDate"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        token = _sub(el, "resumptionToken", **attrs)
        if more:
            token.text = make_token(query, entries[-1][:3], total, offset + len(entries))


HANDLERS = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": lambda root, args: list_items(root, args, "ListIdentifiers"),
    "ListRecords": lambda root, args: list_items(root, args, "ListRecords"),
}


def respond(pairs: list[tuple[str, str]]) -> bytes:
    """The complete OAI-PMH response document to a request's (name, value) argument pairs."""
    root = etree.Element(f"{{{OAI_NS}}}OAI-PMH", nsmap={None: OAI_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _sub(root, "responseDate", datestamp(datetime.now(UTC)))
    request_el = _sub(root, "request", absolute_url("oai.endpoint"))
    try:
        verb, args = parse_arguments(pairs)
        request_el.set("verb", verb)
        for key, value in args.items():
            request_el.set(key, _text(value))
        HANDLERS[verb](root, args)
    except OAIError as exc:
        if exc.code in ("badVerb", "badArgument"):
            request_el.attrib.clear()
        for child in list(root)[2:]:
            root.remove(child)
        _sub(root, "error", exc.message, code=exc.code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
