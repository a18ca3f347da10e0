"""The bulk segment writer of a full reindex writes what Whoosh's own writer writes, in one process
or several, and a record that cannot be indexed is named and left out."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter

from opac.catalog.models import Record
from opac.extensions import db
from opac.search import bulk, segments, sync
from opac.search import index as idx
from opac.search.documents import build_document
from opac.search.schema import build_schema
from tests.cli_helpers import prod_env, run_cli

RECORDS = [
    {"title": "Laskar Pelangi", "authors": ["Hirata, Andrea"], "subjects": ["Pendidikan -- Belitung", "Novel"],
     "isbns": ["9789793062792"], "publisher": "Bentang", "series": ["Tetralogi Laskar Pelangi"],
     "items": [{"barcode": "B0001", "status": "available"}, {"barcode": "B0002", "status": "on_loan"}]},
    {"title": "The Lord of the Rings", "authors": ["Tolkien, J. R. R."], "languages": ["eng"],
     "subjects": ["Middle Earth (Imaginary place) -- Fiction"], "summary": "E-learning about F# major and b-moll",
     "publisher": "Allen & Unwin", "year": 1954},
    {"title": "Pembelajaran e-learning di perpustakaan", "authors": ["Toer, Pramoedya Ananta"],
     "subjects": ["Perpustakaan -- Pembelajaran"], "publisher": "Bentang", "call_number": "<020 TOE p>"},
    {"title": "Mathematik für Ingenieure", "languages": ["ger"], "notes": ["Sonate in Fis-Dur"], "year": 2001},
    {"title": "Kimia kelas XII jilid 2", "languages": [], "publisher": "Erlangga", "items": ["K1", "K2", "K3"]},
] + [{"title": f"Sejarah Indonesia jilid {i}", "authors": ["Poesponegoro, Marwati Djoened"],
      "subjects": ["Indonesia -- Sejarah"], "publisher": "Balai Pustaka", "year": 1990 + i} for i in range(12)]


def dump(path) -> dict:
    """Everything a search reads from an index, by global document number."""
    ix = whoosh_index.open_dir(str(path))
    with ix.reader() as r:
        n = r.doc_count_all()
        terms = {}
        for field, btext in r.all_terms():
            m = r.postings(field, btext)
            postings = []
            while m.is_active():
                postings.append((m.id(), m.weight(), m.value() or b""))
                m.next()
            ti = r.term_info(field, btext)
            terms[field, btext] = (postings, ti.weight(), ti.doc_frequency(), ti.max_weight())
        return {
            "terms": terms,
            "stored": [r.stored_fields(i) for i in range(n)],
            "lengths": {f: [r.doc_field_length(i, f) or 0 for i in range(n)] for f in ix.schema.scorable_names()},
            "columns": {f: list(r.column_reader(f)) for f in ix.schema.names()
                        if ix.schema[f].column_type and r.has_column(f)},
            "field_lengths": {f: r.field_length(f) for f in ix.schema.scorable_names()},
        }


def _documents(app, load_records) -> list[dict]:
    from opac.catalog.models import Record

    ids = load_records(RECORDS)
    with app.app_context():
        return [build_document(db.session.get(Record, i)) for i in ids]


def _whoosh_index(path, docs, codec=None):
    """``docs`` written by Whoosh's own writer: with Whoosh's codec by default (its W3 files hold every
    term: the reference), or with ``codec``."""
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(codec=codec or W3Codec(blocklimit=512, inlinelimit=8))
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()


def _bulk_index(path, docs, codec, parts=1):
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    segments = []
    step = -(-len(docs) // parts)
    for k in range(0, len(docs), step):
        builder = bulk.SegmentBuilder(ix.storage, ix.schema, codec)
        for doc in docs[k : k + step]:
            builder.add(doc)
        segments.append(builder.finish())
    bulk.list_segments(ix, segments)
    return ix


def _sidecar(path) -> dict:
    """The engine's arrays of a one-segment index (``segments.write_sidecar``), by file name."""
    (seg,) = whoosh_index.open_dir(str(path))._segments()
    side = segments.Sidecar(segments.sidecar_path(path, seg.segment_id()))
    arrays = {name: (a.dtype.str, a.tolist()) for name, a in side.arrays.items()}
    return {"meta": (side.n, side.fields, side.pos_range), **arrays}


def test_bulk_segments_hold_what_whoosh_writes(app, load_records, tmp_path):
    docs = _documents(app, load_records)
    _whoosh_index(tmp_path / "whoosh", docs)
    expected = dump(tmp_path / "whoosh")  # Whoosh's writer and Whoosh's own format
    assert any(len(p) >= 8 for p, *_ in expected["terms"].values())  # both inlined and block postings
    _whoosh_index(tmp_path / "sidecar", docs, idx.codec())  # Whoosh's writer, terms in the sidecar
    assert dump(tmp_path / "sidecar") == expected
    _bulk_index(tmp_path / "bulk", docs, idx.codec())
    assert dump(tmp_path / "bulk") == expected
    assert _sidecar(tmp_path / "bulk") == _sidecar(tmp_path / "sidecar")  # the engine reads the same arrays
    _bulk_index(tmp_path / "three", docs, idx.codec(), parts=3)
    assert dump(tmp_path / "three") == expected  # several segments: the same documents, in the same order
    assert len(list(whoosh_index.open_dir(str(tmp_path / "three")).reader().leaf_readers())) == 3


def _files(path) -> dict[str, bytes]:
    """The index's files by name, its segments' ids replaced by their place in the table of contents."""
    ids = [seg.segment_id() for seg in whoosh_index.open_dir(str(path))._segments()]
    out = {}
    for f in sorted(path.iterdir()):
        name = "TOC" if f.name.endswith(".toc") else f.name  # one, of a generation
        for k, segid in enumerate(ids):
            name = name.replace(segid, f"SEG{k}")
        out[name] = f.read_bytes()
    return out


def test_a_rebuilds_segments_merged_hold_what_one_segment_holds(app, load_records, tmp_path):
    """A rebuild in several processes writes a segment each; merged (columns copied, sidecars merged
    as arrays), they are what one builder writes of the same documents: the same terms, postings,
    positions, stored fields, lengths and columns, file for file, and nothing of the parts is left."""
    docs = _documents(app, load_records)
    _bulk_index(tmp_path / "one", docs, idx.codec())
    ix = _bulk_index(tmp_path / "three", docs, idx.codec(), parts=3)
    merged = bulk.merge_segments(ix.storage, idx.codec(), ix.schema, ix._segments())
    bulk.list_segments(ix, [merged])
    assert dump(tmp_path / "three") == dump(tmp_path / "one")
    assert _sidecar(tmp_path / "three") == _sidecar(tmp_path / "one")
    one, three = _files(tmp_path / "one"), _files(tmp_path / "three")
    assert three.keys() == one.keys()  # nothing of the parts is left, their sidecars included
    same = [k for k in one if k != "TOC" and not k.endswith(".arrays")]  # a table of contents holds random ids
    assert {k: three[k] for k in same} == {k: one[k] for k in same}  # stored fields, lengths, columns


def test_merge_runs_merges_consecutive_segments_up_to_a_size(app, load_records, tmp_path):
    docs = _documents(app, load_records)  # 17 documents: parts of 6, 6 and 5
    ix = _bulk_index(tmp_path / "three", docs, idx.codec(), parts=3)
    parts = ix._segments()
    runs = bulk.merge_runs(parts, most=12)
    assert runs == [parts[:2], parts[2:]]
    kept = [bulk.merge_segments(ix.storage, idx.codec(), ix.schema, runs[0]), parts[2]]
    assert [seg.doc_count_all() for seg in kept] == [12, 5]
    bulk.list_segments(ix, kept)
    _bulk_index(tmp_path / "one", docs, idx.codec())
    assert dump(tmp_path / "three") == dump(tmp_path / "one")


def test_whoosh_reads_a_segments_terms_from_its_sidecar(app, load_records, tmp_path):
    """Segments keep their terms and postings in their sidecars alone (a reindex's and the follower's);
    what Whoosh itself does with a segment (the follower deletes by id; merges, an optimize) reads them
    from there and loses nothing: the result holds what Whoosh's own writer and format make of the
    same documents."""
    docs = _documents(app, load_records)
    _whoosh_index(tmp_path / "whoosh", docs)
    ix = _bulk_index(tmp_path / "bulk", docs, idx.codec(), parts=3)
    assert all(seg.terms_in_sidecar for seg in ix._segments())
    for seg in ix._segments():  # Whoosh's own term files hold nothing
        assert not list(W3Codec.terms_reader(seg.codec(), ix.storage, seg).terms())

    for path, codec in ((tmp_path / "bulk", idx.codec()), (tmp_path / "whoosh", W3Codec(blocklimit=512, inlinelimit=8))):
        writer = whoosh_index.open_dir(str(path)).writer(codec=codec)
        writer.delete_by_term("id", docs[1]["id"])
        writer.commit(optimize=True)  # every segment merged into one, through Whoosh's readers
    (merged,) = whoosh_index.open_dir(str(tmp_path / "bulk"))._segments()
    assert merged.terms_in_sidecar  # Whoosh's writer with the codec: the merge's terms in its sidecar
    assert dump(tmp_path / "bulk") == dump(tmp_path / "whoosh")
    side = _sidecar(tmp_path / "bulk")
    assert side["meta"][0] == len(docs) - 1  # deleted documents are dropped at a merge
    _whoosh_index(tmp_path / "fresh", docs[:1] + docs[2:], idx.codec())
    fresh = _sidecar(tmp_path / "fresh")
    assert side == fresh  # the engine reads the arrays the same documents written afresh give


def test_a_segment_reader_looks_for_a_missing_column_once(app, load_records, tmp_path):
    """Whoosh looked for a field's lengths file at every look-up when the segment has none (a stat per
    posting when a merge reads such a field); the codec's reader remembers that it is missing."""
    _whoosh_index(tmp_path / "ix", _documents(app, load_records), idx.codec())
    ix = whoosh_index.open_dir(str(tmp_path / "ix"))
    (seg,) = ix._segments()
    reader = seg.codec().per_document_reader(ix.storage, seg)
    looks = []
    exists = ix.storage.file_exists
    ix.storage.file_exists = lambda name: looks.append(name) or exists(name)
    assert [reader.doc_field_length(0, "no_such_field") for _ in range(3)] == [0, 0, 0]
    assert len(looks) == 1
    assert reader.doc_field_length(0, "title") > 0  # a field with lengths still has them


class _CountingFieldWriter(W3FieldWriter):
    added = 0

    def add(self, docnum, weight, vbytes, length):
        type(self).added += 1
        super().add(docnum, weight, vbytes, length)


class _HookedCodec(W3Codec):
    def field_writer(self, storage, segment):
        return _CountingFieldWriter(self, storage, segment)


def test_a_codec_with_its_own_field_writer_sees_every_posting(app, load_records, tmp_path):
    docs = _documents(app, load_records)
    _whoosh_index(tmp_path / "whoosh", docs)
    _bulk_index(tmp_path / "hooked", docs, _HookedCodec(blocklimit=512, inlinelimit=8))
    got = dump(tmp_path / "hooked")
    assert got == dump(tmp_path / "whoosh")
    assert _CountingFieldWriter.added == sum(len(p) for p, *_ in got["terms"].values())


@pytest.mark.slow
def test_rebuild_in_worker_processes_gives_the_same_index(app, load_records, search_api):
    """Two worker processes, five id runs (five segments, then merged into one): the same documents
    in the same order as one process writing one segment, and the same search results."""
    load_records(RECORDS)
    assert sync.rebuild(app, workers=1) == len(RECORDS)
    gen = idx.generation_path(app.config["INDEX_DIR"])
    single = dump(gen)
    queries = ("laskar pelangi", "sejarah", "jrr tolkien", "fsharp", '"sejarah indonesia"', "pelang*")
    results = [search_api(q)["hits"] for q in queries]
    for merged_records, leaves in ((0, 5), (bulk.MERGED_RECORDS, 1), (8, 3)):  # the last: merged in the workers
        assert sync.rebuild(app, workers=2, segment_records=4, merged_records=merged_records) == len(RECORDS)
        gen = idx.generation_path(app.config["INDEX_DIR"])
        assert len(list(whoosh_index.open_dir(str(gen)).reader().leaf_readers())) == leaves
        assert dump(gen) == single
        assert [search_api(q)["hits"] for q in queries] == results


def test_rebuild_runs_are_of_equal_cost_not_of_equal_counts(app, load_records):
    """Two long records, then six short ones: two workers get a run each of about the same cost (the
    records' MARC bytes), not four records each."""
    ids = load_records(RECORDS[:8])
    assert ids == list(range(ids[0], ids[0] + 8))
    with app.app_context():
        for i in ids:
            db.session.execute(text("UPDATE record SET marc = :m WHERE id = :i"),
                               {"m": b"x" * (20_000 if i in ids[:2] else 100), "i": i})
        db.session.commit()
        assert sync._parts(db.session, Record, 2, 1000) == [("record", ids[0], ids[0]), ("record", ids[1], ids[-1])]
        db.session.execute(text("UPDATE record SET marc = :m"), {"m": b"x" * 100})
        db.session.commit()  # records of one cost: as many runs as ``most`` records a run asks
        assert sync._parts(db.session, Record, 1, 3) == [
            ("record", ids[0], ids[1]), ("record", ids[2], ids[4]), ("record", ids[5], ids[7])]


def test_a_record_that_cannot_be_indexed_is_named_and_left_out(app, load_records, search_api, caplog):
    ids = load_records(RECORDS[:3])
    with app.app_context():  # an author that is not an object: build_document cannot read it
        db.session.execute(text("UPDATE record SET authors = :a WHERE id = :i"), {"a": '["Hirata"]', "i": ids[0]})
        db.session.commit()
    assert sync.rebuild(app, workers=1) == 2
    assert f"record {ids[0]} left out of the index" in caplog.text
    assert search_api("laskar")["total"] == 0 and search_api("tolkien")["total"] == 1


def test_rebuild_leaves_out_hidden_and_withdrawn_records(app, load_records, search_api):
    ids = load_records(RECORDS[:3])
    with app.app_context():
        db.session.execute(text("UPDATE record SET hidden = :t WHERE id = :i"), {"t": True, "i": ids[0]})
        db.session.execute(text("UPDATE record SET withdrawn_at = CURRENT_TIMESTAMP WHERE id = :i"), {"i": ids[1]})
        db.session.commit()
    assert sync.rebuild(app, workers=1) == 3  # records read
    assert search_api("laskar")["total"] == 0 and search_api("tolkien")["total"] == 0
    assert search_api("pembelajaran")["total"] == 1


def test_a_rebuild_where_no_record_can_be_indexed_fails(app, load_records, monkeypatch):
    load_records(RECORDS[:2])
    before = idx.generation_path(app.config["INDEX_DIR"])
    monkeypatch.setattr(sync, "build_document", lambda rec, items: {}["no such field"])
    with pytest.raises(KeyError):
        sync.rebuild(app, workers=1)
    assert idx.generation_path(app.config["INDEX_DIR"]) == before  # the old generation still serves


def test_reindex_command_names_a_broken_record_and_indexes_the_rest(tmp_path):
    from opac import create_app
    from opac.catalog.services import import_data
    from opac.cli import upgrade_database

    env = prod_env(tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["OPAC_DATABASE_URL"], "INDEX_DIR": env["OPAC_INDEX_DIR"],
                      "SECRET_KEY": "x"})
    rows = [{"id": f"T{i}", "title": title, "authors": ["Hirata, Andrea"]}
            for i, title in enumerate(["Laskar Pelangi", "Sang Pemimpi", "Edensor"])]
    with app.app_context():
        upgrade_database()
        import_data("".join(json.dumps(r) + "\n" for r in rows).encode(), name="three.jsonl",
                    commit=db.session.commit)
        rid = db.session.execute(text("SELECT min(id) FROM record")).scalar()
        db.session.execute(text("UPDATE record SET authors = '[1]' WHERE id = :i"), {"i": rid})
        db.session.commit()
        db.engine.dispose()
    proc = run_cli(env, "reindex")
    assert proc.stdout.strip().endswith("Indexed 2 records.")
    assert f"record {rid} left out of the index" in proc.stderr
