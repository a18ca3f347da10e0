"""Writing whole Whoosh segments fast, for a full reindex.

Whoosh's own writer analyses every field value through generators, sorts every posting through an
external merge sort (pickled runs on disk), then writes terms one ``add()`` call per posting and
asks a column reader (a ``stat()`` each time) for the field length of every posting: about 700
records/s. Here a segment's postings are gathered in memory per field and term (each distinct field
value analysed once), and handed whole, in sorted order, to the sidecar codec's field writer
(``segments``): the segment's terms and postings live in its sidecar alone, and Whoosh reads them
from there when it needs them (``segments.SidecarTerms``: the follower's deletions and merges).
``tests/search/test_bulk.py`` compares the result with what Whoosh's writer makes of the same
documents. Everything else goes through the codec of ``index.codec()``: its segment and its
per-document writer (stored fields, lengths, columns: called as Whoosh calls it). With another codec
the postings are handed to its field writer through its ordinary ``add_postings``, slower.

A reindex splits the records into runs of consecutive ids, builds one segment per run (in worker
processes when there are several cores), merges runs of consecutive segments into one each
(``merge_segments``: columns copied, sidecars merged as arrays; segments of the sidecar codec only), and
lists the segments in id order: document numbers are those of a single writer adding the records in id
order.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
from array import array
from collections import defaultdict
from pathlib import Path

import numpy as np
from whoosh import columns, formats
from whoosh.analysis import IDTokenizer
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, W3Codec, W3PerDocWriter
from whoosh.system import pack_uint as _pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte

from .analysis import (
    LibraryAnalyzer,
    ShingleAnalyzer,
    ValuesAnalyzer,
    index_term_counts,
    index_term_positions,
    library_tokens,
    line_shingles,
)
from .segments import Sidecar, merge_sidecars, remove_dead_sidecars, sidecar_path

#: Fields whose values recur across records (publishers, series, subjects, authors, facet
#: values): analysed once per distinct value.
_RECURRING = ("author", "subject", "publisher", "series", "callnumber")


class SegmentBuilder:
    """One new segment of ``ix``'s storage: ``add()`` documents (the keyword arguments of
    ``writer.add_document``), then ``finish()`` returns the segment to list in a TOC."""

    def __init__(self, storage, schema, codec, indexname: str = "MAIN", cache: dict | None = None):
        self.storage = storage
        self.schema = schema
        self.codec = codec
        self.segment = codec.new_segment(storage, indexname)
        self.perdoc = codec.per_document_writer(storage, self.segment)
        self.docnum = 0
        #: field -> term bytes -> [docnums, weights, values], or only the docnums (``_bare`` fields)
        self.postings: dict[str, dict[bytes, list]] = {}
        #: field -> length byte per document (scorable fields)
        self.lengths: dict[str, bytearray] = {}
        self.cache = {} if cache is None else cache
        #: whether ``perdoc.add_field`` is Whoosh's, which does nothing for a value neither stored nor scored
        self._w3_add_field = getattr(type(self.perdoc), "add_field", None) is W3PerDocWriter.add_field
        #: whether the per-document writer takes lengths and numeric columns whole at the end (the sidecar
        #: codec's): then ``_columns`` holds each column's (column, value per document), ``_totals`` each
        #: field's sum of lengths, and stored fields go straight to their column's writer
        self._whole = hasattr(self.perdoc, "add_whole_columns") and all(
            type(f.column_type) is columns.NumericColumn for f in schema if f.column_type)
        self._stored_add = self.perdoc.stored_writer().add if self._whole else None
        self._columns: dict[str, tuple] = {}
        self._totals: dict[str, int] = {}
        self._fields = {}
        for name, field in schema.items():
            self._fields[name] = (field, field.indexed, field.scorable, field.stored, field.column_type,
                                  name in _RECURRING or name.startswith("f_"), _bare(field))

    def _items(self, name, field, value, recurring):
        if not recurring:
            return _analyse(field, value)
        key = (name, value)
        got = self.cache.get(key)
        if got is None:
            if len(self.cache) > 100_000:
                self.cache.clear()
            got = self.cache[key] = _analyse(field, value)
        return got

    def add(self, doc: dict) -> None:
        """What ``SegmentWriter.add_document(**doc)`` does, with postings kept in memory. Everything
        is analysed before anything is written, so a value that fails leaves no trace."""
        fields = []
        for name in sorted(doc):
            value = doc[name]
            if value is None or name.startswith("_"):
                continue
            field, indexed, scorable, stored, column, recurring, bare = self._fields[name]
            items, length = self._items(name, field, value, recurring) if indexed else ((), 0)
            cv = field.to_column_value(value) if column else None
            fields.append((name, field, value if stored else None, items, length if scorable else 0, column, cv,
                           bare))
        docnum = self.docnum
        perdoc = self.perdoc
        whole = self._whole
        if whole:
            sf = {}
        else:
            perdoc.start_doc(docnum)
        for name, field, stored, items, length, column, cv, bare in fields:
            if items:
                posts = self.postings.get(name)
                if posts is None:
                    posts = self.postings[name] = {}
                if bare:
                    for item in items:
                        p = posts.get(item[0])
                        if p is None:
                            p = posts[item[0]] = array("I")
                        p.append(docnum)
                    items = ()
                for tbytes, weight, vbytes in items:
                    p = posts.get(tbytes)
                    if p is None:
                        p = posts[tbytes] = [array("I"), array("f"), []]
                    p[0].append(docnum)
                    p[1].append(weight)
                    if vbytes:
                        p[2].append(vbytes)
            if length:
                lens = self.lengths.get(name)
                if lens is None:
                    lens = self.lengths[name] = bytearray()
                lens.extend(bytes(docnum + 1 - len(lens)))
                lens[docnum] = length_to_byte(length)
                if whole:
                    self._totals[name] = self._totals.get(name, 0) + length
            if whole:
                if stored is not None:
                    sf[name] = stored
                if column:
                    got = self._columns.get(name)
                    if got is None:
                        got = self._columns[name] = (column, [])
                    values = got[1]
                    if len(values) < docnum:
                        values.extend([column._default] * (docnum - len(values)))
                    values.append(cv)
                continue
            if stored is not None or length or not self._w3_add_field:
                perdoc.add_field(name, field, stored, length)
            if column:
                perdoc.add_column_value(name, column, cv)
        if not whole:
            perdoc.finish_doc()
        elif sf:
            self._stored_add(docnum, sf)
        self.docnum += 1

    def finish(self, compound: bool = True):
        """Write the postings and close the segment's files; returns the segment (not yet listed)."""
        segment = self.segment
        if self._whole:
            self.perdoc.add_whole_columns(self.docnum, self.lengths, self._totals, self._columns)
        self.perdoc.close()
        fieldwriter = self.codec.field_writer(self.storage, segment)
        if getattr(fieldwriter, "sidecar_only", False):
            _write_sidecar_terms(fieldwriter, self.schema, self.postings)
        else:
            fieldwriter.add_postings(self.schema, _Lengths(self.lengths), self._iter_postings())
        fieldwriter.close()
        self.postings = {}
        segment.set_doc_count(self.docnum)
        if compound and segment.should_assemble():
            segment.create_compound_file(self.storage)
            segment.compound = True
        return segment

    def _iter_postings(self):
        for name in sorted(self.postings):
            posts = self.postings[name]
            for tbytes in sorted(posts):
                docs, weights, values = _unpack(posts[tbytes])
                if values and len(values) != len(docs):
                    raise ValueError(f"{name}: some postings of a term carry values, others not")
                for i, d in enumerate(docs):
                    yield name, tbytes, d, weights[i], values[i] if values else b""


class _Lengths:
    """``doc_field_length`` over the lengths gathered in memory (what a per-document reader answers)."""

    def __init__(self, lengths):
        self.lengths = lengths

    def doc_field_length(self, docnum, fieldname, default=0):
        lens = self.lengths.get(fieldname)
        if lens is None:
            return default
        lb = lens[docnum] if docnum < len(lens) else 0
        return byte_to_length(lb) if lb else None


@contextlib.contextmanager
def no_cyclic_gc():
    """Python's cycle collector paused while a segment is built: the postings gathered are millions
    of lists and tuples (none in a cycle), which every full collection walked again (a tenth of the
    CPU time of a build)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bare(field) -> bool:
    """Whether every posting of ``field`` has weight 1 and no value (only document numbers kept)."""
    return type(field.format) is formats.Existence and field.format.field_boost == 1.0


def _unpack(post):
    """(docnums, weights, values) of a term's postings as gathered."""
    if isinstance(post, array):
        return post, array("f", [1.0]) * len(post), []
    return post


def _analyse(field, value) -> tuple[list, int]:
    """(term bytes, weight, value bytes) of a field value, and its length (sum of frequencies):
    what ``field.index(value)`` gives, computed without a token object per word for our analyzers."""
    fmt = field.format
    kind = type(field.analyzer)
    if kind is LibraryAnalyzer and type(fmt) is formats.Frequency:
        freqs, length = index_term_counts(value)
        fb = fmt.field_boost
        return [(w.encode(), f * fb, _pack_uint(f)) for w, f in freqs.items()], length
    if kind is LibraryAnalyzer and type(fmt) is formats.Positions:
        poses, length = index_term_positions(value)
        fb = fmt.field_boost
        return [(w.encode(), len(ps) * fb, fmt.encode(ps)) for w, ps in poses.items()], length
    if type(fmt) is formats.Existence and kind is ValuesAnalyzer:
        terms = dict.fromkeys(x for x in value.split("\x1f") if x)  # ValuesTokenizer
        return [(w.encode(), fmt.field_boost, b"") for w in terms], len(terms)
    if type(fmt) is formats.Existence and kind is IDTokenizer:
        return [(value.encode(), fmt.field_boost, b"")], 1
    if type(fmt) is formats.Existence and kind in (LibraryAnalyzer, ShingleAnalyzer):
        terms = line_shingles(value) if kind is ShingleAnalyzer else [t[0] for t in library_tokens(value)]
        fb = fmt.field_boost
        return [(w.encode(), fb, b"") for w in set(terms)], len(terms)
    items = []
    length = 0
    for tbytes, freq, weight, vbytes in field.index(value):
        items.append((tbytes, weight, vbytes))
        length += freq
    return items, length


def _write_sidecar_terms(fw, schema, postings: dict) -> None:
    """Every field's terms and postings handed whole to the sidecar codec's field writer
    (``sidecar_terms``), and nothing written to Whoosh's term and posting files: the sidecar alone
    holds them (``segments.SidecarTerms``). Writing Whoosh's format as well was a quarter of a
    reindex's CPU time."""
    for name in sorted(postings):
        posts = postings[name]
        if not posts:
            continue
        fw.sidecar_field(schema[name])
        terms = sorted(posts)
        docs, tfs, values = [], [], []
        for tbytes in terms:
            post = posts[tbytes]
            if isinstance(post, array):
                docs.append(post)
            else:
                docs.append(post[0])
                tfs.append(post[1])
                values.append(post[2])
        fw.sidecar_terms(terms, docs, tfs or None, values)
        fw.sidecar_end_field(name)


#: Documents of one segment made of a full rebuild's segments at most (``merge_segments``): a merge holds
#: the merged postings in memory (about 1.5 kB a record in the real catalogue: 400 MB at this size).
MERGED_RECORDS = 250_000


def merge_runs(segments: list, most: int = MERGED_RECORDS) -> list[list]:
    """``segments`` (a rebuild's, in order) in runs of consecutive ones holding ``most`` documents or
    fewer (a segment larger than that alone), each to become one segment (``merge_segments``): a
    search looks each word up once per segment, and a rebuild writes a segment per process and per
    ``SEGMENT_RECORDS``.

    >>> class Seg:
    ...     def __init__(self, n): self.n = n
    ...     def doc_count_all(self): return self.n
    >>> [[s.n for s in run] for run in merge_runs([Seg(6), Seg(6), Seg(5), Seg(20), Seg(1)], most=12)]
    [[6, 6], [5], [20], [1]]
    """
    runs: list[list] = []
    size = 0
    for seg in segments:
        n = seg.doc_count_all()
        if not runs or size + n > most:
            runs.append([])
            size = 0
        runs[-1].append(seg)
        size += n
    return runs


def merge_segments(storage, codec, schema, segments: list, indexname: str = "MAIN"):
    """One new segment holding the documents of ``segments`` (written by ``SegmentBuilder`` with the
    sidecar codec: terms in their sidecars, nothing deleted) in order, as one builder given the same
    documents writes it; returns it (not yet listed). No document is analysed or decoded again: the
    per-document columns are copied (stored fields still compressed) and the sidecars merged as arrays
    (``segments.merge_sidecars``)."""
    if not all(getattr(seg, "terms_in_sidecar", False) and not seg.has_deletions() for seg in segments):
        raise ValueError("only a rebuild's segments (terms in their sidecars, none deleted) are merged here")
    merged = codec.new_segment(storage, indexname)
    counts = [seg.doc_count_all() for seg in segments]
    schema_columns = {name: field.column_type for name, field in schema.items() if field.column_type}
    listed = storage.list()
    names = {name[len(seg.segment_id()) + 1:-len(W3Codec.COLUMN_EXT)] for seg in segments for name in listed
             if name.startswith(seg.segment_id() + ".") and name.endswith(W3Codec.COLUMN_EXT)}
    for name in sorted(names):
        column = STORED_COLUMN if name == "_stored" else schema_columns.get(name)
        if column is None and name.startswith("_") and name.endswith("_len"):
            column = LENGTHS_COLUMN
        files = [W3Codec.column_filename(seg, name) for seg in segments]
        with storage.create_file(W3Codec.column_filename(merged, name)) as out:
            if name == "_stored":
                _copy_stored(storage, files, counts, out)
            elif type(column) is columns.NumericColumn:
                out.write(_merged_numbers(storage, files, counts, column))
            else:
                raise ValueError(f"column {name}: no merge for {type(column).__name__}")
    merged._fieldlengths = defaultdict(int)  # as the per-document writer leaves it
    for seg in segments:
        for field, total in seg._fieldlengths.items():
            merged._fieldlengths[field] += total
    codec.field_writer(storage, merged).close()  # Whoosh's (empty) term and posting files
    merged.set_doc_count(sum(counts))
    merged.terms_in_sidecar = True
    merge_sidecars(Path(storage.folder), merged.segment_id(),
                   [Sidecar(sidecar_path(storage.folder, seg.segment_id())) for seg in segments])
    return merged


#: struct's type codes (standard sizes, big-endian: Whoosh's ``!``) as numpy's.
_NUMPY_OF_STRUCT = {"b": ">i1", "B": "u1", "h": ">i2", "H": ">u2", "i": ">i4", "I": ">u4", "l": ">i4", "L": ">u4",
                    "q": ">i8", "Q": ">u8", "f": ">f4", "d": ">f8"}


def _merged_numbers(storage, files: list[str], counts: list[int], column) -> bytes:
    """The file of a numeric column holding the parts' values (``files``: one per part, of ``counts``
    documents) end to end. Whoosh's writer stops at the last value that is not the default (a reader
    answers the default past the end): so does this."""
    dtype = np.dtype(_NUMPY_OF_STRUCT[column._typecode])
    out = np.full(sum(counts), column._default, dtype=dtype)
    start = 0
    for name, n in zip(files, counts, strict=True):
        if storage.file_exists(name):
            with storage.open_file(name) as f:
                values = np.frombuffer(f.read(storage.file_length(name)), dtype=dtype)
            out[start:start + len(values)] = values
        start += n
    keep = np.flatnonzero(out != column._default)
    return out[: int(keep[-1]) + 1 if len(keep) else 0].tobytes()


def _copy_stored(storage, files: list[str], counts: list[int], out) -> None:
    """The stored-fields column of the parts (compressed values copied as they are) end to end."""
    writer = columns.VarBytesColumn().writer(out)
    start = 0
    for name, n in zip(files, counts, strict=True):
        with storage.open_file(name) as f:
            reader = columns.VarBytesColumn().reader(f, 0, storage.file_length(name), n)
            for i, value in enumerate(reader):
                if value:
                    writer.add(start + i, value)
        start += n
    writer.finish(start)


def list_segments(ix, segments: list) -> None:
    """Make ``segments`` (in this order) the content of the fresh index ``ix`` in a new generation,
    and remove the files of anything else (the writers' temporary files included)."""
    from whoosh.index import TOC, clean_files

    storage = ix.storage
    generation = ix.latest_generation() + 1
    TOC(ix.schema, segments, generation).write(storage, ix.indexname)
    clean_files(storage, ix.indexname, generation, segments)
    tmp = os.path.join(storage.folder, f"{ix.indexname}.tmp")  # the per-document writers' scratch files
    shutil.rmtree(tmp, ignore_errors=True)
    remove_dead_sidecars(storage)  # of segments merged into others (``merge_segments``)
