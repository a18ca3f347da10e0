"""The engine and the executor on a small index built in a temporary directory (no app, no
database, no HTTP): segment sidecars against what Whoosh decodes, scoring, phrases, filters and
facets against counts made by hand."""

from __future__ import annotations

import sys
from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from opac.catalog.models import Record
from opac.search import executor, segments
from opac.search import index as idx
from opac.search.analysis import query_variants
from opac.search.documents import build_document
from opac.search.engine import Engine, Snapshot, WordResults
from opac.search.executor import Executor, filter_mask, pseudo_frequencies
from opac.search.query import Word, YearRange, parse
from opac.search.schema import TEXT_FIELDS
from opac.search.segments import (
    EMPTY_IDS,
    SIDECAR_PREFIX,
    SIDECAR_WRITE,
    Sidecar,
    TermKeys,
    WhooshSegment,
    read_postings,
    sidecar_path,
    term_hash,
    write_sidecar,
)

BOOKS = [
    ("Laskar Pelangi", "Hirata, Andrea", 2005, ["Fiksi Indonesia", "Pendidikan -- Belitung"], "book"),
    ("Sang Pemimpi", "Hirata, Andrea", 2006, ["Fiksi Indonesia"], "book"),
    ("Laskar Pelangi", "Riza, Riri", 2008, ["Film Indonesia"], "audiovisual"),
    ("Belajar dan Pembelajaran", "Dimyati", 2006, ["Pembelajaran", "Psikologi pendidikan"], "book"),
    ("Pengantar Ilmu Perpustakaan", "Sulistyo-Basuki", 1991, ["Ilmu perpustakaan"], "book"),
    ("Manajemen Perpustakaan Sekolah", "Lasa Hs", 2005, ["Perpustakaan sekolah"], "book"),
    ("The Hobbit", "Tolkien, J. R. R.", 1937, ["Fantasy fiction"], "book"),
    ("A history of computers", "Ceruzzi, Paul", 2003, ["Computers -- History"], "book"),
    ("Computing with Python", "Guttag, John", 2016, ["Python (Computer program language)"], "ebook"),
    ("Climate adaptation policy in Indonesia", "Smith, Anne", 2019, ["Climate change -- Government policy"], "book"),
]


def record(i: int, title: str, author: str, year: int, subjects: list[str], kind: str, notes=()) -> Record:
    return Record(id=i, control_number=f"c{i}", title=title, authors=[{"name": author}], subjects=subjects,
                  languages=["ind"], isbns=[], issns=[], series=[], notes=list(notes), year=year, material_type=kind)


@pytest.fixture
def index_dir(tmp_path):
    """Two segments (the second written by a later commit) and one record replaced."""
    return _write_index(tmp_path, idx.codec)


def _write_index(tmp_path, codec):
    path, ix = idx.new_generation(tmp_path)
    w = ix.writer(codec=codec())
    for i, row in enumerate(BOOKS[:7], 1):
        w.add_document(**build_document(record(i, *row)))
    w.commit()
    w = ix.writer(codec=codec())
    for i, row in enumerate(BOOKS[7:], 8):
        w.add_document(**build_document(record(i, *row)))
    # record 5 edited: deleted in the first segment, added again in the second
    w.update_document(**build_document(record(5, *BOOKS[4][:4], "thesis")))
    w.commit(merge=False)
    idx.make_current(tmp_path, path)
    return tmp_path


def snapshot(index_dir) -> Snapshot:
    return Snapshot(Engine(), idx.open_index(index_dir).searcher())


def ids(snap: Snapshot, mask: np.ndarray) -> set[int]:
    return {snap.hit(d)["id"] for d in np.flatnonzero(mask)}


def ranked(snap: Snapshot, query: str) -> list[int]:
    ev = Executor(snap).evaluate(parse(query))
    docs = np.flatnonzero(ev.mask)
    return [snap.hit(d)["id"] for d in docs[np.argsort(-ev.score[docs], kind="stable")]]


def test_a_small_segments_dict_finds_what_the_sorted_search_finds(index_dir, monkeypatch):
    """A small segment looks a few terms up in a Python dict (``DICT_TERMS_MAX``, ``DICT_KEYS_MAX``),
    more of them by a sorted search of its arrays: the same terms found either way."""
    from opac.search import segments

    snap = snapshot(index_dir)
    pairs = [(f, t) for f in ("all", "title", "author", "f_type", "shingles")
             for t in ("laskar", "pelangi", "hirata", "book", "laskar pelangi", "nothing", "hobbit")]
    keys = TermKeys(pairs)

    missing = TermKeys([("all", "nothing"), ("title", "hobbits"), ("f_type", "laskar")])

    def found(store, keys=keys):
        return {i: (g[0].tolist(), g[1].tolist()) for i, g in store.found(keys)}

    for leaf in snap.leaves:
        by_dict = found(leaf.store)
        assert len(pairs) <= segments.DICT_KEYS_MAX and 0 < len(by_dict) < len(pairs)
        assert found(leaf.store, missing) == {}  # none held: one look at the dict's keys
        monkeypatch.setattr(segments, "DICT_TERMS_MAX", 0)
        assert found(leaf.store) == by_dict
        assert found(leaf.store, missing) == {}
        monkeypatch.undo()


def test_a_key_is_found_alike_by_a_small_segments_dict_and_by_sorted_search(index_dir, monkeypatch):
    from opac.search import engine
    from opac.search.analysis import normalize_phrase
    from opac.search.documents import hash64

    snap = snapshot(index_dir)
    keys = [hash64(normalize_phrase(t)) for t in ("Laskar Pelangi", "The Hobbit", "no such title")]
    by_dict = [snap.docs_with_key("title_key", k).tolist() for k in keys]
    assert len(by_dict[0]) == 2 and len(by_dict[1]) == 1 and by_dict[2] == []
    monkeypatch.setattr(engine, "KEYS_BY_DICT", 0)
    assert [Snapshot(Engine(), snap.searcher).docs_with_key("title_key", k).tolist() for k in keys] == by_dict


def test_every_segment_has_a_sidecar_that_reads_as_whoosh_decodes(index_dir):
    snap = snapshot(index_dir)
    assert len(snap.leaves) == 2 and all(isinstance(leaf.store, Sidecar) for leaf in snap.leaves)
    # separate files, read in place (a compound file's parts are copied into each worker's memory)
    assert not list(idx.current_path(index_dir).glob("*.seg"))
    for leaf in snap.leaves:
        reader = next(r for r, _ in snap.searcher.reader().leaf_readers() if r._segment.segment_id() == leaf.segid)
        plain = WhooshSegment(reader, snap.engine.postings)
        for field, term in (("all", "laskar"), ("title", "pelangi"), ("f_type", "book"), ("all", "nothing"),
                            ("shingles", "laskar pelangi"), ("author", "hirata")):
            got, want = leaf.store.postings(field, term), read_postings(reader, field, term)
            assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
            assert leaf.store.doc_frequency(field, term) == plain.doc_frequency(field, term)
        for field in ("all", "title", "author", "subject"):
            assert leaf.store.lengths(field).tolist() == plain.lengths(field).tolist()
        for name in ("year", "title_key", "sort_title"):
            assert leaf.store.column(name).tolist() == plain.column(name).tolist()
        assert leaf.store.prefix_terms("all", "pe", 5) == plain.prefix_terms("all", "pe", 5)
        words = TermKeys([("all", w) for w in ("perpustakaan", "laskar", "1991", "zzz", "_pustaka")])
        dfs = {}
        for name, store in (("sidecar", leaf.store), ("whoosh", plain)):
            dfs[name] = np.ones(len(words.pairs), dtype=np.int64)  # added to what is there
            store.add_word_dfs(words, dfs[name])
        assert dfs["sidecar"].tolist() == dfs["whoosh"].tolist() and dfs["sidecar"].max() > 1


def test_a_sidecar_written_in_pieces_reads_back_whole(tmp_path):
    n = SIDECAR_WRITE  # each array of this many documents takes several pieces
    path = write_sidecar(tmp_path, "s", n, {"all": (0, 1)}, [b"word"], array("q", [0, n]), array("i", range(n)),
                         array("f", [2.0] * n), (None, None), array("q", [0]), array("i"),
                         {"year": (array("i", range(n)), list(range(n)))})
    side = Sidecar(path)
    ids, tf = side.postings("all", "word")
    assert ids.tolist() == list(range(n)) and tf.tolist() == [2.0] * n
    assert side.column("year").tolist() == list(range(n))


@pytest.fixture
def whoosh_dir(tmp_path):
    """The same index written with Whoosh's own codec: no sidecars, every term in Whoosh's files."""
    return _write_index(tmp_path / "whoosh", lambda: W3Codec(blocklimit=512, inlinelimit=8))


def test_without_sidecars_the_same_answers(index_dir, whoosh_dir):
    queries = ["laskar pelangi", "perpustakaan", '"ilmu perpustakaan"', "title:pelangi", "perpus*", "pembelajran",
               "hirata -pemimpi", "climate policy"]
    with_sidecar = snapshot(index_dir)
    assert all(isinstance(leaf.store, Sidecar) for leaf in with_sidecar.leaves)
    plain = snapshot(whoosh_dir)
    assert all(isinstance(leaf.store, WhooshSegment) for leaf in plain.leaves)
    assert [ranked(plain, q) for q in queries] == [ranked(with_sidecar, q) for q in queries]


@pytest.mark.parametrize("damage", ["truncated", "garbled", "empty", "missing"])
def test_a_damaged_sidecar_makes_the_index_corrupt(index_dir, damage):
    """A segment's terms are in its sidecar alone: one cut short, overwritten, emptied or removed makes
    the index corrupt (so the follower rebuilds it), never a segment searched as if it were empty."""
    files = sorted(idx.current_path(index_dir).glob(f"{SIDECAR_PREFIX}*"))
    data = files[0].read_bytes()
    if damage == "missing":
        files[0].unlink()
    else:
        files[0].write_bytes({"truncated": data[: len(data) // 2], "garbled": b"x" * len(data), "empty": b""}[damage])
    assert "corrupt" in idx.check_index(index_dir)
    with pytest.raises(idx.IndexProblem):
        snapshot(index_dir)
    ix = whoosh_index.open_dir(str(idx.current_path(index_dir)))  # opened past the check: still refused
    with pytest.raises(ValueError, match="sidecar"):
        Snapshot(Engine(), ix.searcher())


@pytest.mark.parametrize("few_keys", [0, 6])  # found terms read one by one, or all at once
@pytest.mark.parametrize("dict_terms", [0, segments.DICT_TERMS_MAX])  # a sorted search, or a small segment's dict
def test_many_terms_looked_up_at_once_read_as_one_by_one(index_dir, tmp_path, monkeypatch, few_keys, dict_terms):
    monkeypatch.setattr(segments, "FEW_KEYS", few_keys)
    monkeypatch.setattr(segments, "DICT_TERMS_MAX", dict_terms)
    pairs = [("all", "laskar"), ("title", "pelangi"), ("all", "_pustaka"), ("author", "hirata"), ("all", "nothing"),
             ("subject", "laskar"), ("f_type", "book"), ("nofield", "laskar"), ("title", "pelangi")]
    keys = TermKeys(pairs + [("title", "littéraire")])
    assert keys.hashes.tolist() == [term_hash(f, t.encode("utf-8")) for f, t in keys.pairs]  # the sidecar's keys
    for sidecar, path in ((True, index_dir), (False, _write_index(tmp_path / "whoosh", W3Codec))):
        snap = snapshot(path)
        assert all(isinstance(leaf.store, Sidecar) == sidecar for leaf in snap.leaves)
        got = snap.postings_many(pairs)

        def one_by_one(f, t):  # each segment's own look-up of one term
            found = [(leaf.store.postings(f, t), leaf.offset) for leaf in snap.leaves]
            return ([d for (ids, _), off in found for d in (ids + off).tolist()],
                    [x for (_, tf), _ in found for x in tf.tolist()])

        held = [(f, t) for f, t in pairs if one_by_one(f, t)[0]]
        assert set(got) == set(held) and ("all", "_pustaka") in got and ("all", "nothing") not in got
        for key, (docs, tf) in got.items():
            assert (docs.tolist(), tf.tolist()) == one_by_one(*key), key


def test_a_merge_writes_one_sidecar_and_the_next_write_removes_the_dead_ones(index_dir):
    ix = idx.open_index(index_dir)
    w = ix.writer(codec=idx.codec())
    w.commit(optimize=True)
    (segment,) = ix._read_toc().segments
    w = ix.writer(codec=idx.codec())
    w.add_document(**build_document(record(20, "Kalkulus", "Purcell, Edwin", 1987, ["Kalkulus"], "book")))
    w.commit(merge=False)
    names = {p.name for p in idx.current_path(index_dir).glob(f"{SIDECAR_PREFIX}*")}
    assert sidecar_path(".", segment.segment_id()).name in names and len(names) == 2
    snap = snapshot(index_dir)
    assert snap.doc_count == 11 and ranked(snap, "kalkulus") == [20]


def test_hit_summaries_are_parsed_once_per_segment_and_forgotten_with_it(index_dir):
    engine = Engine()
    ix = idx.open_index(index_dir)
    before = Snapshot(engine, ix.searcher())
    first, second = before.leaves
    a, b = before.hit(first.offset), before.hit(second.offset)
    assert before.hit(first.offset) is a and before.hit(second.offset) is b  # parsed once
    w = ix.writer(codec=idx.codec())
    w.commit(optimize=True)  # both segments merged into one
    after = Snapshot(engine, ix.searcher())
    (merged,) = after.leaves
    del before, first, second  # the old snapshot out of use (it keeps its segments' summaries while in use)
    held = sys.getrefcount(a)
    engine.forget_unused({merged.segid})  # as the search service does for each new generation
    assert sys.getrefcount(a) == held - 1  # the engine no longer keeps the old segment's summaries
    assert set(engine.derived) == {merged.segid} and set(engine.stores) == {merged.segid}
    by_id = {after.hit(d)["id"]: after.hit(d) for d in range(after.N)}
    assert by_id[a["id"]] == a and by_id[a["id"]] is not a  # parsed again from the merged segment
    assert all(after.hit(d) is by_id[after.hit(d)["id"]] for d in range(after.N))


def test_deleted_documents_count_nowhere(index_dir):
    snap = snapshot(index_dir)
    assert snap.N == 11 and snap.doc_count == 10 and snap.has_deletions
    ev = Executor(snap).evaluate(parse("perpustakaan"))
    assert ids(snap, ev.mask) == {5, 6}  # record 5 once: its replaced version is deleted
    ids5, _ = snap.postings("all", "pengantar")
    assert len(ids5) == 2 and snap.live_count(ids5) == 1


def test_bm25f_ranks_a_title_match_above_a_note_and_phrases_above_scattered_words(tmp_path):
    path, ix = idx.new_generation(tmp_path)
    w = ix.writer(codec=idx.codec())
    w.add_document(**build_document(record(1, "Notes on gardens", "A, B", 2000, [], "book",
                                           notes=["some words about libraries and other things"])))
    w.add_document(**build_document(record(2, "Libraries", "C, D", 2000, [], "book")))
    w.add_document(**build_document(record(3, "Policy for climate", "E, F", 2000, ["Adaptation"], "book")))
    w.add_document(**build_document(record(4, "Climate adaptation", "G, H", 2000, ["Policy"], "book")))
    w.commit()
    idx.make_current(tmp_path, path)
    snap = snapshot(tmp_path)
    assert ranked(snap, "libraries") == [2, 1]
    assert ranked(snap, "climate adaptation")[0] == 4
    assert ranked(snap, '"climate adaptation"') == [4]


def test_executor_clauses(index_dir):
    snap = snapshot(index_dir)
    ex = Executor(snap)
    assert {snap.hit(d)["id"] for d in ex.year(YearRange(lo=2005, hi=2006)).matched} == {1, 2, 4, 6}
    assert ids(snap, ex.evaluate(parse("hirata -pemimpi")).mask) == {1}
    assert ids(snap, ex.evaluate(parse("perpus*")).mask) == {5, 6}
    ev = ex.evaluate(parse("pembelajran"))  # one letter missing: corrected
    assert ev.corrected == {"pembelajran": "pembelajaran"} and ids(snap, ev.mask) == {4}
    assert ids(snap, ex.evaluate(parse("laskar hobbit")).mask) == set()
    relaxed = Executor(snap).evaluate(parse("laskar hobbit"), any_words=True)
    assert relaxed.fallback and ids(snap, relaxed.mask) == {1, 3, 7}
    part = ex.word(Word(text="pelangi", field="title"))
    mask, score = part.at(np.arange(snap.N, dtype=np.int32))  # every document, matched or not
    assert ids(snap, mask) == {1, 3} and np.flatnonzero(mask).tolist() == part.matched.tolist()
    assert (score[mask] > 0).all() and not score[~mask].any()
    assert ids(snap, filter_mask(snap, {"f_type": ["ebook", "thesis"]})) == {5, 9}


def test_the_novel_comes_before_its_film(index_dir):
    snap = snapshot(index_dir)
    assert ranked(snap, "laskar pelangi") == [1, 3]
    assert ranked(snap, "laskar pelangi film")[0] == 3


def counted_by_hand(snap: Snapshot, field: str, mask: np.ndarray) -> dict[str, int]:
    """How many documents of ``mask`` hold each value of a facet field, from the value's postings."""
    counts = {value: int(mask[snap.postings(field, value)[0]].sum()) for value in snap.engine.dictionaries[field].values}
    return {value: n for value, n in counts.items() if n}


def test_facet_counts_match_counting_by_hand(index_dir):
    snap = snapshot(index_dir)
    mask = Executor(snap).evaluate(parse("indonesia")).mask
    assert ids(snap, mask) == {1, 2, 3, 10}
    assert snap.count_facet("f_type", mask, int(mask.sum()), 10) == [("book", 3), ("audiovisual", 1)]
    assert snap.count_facet("f_subject", mask, int(mask.sum()), 2) == [("Fiksi Indonesia", 2), ("Climate change", 1)]
    everything = snap.live.copy()  # more than half match: counted by subtraction from the totals
    got = dict(snap.count_facet("f_type", everything, snap.doc_count, 10))
    assert got == {"book": 7, "audiovisual": 1, "ebook": 1, "thesis": 1}


@pytest.mark.parametrize("sparse_share", [0.0, 1e9], ids=["counted-in-an-array", "sorted"])
def test_all_facet_fields_counted_in_one_pass_match_their_postings(index_dir, monkeypatch, sparse_share):
    """Every field at once, for result sets of every size (few documents read their further values
    through the offsets, more through the mask, most by subtraction from the totals), each segment's
    values counted in an array of all its values or sorted (``facets.SPARSE_SHARE``)."""
    from opac.search import facets

    monkeypatch.setattr(facets, "SPARSE_SHARE", sparse_share)
    snap = snapshot(index_dir)
    assert len(snap.leaves) == 2  # the counts of a value held in both segments are added
    fields = list(snap.engine.dictionaries)
    rng = np.random.default_rng(3)
    for share in (0.1, 0.3, 0.6, 1.0):
        mask = snap.live & (rng.random(snap.N) < share)
        got = snap.count_facets(dict.fromkeys(fields, 100), mask, int(mask.sum()))
        for field in fields:
            assert dict(got[field]) == counted_by_hand(snap, field, mask), (share, field)
            assert got[field] == snap.count_facet(field, mask, int(mask.sum()), 100)


@pytest.mark.parametrize("sparse_share", [0.0, 1e9], ids=["counted-in-an-array", "sorted"])
def test_facet_counts_of_records_with_many_values(tmp_path, monkeypatch, sparse_share):
    """Records with several subjects each, in two segments: a few documents read their further values
    through the offsets, more through the mask; the counts are those of a count by hand."""
    from opac.search import facets

    monkeypatch.setattr(facets, "SPARSE_SHARE", sparse_share)
    rng = np.random.default_rng(11)
    pool = [f"Subject {n}" for n in range(12)]
    path, ix = idx.new_generation(tmp_path)
    for first, last in ((1, 40), (41, 70)):
        w = ix.writer(codec=idx.codec())
        for i in range(first, last + 1):
            subjects = sorted(rng.choice(pool, size=int(rng.integers(0, 5)), replace=False).tolist())
            w.add_document(**build_document(record(i, f"Book {i}", f"Author {i % 7}", 2000 + i % 9, subjects,
                                                   "book" if i % 3 else "ebook")))
        w.commit(merge=False)
    idx.make_current(tmp_path, path)
    snap = snapshot(tmp_path)
    assert len(snap.leaves) == 2
    fields = list(snap.engine.dictionaries)
    for size in (1, 2, 3, 8, 25, 50):
        mask = np.zeros(snap.N, dtype=bool)
        mask[rng.choice(snap.N, size=size, replace=False)] = True
        got = snap.count_facets(dict.fromkeys(fields, 100), mask, size)
        for field in fields:
            assert dict(got[field]) == counted_by_hand(snap, field, mask), (size, field)


@pytest.mark.parametrize("term", ["book", "ebook", "none-such"])
def test_count_holding_a_term_counts_as_the_postings_say(index_dir, term):
    """A term most documents hold is counted through its kept mask, a rare one through its postings:
    both give what a count by hand gives."""
    snap = snapshot(index_dir)
    for query in ["perpustakaan", "laskar", "pelangi OR python"]:
        mask = Executor(snap).evaluate(parse(query)).mask
        ids = np.flatnonzero(mask)
        held = set(snap.postings("f_type", term)[0].tolist())
        assert snap.count_holding("f_type", term, ids, mask) == sum(int(d) in held for d in ids)


WORDS = ["laskar", "pelangi", "perpustakaan", "pustaka", "pembelajaran", "hobbit", "climate", "computers",
         "indonesia", "hirata", "fiksi", "python", "policy", "sekolah"]


def _by_segment_and_whole(snap: Snapshot, w: Word) -> tuple:
    """A word's (documents, scores) gathered segment by segment and over the whole snapshot."""
    ex = Executor(snap)
    fields = [w.field] if w.field else list(TEXT_FIELDS)
    parts = ex._segment_words(w, query_variants(w.text), fields)
    return ex._score_segment_words(w, query_variants(w.text), parts), ex._word_over_snapshot(w, fields)


def test_a_word_gathered_by_segment_scores_bit_for_bit_as_over_the_snapshot(index_dir):
    snap = snapshot(index_dir)
    assert len(snap.leaves) == 2 and snap.has_deletions
    for w in [Word(text=t) for t in WORDS] + [Word(text="pelangi", field="title"), Word(text="hirata", field="author")]:
        (ids_a, sc_a), (ids_b, sc_b) = _by_segment_and_whole(snap, w)
        assert len(ids_a), w
        assert ids_a.tolist() == ids_b.tolist() and sc_a.dtype == sc_b.dtype and sc_a.tolist() == sc_b.tolist(), w


def test_a_words_segment_parts_outlive_a_commit_that_keeps_the_texts(index_dir):
    """The desk's change (a copy lent: the record indexed again, its text the same) leaves the
    average lengths as they were, so the old segments' parts of a word are used as they are and
    only the new segment is read; a changed text (new lengths) makes them afresh. Either way the
    scores are the ones computed over the whole snapshot."""
    engine = Engine()
    ix = idx.open_index(index_dir)
    before = Snapshot(engine, ix.searcher())
    ranked_before = Executor(before).word(Word(text="laskar")).matched.tolist()
    kept = [before.word_parts(leaf)._data.copy() for leaf in before.leaves]
    w = ix.writer(codec=idx.codec())
    w.update_document(**build_document(record(1, *BOOKS[0])))  # the same text, indexed again
    w.commit(merge=False)
    after = Snapshot(engine, ix.searcher())
    assert len(after.leaves) == 3
    assert [after.avg_length(f) for f in TEXT_FIELDS] == [before.avg_length(f) for f in TEXT_FIELDS]
    for leaf, old in zip(after.leaves, kept, strict=False):
        now = after.word_parts(leaf)._data
        assert all(now[k][0] is v[0] for k, v in old.items())  # the same objects, not made again
    for t in WORDS:
        (ids_a, sc_a), (ids_b, sc_b) = _by_segment_and_whole(after, Word(text=t))
        assert ids_a.tolist() == ids_b.tolist() and sc_a.tolist() == sc_b.tolist(), t
    assert len(Executor(after).word(Word(text="laskar")).matched) == len(ranked_before) + 1  # the new copy
    w = ix.writer(codec=idx.codec())
    w.update_document(**build_document(record(2, "Sang Pemimpi: edisi baru yang panjang", *BOOKS[1][1:])))
    w.commit(merge=False)
    edited = Snapshot(engine, ix.searcher())
    assert edited.avg_length("title") != after.avg_length("title")
    for t in WORDS:
        (ids_a, sc_a), (ids_b, sc_b) = _by_segment_and_whole(edited, Word(text=t))
        assert ids_a.tolist() == ids_b.tolist() and sc_a.tolist() == sc_b.tolist(), t


def _fresh_word(ix, w: Word) -> tuple[list, list]:
    """A word's (documents, scores) on a snapshot of its own: nothing kept from before."""
    ids_, score = Executor(Snapshot(Engine(), ix.searcher())).word_scores(w)
    return ids_.tolist(), score.tolist()


def test_word_results_carry_over_the_commits_that_leave_them_valid(index_dir):
    """A commit that adds a segment and deletes documents (the desk's change) keeps the word results
    it cannot have changed (the same objects); a word of the changed record, a word of a deleted
    document and every word after a merge or a change of the lengths are scored afresh. Every answer
    is the one a snapshot of its own gives."""
    engine = Engine()
    words = WordResults(engine.word_cache_bytes)
    ix = idx.open_index(index_dir)
    snap = Snapshot(engine, ix.searcher(), words)
    queries = [Word(text=t) for t in WORDS] + [Word(text="pelangi", field="title"), Word(text="hirata", field="author")]

    def results(snap):
        got = {w: Executor(snap)._word_result(w) for w in queries}
        for w, r in got.items():
            assert (r.ids.tolist(), r.score.tolist()) == _fresh_word(ix, w), w
        return got

    def commit(change, merge=False):
        w = ix.writer(codec=idx.codec())
        change(w)
        w.commit(merge=False, optimize=merge)

    before = results(snap)
    # record 1 (Laskar Pelangi, Hirata) lent: indexed again with the same text
    commit(lambda w: w.update_document(**build_document(record(1, *BOOKS[0]))))
    snap = Snapshot(engine, ix.searcher(), words, previous=snap)
    after = results(snap)
    kept = {w.text for w in queries if after[w] is before[w]}
    assert "hobbit" in kept and "computers" in kept
    assert not kept & {"laskar", "pelangi", "hirata", "indonesia"}  # record 1's words: scored afresh
    # a result holding a document deleted since is not valid; the new segment's words neither
    ex, hobbit = Executor(snap), after[Word(text="hobbit")]
    assert ex._still_valid(Word(text="hobbit"), hobbit, frozenset(), np.array([snap.N - 1], dtype=np.int32))
    assert not ex._still_valid(Word(text="hobbit"), hobbit, frozenset(), hobbit.ids[:1].copy())
    newest = frozenset({snap.leaves[-1].segid})
    assert not ex._still_valid(Word(text="laskar"), after[Word(text="laskar")], newest, EMPTY_IDS)
    assert ex._still_valid(Word(text="hobbit"), hobbit, newest, EMPTY_IDS)
    # record 7 (The Hobbit) replaced by another (N stays): its words afresh
    commit(lambda w: (w.delete_by_term("id", "7"), w.add_document(**build_document(record(11, *BOOKS[5])))))
    snap = Snapshot(engine, ix.searcher(), words, previous=snap)
    later = results(snap)
    assert later[Word(text="hobbit")] is not hobbit
    # a merge moves the segments: everything afresh
    commit(lambda w: None, merge=True)
    snap = Snapshot(engine, ix.searcher(), words, previous=snap)
    merged = results(snap)
    assert not any(merged[w] is later[w] for w in queries)
    # a longer title changes the average lengths: everything afresh
    commit(lambda w: w.update_document(**build_document(record(2, "Sang Pemimpi: edisi baru yang panjang",
                                                               *BOOKS[1][1:]))))
    snap = Snapshot(engine, ix.searcher(), words, previous=snap)
    edited = results(snap)
    assert not any(edited[w] is merged[w] for w in queries if w.field != "author")


def test_what_a_query_used_holds_until_a_commit_changes_it(index_dir, monkeypatch):
    """``Executor.holds``: a query's word results and the closed forms it looked for (whether
    "laskar pelangi" is also written "laskarpelangi") hold in a later snapshot while the commits
    between leave them as they were; a lent copy of one of its books, or a new record holding the
    closed form, does not."""
    engine = Engine()
    words = WordResults(engine.word_cache_bytes)
    ix = idx.open_index(index_dir)
    snap = Snapshot(engine, ix.searcher(), words)

    def commit(*docs):
        w = ix.writer(codec=idx.codec())
        for doc in docs:
            w.update_document(**build_document(doc))
        w.commit(merge=False)
        return Snapshot(engine, ix.searcher(), words, previous=snap)

    def holds(ex, snap):
        return Executor(snap).holds(ex.used, ex.closed_forms, ex.lazy_used)

    as_often = Executor(snap)  # two words as frequent as each other: both scored whole
    as_often.evaluate(parse("laskar pelangi"))
    assert not as_often.lazy_used and [u[1].text for u in as_often.used] == ["laskar", "pelangi"]
    monkeypatch.setattr(executor, "LAZY_RATIO", 0)  # every word met for the first time is lazy
    lazy = Executor(Snapshot(Engine(), ix.searcher()))  # nothing kept: scored only where both words are (LazyWord)
    lazy.evaluate(parse("laskar pelangi"))
    assert [c.word.text for c in lazy.lazy_used] == ["laskar", "pelangi"] and not lazy.used
    for t in ("laskar", "pelangi", "hobbit"):  # each word kept whole by a search of its own ...
        Executor(snap).evaluate(parse(t))
    ex = Executor(snap)  # ... is then used whole
    ex.evaluate(parse("laskar pelangi"))
    hobbit = Executor(snap)
    hobbit.evaluate(parse("hobbit"))
    assert ex.closed_forms == {"laskarpelangi": False} and [u[1].text for u in ex.used] == ["laskar", "pelangi"]
    assert not ex.lazy_used and holds(ex, snap) and holds(lazy, snap)
    snap = commit(record(6, *BOOKS[5]))  # another book indexed again, its text the same
    assert holds(ex, snap) and holds(lazy, snap) and holds(hobbit, snap)
    lazy_later = Executor(Snapshot(Engine(), ix.searcher()))  # nothing kept: lazily on this snapshot
    lazy_later.evaluate(parse("laskar pelangi"))
    snap = commit(record(1, *BOOKS[0]))  # a Laskar Pelangi lent
    assert not holds(ex, snap) and not holds(lazy, snap) and not holds(lazy_later, snap) and holds(hobbit, snap)
    # the film of Laskar Pelangi becomes "Buku Sekolah" (N and every average length the same):
    # only the words' document frequencies tell
    lazy_later = Executor(Snapshot(Engine(), ix.searcher()))
    lazy_later.evaluate(parse("laskar pelangi"))
    assert holds(lazy_later, snap)
    avg = [snap.avg_length(f) for f in TEXT_FIELDS], snap.doc_count
    snap = commit(record(3, "Buku Sekolah", *BOOKS[2][1:]))
    assert ([snap.avg_length(f) for f in TEXT_FIELDS], snap.doc_count) == avg and not holds(lazy_later, snap)
    ex = Executor(snap)
    ex.evaluate(parse("laskar pelangi"))
    snap = commit(record(2, "Laskarpelangi", *BOOKS[1][1:]))  # the closed form, in place of a title as long
    assert snap.has_term("all", "laskarpelangi")
    assert not Executor(snap).holds([], ex.closed_forms)


def test_average_lengths_are_exact_whatever_the_segments(index_dir):
    """Summed exactly per segment: the same mean as one array of the live documents' lengths."""
    snap = snapshot(index_dir)
    for f in TEXT_FIELDS:
        lengths = np.concatenate([snap.leaf_lengths(leaf, f)[leaf.live if leaf.live is not None else slice(None)]
                                  for leaf in snap.leaves]).astype(np.float64)
        assert snap.avg_length(f) == max(lengths.sum() / len(lengths), 1.0)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pseudo_frequencies_of_terms_taken_together_are_each_terms_own(data):
    """BM25F's pseudo-frequencies of several terms at once (term by term, or one sorted search per
    field keyed by term and document) equal each term's computed alone, field by field."""
    n_terms = data.draw(st.integers(1, 6))
    found, postings = [], {}
    for k in range(n_terms):
        ids = np.array(sorted(data.draw(st.sets(st.integers(0, 60), min_size=1, max_size=15))), dtype=np.int32)
        tf = np.array(data.draw(st.lists(st.integers(1, 6), min_size=len(ids), max_size=len(ids))), dtype=np.int32)
        found.append((f"t{k}", 1.0, ids, tf))
        for f in TEXT_FIELDS:
            if f != "all" and data.draw(st.booleans()):
                held = np.array(sorted(data.draw(st.sets(st.sampled_from(ids.tolist()), min_size=1))), dtype=np.int32)
                postings[f, f"t{k}"] = (held, np.array(data.draw(st.lists(st.integers(1, 4), min_size=len(held),
                                                                           max_size=len(held))), dtype=np.int32))

    def norm(field, ids):
        return 1.0 + (ids % 7) / (3.0 + len(field))

    keyed = data.draw(st.sampled_from([0, executor.KEYED_TERMS]))  # one sorted search per field, or term by term
    default, executor.KEYED_TERMS = executor.KEYED_TERMS, keyed
    try:
        got = pseudo_frequencies(found, postings, norm)
        whole = pseudo_frequencies(found, postings, norm, split=False)
    finally:
        executor.KEYED_TERMS = default
    for (term, _, ids, tf), pseudo in zip(found, got, strict=True):
        want = np.zeros(len(ids))
        rest = tf.astype(np.float64)
        for f, weight in TEXT_FIELDS.items():
            if f != "all" and (f, term) in postings:
                fids, ftf = postings[f, term]
                at = np.searchsorted(ids, fids)
                want[at] += weight * ftf / norm(f, fids)
                rest[at] -= ftf
        want += TEXT_FIELDS["all"] * np.maximum(rest, 0) / norm("all", ids)
        assert np.allclose(pseudo, want, rtol=1e-5), (term, pseudo, want)
    assert np.array_equal(np.concatenate(got), whole)


def test_a_word_scored_lazily_scores_bit_for_bit_as_kept_whole(index_dir, monkeypatch):
    """The words of an AND query or of a phrase, not kept yet, are scored only where the query
    matches (``LazyWord``): the same documents and the same scores as from their whole results,
    over two segments with a deleted document."""
    monkeypatch.setattr(executor, "LAZY_RATIO", 0)  # every word met for the first time is lazy
    snap = snapshot(index_dir)
    queries = ["laskar pelangi", '"laskar pelangi"', "hirata pendidikan", "perpustakaan sekolah", "ilmu perpustakaan",
               "title:laskar pelangi", "computers history", "pelangi -film", "laskar pelangi 2005", "fiksi indonesia"]
    for q in queries:
        first = Executor(snap)
        lazy = first.evaluate(parse(q))  # first: nothing kept (the engine is new)
        assert first.lazy_used or q == "pelangi -film", q  # (one required word: nothing to intersect)
        for t in q.replace('"', "").replace("-", "").replace("title:", "").split():
            Executor(snap).evaluate(parse(t))  # each word kept whole
        whole = Executor(snap).evaluate(parse(q))
        assert len(lazy.ids), q
        assert lazy.ids.tolist() == whole.ids.tolist() and lazy.scores.tolist() == whole.scores.tolist(), q
        snap = snapshot(index_dir)  # a new engine: nothing kept
