"""A small OAI-PMH 2.0 harvester client: the standard library's HTTP and lxml's parser, nothing else.

Every way a repository can fail us — refused connection, timeout, an HTTP error, a page that is not
XML, an OAI-PMH error such as ``badResumptionToken`` — raises ``PartnerDown`` with a message that
says which; ``noRecordsMatch`` is not a failure but an empty list.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from lxml import etree

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
NS = {"o": OAI_NS}
#: A page larger than this is refused (a repository gone wrong, not a catalogue).
MAX_PAGE_BYTES = 64 * 1024 * 1024
#: No entities, no network, no DTDs: a repository's XML is data.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_blank_text=True)


class PartnerDown(Exception):
    """The repository cannot be harvested now; the message says why. Retried on the next harvest."""


@dataclass
class Header:
    identifier: str
    datestamp: str
    deleted: bool = False


@dataclass
class Page:
    """One response of a list request: its records (header, metadata element or None) and where to go on."""

    response_date: str
    records: list[tuple[Header, etree._Element | None]] = field(default_factory=list)
    token: str | None = None
    complete_list_size: int | None = None


@dataclass
class Repository:
    name: str
    granularity: str
    earliest: str | None


class Client:
    """Requests to one OAI-PMH base URL."""

    def __init__(self, base_url: str, *, timeout: float = 60.0, user_agent: str = "opac-harvester/1.0"):
        self.base_url = base_url
        self.timeout = timeout
        self.user_agent = user_agent

    def request(self, **params) -> etree._Element:
        """The parsed response to a GET with ``params``; raises PartnerDown (OAI-PMH errors included)."""
        sep = "&" if "?" in self.base_url else "?"
        url = self.base_url + sep + urlencode(params)
        req = urllib.request.Request(url, headers={"User-Agent": self.user_agent, "Accept": "text/xml"})  # noqa: S310 - staff-given http(s) URL
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                body = resp.read(MAX_PAGE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise PartnerDown(f"HTTP {exc.code} {exc.reason} from {self.base_url}") from None
        except urllib.error.URLError as exc:
            raise PartnerDown(f"cannot reach {self.base_url}: {exc.reason}") from None
        except TimeoutError:
            raise PartnerDown(f"{self.base_url} did not answer within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise PartnerDown(f"connection to {self.base_url} failed: {exc}") from None
        if len(body) > MAX_PAGE_BYTES:
            raise PartnerDown(f"a response of {self.base_url} is larger than {MAX_PAGE_BYTES // 2**20} MB")
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise PartnerDown(f"{self.base_url} answered {params.get('verb')} with XML that is not well formed: "
                              f"{exc}") from None
        if root.tag != f"{{{OAI_NS}}}OAI-PMH":
            raise PartnerDown(f"{self.base_url} is not an OAI-PMH repository (root element {root.tag})")
        return root

    @staticmethod
    def _error(root) -> tuple[str, str] | None:
        err = root.find("o:error", NS)
        return (err.get("code") or "", (err.text or "").strip()) if err is not None else None

    def _checked(self, root, verb: str) -> etree._Element:
        err = self._error(root)
        if err:
            raise PartnerDown(f"{verb}: OAI-PMH error {err[0]}" + (f" ({err[1]})" if err[1] else ""))
        return root

    def identify(self) -> Repository:
        root = self._checked(self.request(verb="Identify"), "Identify")
        ident = root.find("o:Identify", NS)
        if ident is None:
            raise PartnerDown("Identify: no Identify element in the response")
        return Repository(name=ident.findtext("o:repositoryName", "", NS).strip(),
                          granularity=ident.findtext("o:granularity", "YYYY-MM-DD", NS).strip(),
                          earliest=ident.findtext("o:earliestDatestamp", None, NS))

    def list_records(self, prefix: str, *, set_spec: str | None = None, from_: str | None = None) -> Iterator[Page]:
        """ListRecords page by page, following resumption tokens (an empty page for noRecordsMatch)."""
        params = {"verb": "ListRecords", "metadataPrefix": prefix}
        if set_spec:
            params["set"] = set_spec
        if from_:
            params["from"] = from_
        while True:
            root = self.request(**params)
            page = Page(response_date=(root.findtext("o:responseDate", "", NS) or "").strip())
            err = self._error(root)
            if err and err[0] == "noRecordsMatch" and "resumptionToken" not in params:
                yield page
                return
            self._checked(root, "ListRecords")
            body = root.find("o:ListRecords", NS)
            if body is None:
                raise PartnerDown("ListRecords: no ListRecords element in the response")
            for rec in body.findall("o:record", NS):
                h = rec.find("o:header", NS)
                if h is None:
                    continue
                header = Header(identifier=(h.findtext("o:identifier", "", NS) or "").strip(),
                                datestamp=(h.findtext("o:datestamp", "", NS) or "").strip(),
                                deleted=h.get("status") == "deleted")
                meta = rec.find("o:metadata", NS)
                page.records.append((header, meta[0] if meta is not None and len(meta) else None))
            tok = body.find("o:resumptionToken", NS)
            if tok is not None:
                page.token = (tok.text or "").strip() or None
                size = tok.get("completeListSize")
                page.complete_list_size = int(size) if size and size.isdigit() else None
            yield page
            if not page.token:
                return
            params = {"verb": "ListRecords", "resumptionToken": page.token}
