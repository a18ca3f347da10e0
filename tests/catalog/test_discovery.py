"""Found by other tools: OpenSearch description, citation_* meta tags (Zotero, Google Scholar), COinS."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs

from lxml import etree


class Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.meta: list[tuple[str, str]] = []
        self.links: list[dict] = []
        self.coins: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and a.get("name", "").startswith("citation_"):
            self.meta.append((a["name"], a["content"]))
        elif tag == "link":
            self.links.append(a)
        elif tag == "span" and a.get("class") == "Z3988":
            self.coins.append(a["title"])


def test_opensearch_description_is_linked_and_valid(client):
    page = Page(client.get("/").get_data(as_text=True))
    link = next(x for x in page.links if x.get("rel") == "search")
    assert link["type"] == "application/opensearchdescription+xml" and link["href"] == "/opensearch.xml"
    r = client.get(link["href"])
    assert r.status_code == 200 and r.mimetype == "application/opensearchdescription+xml"
    assert "public" in r.headers["Cache-Control"]
    root = etree.fromstring(r.data)
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    assert root.tag == "{http://a9.com/-/spec/opensearch/1.1/}OpenSearchDescription"
    assert 0 < len(root.findtext("os:ShortName", namespaces=ns)) <= 16
    html = root.find("os:Url[@type='text/html']", ns).get("template")
    assert html.startswith("https://opac.test/search?q={searchTerms}")
    # the template works when a browser fills it in
    assert client.get(html.replace("https://opac.test", "").replace("{searchTerms}", "laskar")
                      .replace("{startPage?}", "1")).status_code == 200


def test_citation_meta_tags_on_record_page(client, make_record):
    rid = make_record(title="Laskar Pelangi", subtitle="sebuah novel", year=2005, publisher="Bentang Pustaka",
                      authors=[{"name": "Hirata, Andrea", "role": "author"},
                               {"name": "Kurniawan, Eka", "role": "editor"}],
                      isbns=["9789793062792"], languages=["ind"])
    page = Page(client.get(f"/record/{rid}").get_data(as_text=True))
    meta = page.meta
    assert ("citation_title", "Laskar Pelangi: sebuah novel") in meta
    assert [v for k, v in meta if k == "citation_author"] == ["Hirata, Andrea", "Kurniawan, Eka"]
    assert ("citation_publication_date", "2005") in meta
    assert ("citation_publisher", "Bentang Pustaka") in meta
    assert ("citation_isbn", "9789793062792") in meta
    assert ("citation_language", "ind") in meta
    assert len(page.coins) == 1
    ctx = parse_qs(page.coins[0])
    assert ctx["ctx_ver"] == ["Z39.88-2004"] and ctx["rft_val_fmt"] == ["info:ofi/fmt:kev:mtx:book"]
    assert ctx["rft.btitle"] == ["Laskar Pelangi: sebuah novel"]
    assert ctx["rft.au"] == ["Hirata, Andrea", "Kurniawan, Eka"]
    assert ctx["rft.isbn"] == ["9789793062792"] and ctx["rft.date"] == ["2005"]
    assert ctx["rft_id"] == [f"https://opac.test/record/{rid}"]


def test_coins_on_search_results_escape_markup(client, make_record):
    make_record(title='Sejarah "Jawa" <script>alert(1)</script>', authors=[{"name": "Ricklefs, M. C.", "role": "author"}],
                year=1991)
    make_record(title="Sejarah Sumatra", material_type="article")
    html = client.get("/search?q=sejarah").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    page = Page(html)
    assert len(page.coins) == 2
    parsed = [parse_qs(c) for c in page.coins]
    titles = {p.get("rft.btitle", p.get("rft.atitle", [""]))[0] for p in parsed}
    assert titles == {'Sejarah "Jawa" <script>alert(1)</script>', "Sejarah Sumatra"}
    article = next(p for p in parsed if "rft.atitle" in p)
    assert article["rft_val_fmt"] == ["info:ofi/fmt:kev:mtx:journal"] and article["rft.genre"] == ["article"]
