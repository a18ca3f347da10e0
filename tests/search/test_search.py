"""Search features through the JSON API and the HTML page."""

from __future__ import annotations

import re
from collections import Counter
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st

CATALOG = [
    dict(title="Laskar Pelangi", authors=["Hirata, Andrea"], year=2005, subjects=["Fiksi Indonesia", "Pendidikan -- Belitung"],
         isbns=["9789793062792"], call_number="899.221 3 HIR l", publisher="Bentang Pustaka",
         items=[{"barcode": "LP1", "location": "PUSAT"}, {"barcode": "LP2", "location": "FKIP", "status": "on_loan"}]),
    dict(title="Sang Pemimpi", authors=["Hirata, Andrea"], year=2006, subjects=["Fiksi Indonesia"],
         items=[{"barcode": "SP1", "location": "PUSAT", "status": "on_loan"}]),
    dict(title="Belajar dan Pembelajaran", authors=["Dimyati", "Mudjiono"], year=2006, subjects=["Pembelajaran", "Psikologi pendidikan"],
         call_number="370.15 DIM b", items=[{"barcode": "BP1", "location": "FKIP"}]),
    dict(title="Strategi Pembelajaran Berorientasi Standar Proses Pendidikan", authors=["Sanjaya, Wina"], year=2006,
         subjects=["Pembelajaran"]),
    dict(title="Pengantar Ilmu Perpustakaan", authors=["Sulistyo-Basuki"], year=1991, subjects=["Ilmu perpustakaan"],
         items=[{"barcode": "PIP1", "location": "PUSAT"}]),
    dict(title="Manajemen Perpustakaan Sekolah", authors=["Lasa Hs"], year=2005, subjects=["Perpustakaan sekolah"]),
    dict(title="Sains 3", subtitle="untuk SD Kelas III", authors=["Tim Penulis"], year=2010, subjects=["Sains -- Buku pelajaran"]),
    dict(title="Sains 4", subtitle="untuk SD Kelas IV", authors=["Tim Penulis"], year=2010, subjects=["Sains -- Buku pelajaran"]),
    dict(title="Matematika Kelas XII", authors=["Kemendikbud"], year=2018, subjects=["Matematika"]),
    dict(title="Kalkulus Jilid 2", authors=["Purcell, Edwin J."], year=1987, subjects=["Kalkulus"]),
    dict(title="Kalkulus Jilid 1", authors=["Purcell, Edwin J."], year=1987, subjects=["Kalkulus"]),
    dict(title="Histoire littéraire du Canada", authors=["Roy, Camille"], year=1930, languages=["fre"], subjects=["Littérature"]),
    dict(title="The Hobbit", subtitle="or, There and Back Again", authors=["Tolkien, J. R. R."], year=1937, languages=["eng"],
         subjects=["Fantasy fiction"], items=[{"barcode": "HB1", "location": "PUSAT"}]),
    dict(title="Libraries in the modern world", authors=["Smith, Anne"], year=2015, languages=["eng"], subjects=["Libraries"]),
    dict(title="A history of computers", authors=["Ceruzzi, Paul"], year=2003, languages=["eng"], subjects=["Computers -- History"],
         notes=["Mentions the hobbit of computing lore"]),
    dict(title="Computing with Python", authors=["Guttag, John"], year=2016, languages=["eng"], subjects=["Python (Computer program language)"],
         isbns=["9780262529624"], material_type="ebook"),
    dict(title="Jurnal Pustakawan Indonesia", authors=[], year=2002, material_type="journal", issns=["1411-0253"],
         subjects=["Ilmu perpustakaan -- Terbitan berkala"]),
    dict(title="Skripsi tentang perpustakaan desa", authors=["Mahasiswa, Contoh"], year=2021, material_type="thesis",
         subjects=["Perpustakaan desa"]),
]


@pytest.fixture
def catalog(load_records):
    ids = load_records(CATALOG)
    return {row["title"]: rid for row, rid in zip(CATALOG, ids)}


def titles(result):
    return [h["title"] for h in result["hits"]]


def test_all_words_must_match_with_fallback(catalog, search_api):
    r = search_api("laskar pelangi")
    assert titles(r) == ["Laskar Pelangi"] and r["total"] == 1 and not r["fallback"]
    r = search_api("laskar hobbit")  # no record has both: graceful fallback
    assert r["fallback"] is True and {"Laskar Pelangi", "The Hobbit"} <= set(titles(r))


def test_indonesian_affixes(catalog, search_api):
    assert {"Belajar dan Pembelajaran", "Strategi Pembelajaran Berorientasi Standar Proses Pendidikan"} <= set(titles(search_api("belajar")))
    got = set(titles(search_api("pustaka")))
    assert {"Pengantar Ilmu Perpustakaan", "Manajemen Perpustakaan Sekolah"} <= got
    assert "Pembelajaran" not in titles(search_api("pustaka"))


def test_english_stemming_and_accent_folding(catalog, search_api):
    assert "Libraries in the modern world" in titles(search_api("library"))
    assert "A history of computers" in titles(search_api("computer history"))
    assert titles(search_api("litteraire")) == ["Histoire littéraire du Canada"]


def test_numbers_and_roman_numerals_are_kept(catalog, search_api):
    assert titles(search_api("sains 3")) == ["Sains 3"]
    assert titles(search_api("kalkulus jilid 2"))[0] == "Kalkulus Jilid 2"
    assert search_api("kalkulus jilid 2")["total"] == 1
    assert titles(search_api("kelas xii")) == ["Matematika Kelas XII"]


@pytest.mark.parametrize("q", ["9789793062792", "978-979-3062-79-2", "979-3062-79-7", "9793062797", "978 979 3062 79 2",
                                "isbn:979-3062-79-7"])
def test_isbn_in_any_form(catalog, search_api, q):
    assert titles(search_api(q)) == ["Laskar Pelangi"]


def test_issn_search(catalog, search_api):
    assert titles(search_api("1411-0253")) == ["Jurnal Pustakawan Indonesia"]
    assert titles(search_api("issn:14110253")) == ["Jurnal Pustakawan Indonesia"]


@pytest.mark.parametrize("q", ["899.221 3 HIR l", "899.221 3 hir L", "callnumber:899.221", "callnumber:\"899.221 3 HIR\""])
def test_call_number_as_typed(catalog, search_api, q):
    assert titles(search_api(q))[0] == "Laskar Pelangi"


def test_phrases_fields_and_prefix(catalog, search_api):
    assert titles(search_api('"pengantar ilmu"')) == ["Pengantar Ilmu Perpustakaan"]
    assert search_api('"ilmu pengantar"')["total"] == 0
    # longer phrases: every word pair indexed, and the words really next to each other, in order
    assert titles(search_api('"pembelajaran berorientasi standar"'))[0].startswith("Strategi")
    assert search_api('"pembelajaran standar berorientasi"')["total"] == 0
    assert titles(search_api('"history of computers"')) == ["A history of computers"]
    assert titles(search_api('title:"laskar pelangi"')) == ["Laskar Pelangi"]
    # a phrase never runs from one field into the next (title ... author)
    assert search_api('"pelangi andrea"')["total"] == 0
    assert search_api('"pelangi hirata"')["total"] == 0
    assert set(titles(search_api("author:hirata"))) == {"Laskar Pelangi", "Sang Pemimpi"}
    assert set(titles(search_api("pengarang:hirata"))) == {"Laskar Pelangi", "Sang Pemimpi"}
    assert titles(search_api("title:hobbit")) == ["The Hobbit"]  # the notes mention never count for title:
    assert set(titles(search_api("subject:kalkulus"))) == {"Kalkulus Jilid 1", "Kalkulus Jilid 2"}
    assert set(titles(search_api("comput*"))) == {"A history of computers", "Computing with Python"}
    assert set(titles(search_api("year:2005"))) == {"Laskar Pelangi", "Manajemen Perpustakaan Sekolah"}
    assert set(titles(search_api("year:[1980 TO 1995]"))) == {"Kalkulus Jilid 1", "Kalkulus Jilid 2", "Pengantar Ilmu Perpustakaan"}
    assert "Sang Pemimpi" not in titles(search_api("hirata -pemimpi"))
    assert set(titles(search_api("hobbit OR pemimpi"))) >= {"The Hobbit", "Sang Pemimpi"}


def test_relevance_title_beats_notes_and_exact_title_first(catalog, search_api):
    r = search_api("hobbit")
    assert titles(r)[:2] == ["The Hobbit", "A history of computers"]
    assert titles(search_api("strategi pembelajaran berorientasi standar proses pendidikan"))[0].startswith("Strategi")
    assert titles(search_api("hirata pemimpi"))[0] == "Sang Pemimpi"  # surname + title word


def test_typo_found_and_did_you_mean(catalog, search_api):
    r = search_api("laskar pelanhi")
    assert titles(r)[0] == "Laskar Pelangi"
    assert r["corrected"] == {"pelanhi": "pelangi"}
    assert titles(search_api("laskar pelangy"))[0] == "Laskar Pelangi"
    r = search_api("perpustakan")
    assert r["did_you_mean"] == "perpustakaan"
    for q in ["1411-0253x", "---", "c++ -- ::", "978-0-00-000000-0 hobbitt"]:
        search_api(q)  # did-you-mean must survive hyphens, ISSNs and punctuation


def test_facets_counts_match_direct_counts(catalog, search_api):
    r = search_api("", type="book")
    books = [row for row in CATALOG if row.get("material_type", "book") == "book"]
    assert r["total"] == len(books)
    # most documents match: counted through the complement; must equal a direct count
    direct_lang: dict = {}
    for row in books:
        for lang in row.get("languages", ["ind"]):
            direct_lang[lang] = direct_lang.get(lang, 0) + 1
    assert {f["value"]: f["count"] for f in r["facets"]["language"]} == direct_lang
    direct_subj: dict = {}
    for row in books:
        for subj in dict.fromkeys(x.split(" -- ")[0] for x in row.get("subjects", [])):
            direct_subj[subj] = direct_subj.get(subj, 0) + 1
    got = {f["value"]: f["count"] for f in r["facets"]["subject"]}
    assert all(direct_subj[k] == v for k, v in got.items()) and len(got) == min(12, len(direct_subj))
    r = search_api("perpustakaan", size=100)
    facets = {f["value"]: f["count"] for f in r["facets"]["type"]}
    direct: dict = {}
    for h in r["hits"]:
        direct[h["material_type"]] = direct.get(h["material_type"], 0) + 1
    assert facets == direct and facets["journal"] == 1 and facets["thesis"] == 1 and facets["book"] >= 2
    langs = {f["value"]: f["count"] for f in search_api("computers OR library OR hobbit")["facets"]["language"]}
    assert langs["eng"] == 4
    avail = search_api("hirata")["facets"]["available"][0]
    assert avail["count"] == 1  # Laskar Pelangi has a copy on the shelf; Sang Pemimpi is on loan
    assert titles(search_api("hirata", available="1")) == ["Laskar Pelangi"]
    locs = {f["value"]: f["count"] for f in search_api("hirata")["facets"]["location"]}
    assert locs == {"PUSAT": 2, "FKIP": 1}
    years = {f["value"]: f["count"] for f in search_api("kalkulus OR perpustakaan")["facets"]["year"]}
    assert years["1980-1989"] == 2 and years["1990-1999"] == 1


def test_filters_combine_and_within_or(catalog, search_api):
    r = search_api("perpustakaan", type=["journal", "thesis"])
    assert set(titles(r)) == {"Jurnal Pustakawan Indonesia", "Skripsi tentang perpustakaan desa"}
    r = search_api("perpustakaan", type=["journal", "thesis"], year="2020-")
    assert titles(r) == ["Skripsi tentang perpustakaan desa"]
    r = search_api("", subject="Kalkulus", author="Purcell, Edwin J.")
    assert r["total"] == 2


def test_sorts_and_pagination(catalog, search_api):
    r = search_api("", type="book", sort="newest", size=3)
    years = [h["year"] for h in r["hits"]]
    assert years == sorted(years, reverse=True) and r["pages"] == -(-r["total"] // 3)
    r = search_api("", type="book", sort="oldest", size=50)
    ys = [h["year"] for h in r["hits"]]
    assert ys == sorted(ys)
    r = search_api("", type="book", sort="title", size=50)
    keys = [t.lower().removeprefix("the ").removeprefix("a ") for t in titles(r)]
    assert keys == sorted(keys)
    r = search_api("", type="book", sort="author", size=50)
    first = [h["authors"][0].lower() for h in r["hits"] if h["authors"]]
    assert first == sorted(first)
    seen = []
    for page in (1, 2, 3):
        seen += [h["id"] for h in search_api("", type="book", size=5, page=page)["hits"]]
    assert len(seen) == len(set(seen)) == min(15, search_api("", type="book")["total"])


def test_highlighting_marks_matches_and_escapes(catalog, search_api, load_records):
    load_records([dict(title="<script>alert(1)</script> pelangi", authors=["X"])])
    r = search_api("pelangi")
    hl = {h["title"]: h["highlight"]["title"] for h in r["hits"]}
    assert hl["Laskar Pelangi"] == "Laskar <mark>Pelangi</mark>"
    bad = next(v for k, v in hl.items() if k.startswith("<script>"))
    assert "<script>" not in bad and "&lt;script&gt;" in bad and "<mark>pelangi</mark>" in bad


def test_json_hit_shape(catalog, search_api):
    hit = search_api("laskar pelangi")["hits"][0]
    for key in ("id", "control_number", "title", "authors", "year", "material_type", "languages", "isbns", "availability"):
        assert key in hit
    assert hit["availability"]["total"] == 2 and hit["availability"]["available"] == 1
    assert hit["isbns"] == ["9789793062792"] and hit["languages"] == ["ind"]


def test_suggestions(catalog, client):
    data = client.get("/api/v1/suggest?q=laskar pel").get_json()
    assert data["suggestions"][0]["label"] == "Laskar Pelangi" and data["suggestions"][0]["type"] == "title"
    data = client.get("/api/v1/suggest?q=tolk").get_json()
    assert {"type": "author", "label": "Tolkien, J. R. R."}.items() <= data["suggestions"][0].items()
    data = client.get("/api/v1/suggest?q=kalku").get_json()
    assert any(s["type"] in ("title", "subject") and "Kalkulus" in s["label"] for s in data["suggestions"])
    assert client.get("/api/v1/suggest?q=").get_json()["suggestions"] == []


def test_html_results_page(catalog, client):
    page = client.get("/search?q=hirata").get_data(as_text=True)
    assert "Laskar Pelangi" in page and "Sang Pemimpi" in page
    assert 'href="/record/' in page
    assert "<mark>Hirata</mark>" in page
    zero = client.get("/search?q=zzzqqq&type=book").get_data(as_text=True)
    helps = zero.split('class="zero-results"')[1].split("</ul>")[0]
    assert 'href="/search?q=zzzqqq"' in helps  # search again without the filter


def test_empty_and_symbol_only_queries_say_so(catalog, client, search_api):
    r = search_api("((( AND OR >< 🙂")
    assert r["total"] == 0 and "no_terms" in r["messages"]
    assert client.get("/api/v1/search?q=").status_code == 400


def test_year_range_counts_match_a_direct_count():
    import numpy as np

    from opac.search.services import _year_counts
    from opac.search.vocabulary import YEAR_RANGES

    rng = np.random.default_rng(7)
    for _ in range(200):
        years = rng.integers(1, 4000, size=int(rng.integers(0, 60))).astype(np.int32)
        direct = [int(((years >= (lo or 0)) & (years <= (hi if hi is not None else 10**9))).sum()) for lo, hi in YEAR_RANGES]
        assert _year_counts(years) == direct


def test_the_search_backend_answers_facets_alone(app, catalog):
    from opac.search.interface import SearchParams
    from opac.search.services import backend

    with app.test_request_context():
        facets = backend().facets(SearchParams.build(q="hirata", size=1))
        page = backend().search(SearchParams.build(q="hirata"))
    assert {v.value: v.count for v in facets["type"]} == {"book": 2}
    assert facets == page.facets


def test_the_search_page_with_nothing_asked_offers_the_catalogue_to_browse(client, catalog):
    page = unescape(client.get("/search").get_data(as_text=True))
    assert "Jelajahi katalog" in page  # "Browse the catalogue"
    by_type = dict(re.findall(r'href="/search\?type=(\w+)"[^>]*>[^<]+<span class="count">(\d+)</span>', page))
    assert {t: int(n) for t, n in by_type.items()} == dict(Counter(r.get("material_type", "book") for r in CATALOG))
    languages = re.findall(r'href="/search\?language=(\w+)"', page)
    assert languages[:2] == ["ind", "eng"]  # most records first
    # each value is a search by that filter
    thesis = unescape(client.get("/search?type=thesis").get_data(as_text=True))
    assert 'data-total="1"' in thesis and "Skripsi tentang perpustakaan desa" in thesis


@given(text=st.text(alphabet="abcXYZ019 -_.,'&<>#", max_size=40),
       needles=st.lists(st.text(alphabet="abcxyz019_-", min_size=1, max_size=3), min_size=1, max_size=4))
def test_the_highlighters_needle_search_finds_the_words_a_walk_over_every_word_finds(text, needles):
    """The highlighter looks in an ASCII title only at the words around the query's needles
    (``needle_words``): the same words as walking every word (``WORD_RE``) and keeping those
    that contain a needle."""
    from opac.search.analysis import WORD_RE, fold
    from opac.search.services import needle_words

    folded = fold(text)
    expected = [m.span() for m in WORD_RE.finditer(text) if any(n in fold(m.group()) for n in needles)]
    assert needle_words(folded, tuple(needles)) == expected


def test_the_highlighters_needle_search_goes_on_after_a_word_found():
    """A title of one long run of letters (junk in a MARC record) with the needle throughout: the
    search goes on after the word, not from each occurrence (which walked the whole word again:
    quadratic, seconds for one title)."""
    from opac.search.services import needle_words

    class Counted(str):
        finds = 0

        def find(self, *args):
            Counted.finds += 1
            return super().find(*args)

    assert needle_words(Counted("a" * 5000 + " bab"), ("a",)) == [(0, 5000), (5001, 5004)]
    assert Counted.finds == 3  # the long word, the short one, then no more
