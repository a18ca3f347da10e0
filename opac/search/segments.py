"""Segment storage the engine reads: flat arrays beside each Whoosh segment ("sidecar").

Whoosh writes the index; the engine evaluates queries as array operations. Decoding a Whoosh
posting list (pickled blocks) into arrays cost a worker's first meeting with every term, and each
worker kept its own copy. Instead, whenever a segment is written (a reindex, the follower's small
commits, a merge) the codec's writers also collect what the engine reads and save it, in one
file ``opac-<segment id>.arrays`` beside the segment's files (``write_sidecar``: a JSON header,
then each array's bytes at an aligned offset):

    header                    version, documents, term range of each field, where each array is
    terms / term_off          the terms' UTF-8 bytes end to end, and where each starts (sorted by
                              field, then term: a field's terms are one sorted range)
    hashes / hash_term        64-bit hash of (field, term), sorted, and the term it belongs to
    lexical                   1 where a term is a word offered for prefixes and spelling
    post_off / docs / tf      each term's postings: document numbers (int32), frequencies
    pos_off / pos             word positions of the postings of the fields that keep them
    len_<field>, col_<name>   field lengths and numeric columns, one value per document

A full rebuild's segments are then merged as arrays (``merge_sidecars``: each field's terms the sorted
union, each part's postings and positions moved whole), without decoding a posting.

Every worker maps the file once (``Sidecar``): the page cache holds one copy for all workers, and
a posting list is a slice. One file, not a file per array: a follower's commit of a few changes
writes a small segment (and a merge of small ones) and deletes what was merged away, and every web
worker opens the new one; with 25 ``.npy`` files a segment, opening them cost a worker 34 ms per
commit and the files' creation and deletion a good part of the follower's commit. A segment
without a sidecar (written by something else) is read through Whoosh, decoded per term into a
bounded per-process cache.

The terms and postings are written to the sidecar only (a full reindex's segments, ``bulk``, and
Whoosh's writer's: the follower's commits and merges); Whoosh's term and posting files of such a
segment are empty (``OpacSegment.terms_in_sidecar``) and Whoosh reads the terms from the sidecar
(``SidecarTerms``) when it deletes by id or merges.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import pickle
import shutil
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path

import numpy as np
from whoosh.codec.base import TermsReader
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    W3PerDocWriter,
    W3Segment,
    W3TermInfo,
    _lenfield,
)
from whoosh.columns import VarBytesColumn
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from .analysis import STEM_MARK
from .schema import COLUMNS

SIDECAR_VERSION = 2
SIDECAR_PREFIX = "opac-"
SIDECAR_SUFFIX = ".arrays"
_MAGIC = b"OPACSIDE"
_ALIGN = 64  # each array (and the first) begins at a multiple of this in the file

EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_TF = np.zeros(0, dtype=np.float32)
BYTE_TO_LENGTH = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)


def _by_table(ids: np.ndarray, docs: np.ndarray, cell_bytes: int) -> bool:
    """Whether looking ``docs`` up in ``ids`` (sorted) costs less through a table over the ids'
    range (cells of ``cell_bytes``) than by binary search: a search costs ~log2(len(ids)) steps per
    document, a table a few per id and document plus clearing its range."""
    span = int(ids[-1]) - int(ids[0]) + 1
    return len(docs) * max(len(ids), 2).bit_length() > 3 * (len(ids) + len(docs)) + span * cell_bytes // 32


def contains(ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Whether each of ``docs`` (any order) is in ``ids`` (sorted document numbers).

    >>> contains(np.array([2, 5, 9]), np.array([1, 2, 9, 10])).tolist()
    [False, True, True, False]
    """
    if not len(ids):
        return np.zeros(len(docs), dtype=bool)
    if not _by_table(ids, docs, 1):
        return ids[np.minimum(np.searchsorted(ids, docs), len(ids) - 1)] == docs
    lo, hi = int(ids[0]), int(ids[-1])
    table = np.zeros(hi - lo + 1, dtype=bool)
    table[ids - lo] = True
    inside = (docs >= lo) & (docs <= hi)
    out = np.zeros(len(docs), dtype=bool)
    out[inside] = table[docs[inside] - lo]
    return out


def positions(ids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Where each of ``docs`` (any order) is in ``ids`` (sorted document numbers), -1 where absent.

    >>> positions(np.array([2, 5, 9]), np.array([1, 2, 9, 10])).tolist()
    [-1, 0, 2, -1]
    """
    out = np.full(len(docs), -1, dtype=np.int64)
    if not len(ids):
        return out
    if not _by_table(ids, docs, 4):
        at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
        return np.where(ids[at] == docs, at, -1)
    lo, hi = int(ids[0]), int(ids[-1])
    table = np.full(hi - lo + 1, -1, dtype=np.int64 if len(ids) > 2**31 - 1 else np.int32)
    table[ids - lo] = np.arange(len(ids), dtype=table.dtype)
    inside = (docs >= lo) & (docs <= hi)
    out[inside] = table[docs[inside] - lo]
    return out


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The documents in both ``a`` and ``b`` (sorted, without repeats), in order: the shorter list
    is looked up in the longer one.

    >>> intersect(np.array([1, 4, 6, 9]), np.array([4, 9, 12])).tolist()
    [4, 9]
    """
    if len(a) > len(b):
        a, b = b, a
    return a[contains(b, a)]


def union(parts: list[np.ndarray]) -> np.ndarray:
    """The documents in any of ``parts`` (sorted lists), in order, without repeats.

    >>> union([np.array([1, 4]), np.array([2, 4, 7])]).tolist()
    [1, 2, 4, 7]
    """
    parts = [p for p in parts if len(p)]
    if len(parts) <= 1:
        return parts[0] if parts else EMPTY_IDS
    return unique_sorted(np.concatenate(parts))


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by sorting: numpy 2.4's ``np.unique`` hashes, 6× slower on 5,000 numbers
    and 15× on a million; sorted lists end to end (a union) sort in linear time (Timsort's runs).

    >>> unique_sorted(np.array([4, 1, 4, 2, 9, 1])).tolist()
    [1, 2, 4, 9]
    """
    if len(values) < 2:
        return values.copy()
    ordered = np.sort(values, kind="stable")
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


#: The UTF-8 of the highest code point: ``prefix + MAX_CHAR`` is after every word starting with ``prefix``.
_MAX_CHAR = "\U0010ffff".encode()

#: Free-text fields whose lexicon (prefix expansion, spelling) keeps only words with a letter.
TEXT_LEXICON_FIELDS = frozenset({"all", "title", "author", "subject", "publisher", "series"})
#: Fields of word pairs: looked up, never expanded or spelled.
PAIR_FIELDS = frozenset({"shingles", "headings"})


def is_lexical(field: str, text: str) -> bool:
    """Whether a term of ``field`` is a word offered for prefix expansion and spelling: no stems,
    and in free text no ISBNs, barcodes or numbers.

    >>> is_lexical("all", "sejarah"), is_lexical("all", "9786020312345"), is_lexical("f_type", "1")
    (True, False, True)
    """
    if text.startswith(STEM_MARK) or field in PAIR_FIELDS:
        return False
    return field not in TEXT_LEXICON_FIELDS or (len(text) <= 30 and any(ch.isalpha() for ch in text))


def term_hash(field: str, btext: bytes) -> int:
    """Stable 64-bit hash of a field's term (the sidecar's dictionary key): the little-endian
    number of an 8-byte BLAKE2b digest of the field's name, a zero byte and the term's UTF-8."""
    return int(term_hashes(field, [btext])[0])


def term_hashes(field: str, btexts: list[bytes]) -> np.ndarray:
    """:func:`term_hash` of each of ``btexts``, as one array (the field's part of the hash computed once).

    >>> term_hashes("all", [b"buku", b"sejarah"]).tolist() == [term_hash("all", b"buku"), term_hash("all", b"sejarah")]
    True
    """
    base = hashlib.blake2b(field.encode() + b"\0", digest_size=8)

    def digest(btext: bytes) -> bytes:
        h = base.copy()
        h.update(btext)
        return h.digest()

    return np.frombuffer(b"".join(map(digest, btexts)), dtype="<u8").astype(np.uint64)



class TermKeys:
    """Many terms to look up at once in every segment: (field, text) pairs with their UTF-8 and
    ``term_hash``, computed once for all segments (the digests read as one array)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs
        self.btexts = btexts = [t.encode("utf-8") for _, t in pairs]
        at_of: dict[str, list[int]] = {}
        for i, (f, _) in enumerate(pairs):
            at_of.setdefault(f, []).append(i)
        if len(at_of) == 1:  # many words of one field (spelling candidates): no sorting out
            self.hashes = term_hashes(next(iter(at_of)), btexts)
        else:
            self.hashes = np.zeros(len(pairs), dtype=np.uint64)
            for field, at in at_of.items():
                self.hashes[at] = term_hashes(field, [btexts[i] for i in at])
        self.hash_list = self.hashes.tolist()  # as Python numbers, for a small segment's dict


@lru_cache(maxsize=4096)
def term_keys(pairs: tuple[tuple[str, str], ...]) -> TermKeys:
    """``TermKeys`` of ``pairs``, hashed once per process (a search's look-ups recur with the words)."""
    return TermKeys(list(pairs))


def sidecar_path(folder: str | Path, segid: str) -> Path:
    return Path(folder) / f"{SIDECAR_PREFIX}{segid}{SIDECAR_SUFFIX}"


#: The largest single write of a sidecar's array. The page cache holds a file in pieces ("folios")
#: about as large as the writes that filled it — on ext4 with large folios (Linux 6.x) up to 2 MB for
#: one large write — and a worker's first touch of a memory-mapped file maps the whole piece around
#: it: each scattered read (a term looked up in 20 segments) then added up to 2 MB to every worker's
#: RSS. Written in 64 kB pieces, a touch maps 64 kB (the kernel's fault-around window) at most.
SIDECAR_WRITE = 64 * 1024


# ----------------------------------------------------------------------------- writing


class SidecarCodec(W3Codec):
    """Whoosh's codec whose writers also save the segment's sidecar (see the module docstring).

    Whoosh pickles the codec with each segment in the index's table of contents: this class and
    ``OpacSegment`` must keep their names and module; the writers are not part of the pickled state."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._perdoc: dict[str, _PerDocWriter] = {}

    def new_segment(self, storage, indexname):
        return OpacSegment(self, indexname)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_perdoc"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._perdoc = {}

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def per_document_writer(self, storage, segment):
        w = _PerDocWriter(self, storage, segment)
        self._perdoc[segment.segment_id()] = w
        return w

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment, self._perdoc.get(segment.segment_id()))

    def terms_reader(self, storage, segment):
        if getattr(segment, "terms_in_sidecar", False):
            return SidecarTerms(sidecar_path(storage.folder, segment.segment_id()))
        return super().terms_reader(storage, segment)


class OpacSegment(W3Segment):
    """A segment whose files stay separate, never assembled into one compound file: a worker
    reads a compound file's parts into memory (Whoosh copies each into a ``BytesIO``: the terms
    file of a 38k-record catalogue was 120 MB per worker), separate files are read in place.

    ``terms_in_sidecar`` (set by the codec's field writer, kept in the index's table of contents):
    Whoosh's term and posting files are empty and the sidecar alone holds the terms (``SidecarTerms``)."""

    terms_in_sidecar = False

    def should_assemble(self):
        return False


class _PerDocReader(W3PerDocReader):
    """Also remembers the columns a segment lacks: Whoosh looked for the file again at each look-up,
    a ``stat`` per posting of a field without lengths when a merge reads the segment."""

    def _cached_reader(self, fieldname, column):
        reader = super()._cached_reader(fieldname, column)
        if reader is None:
            self._readers[fieldname] = None
        return reader


class _PerDocWriter(W3PerDocWriter):
    """Also keeps the field lengths (as Whoosh's length bytes) and the numeric columns."""

    def __init__(self, codec, storage, segment):
        super().__init__(codec, storage, segment)
        self.sc_values: dict[str, tuple[array, list]] = {}

    def add_column_value(self, fieldname, columnobj, value):
        super().add_column_value(fieldname, columnobj, value)
        if _sidecar_column(fieldname):
            got = self.sc_values.get(fieldname)
            if got is None:
                got = self.sc_values[fieldname] = (array("i"), [])
            got[0].append(self._docnum)
            got[1].append(value)

    def stored_writer(self):
        """The column writer of the stored fields (``bulk`` adds each document's dict to it, as ``finish_doc`` does)."""
        return self._colwriters["_stored"]

    def add_whole_columns(self, doccount: int, lengths: dict, totals: dict[str, int], columns: dict) -> None:
        """What ``add_field`` and ``add_column_value`` write of ``doccount`` documents, at once (``bulk``):
        each field's length byte per document (``lengths``, 0 where none) and the sum of its lengths
        (``totals``), each numeric column's (column, value per document: its default where none)."""
        self._doccount = doccount
        for name, total in totals.items():
            self._fieldlengths[name] += total
        for name, lbs in lengths.items():
            self._whole_column(_lenfield(name), LENGTHS_COLUMN, lbs)
        for name, (column, values) in columns.items():
            self._whole_column(name, column, values)

    def _whole_column(self, name: str, column, values) -> None:
        """A numeric column's file as its writer's ``add`` per document leaves it: the values up to the last
        one that is not the default."""
        self._create_column(name, column)
        writer = self._colwriters[name]
        n = len(values)
        while n and values[n - 1] == column._default:
            n -= 1
        if n:
            writer._dbfile.write(struct.pack(f"!{n}{column._typecode}", *values[:n]))
        writer._count = n
        if _sidecar_column(name):
            self.sc_values[name] = (array("i", range(len(values))), list(values))


def _sidecar_column(name: str) -> bool:
    """Whether the sidecar keeps a column: the engine's numeric columns and the field lengths."""
    return name in COLUMNS or (name.startswith("_") and name.endswith("_len"))


class _FieldWriter(W3FieldWriter):
    """Keeps every posting (and the positions of fields with positions) for the sidecar, which alone
    holds them (``sidecar_only``: Whoosh's term and posting files stay empty, and the segment is
    flagged ``terms_in_sidecar``). Where no sidecar can be written (an index in memory, a codec
    without this one's per-document writer) it writes Whoosh's files as Whoosh does."""

    def __init__(self, codec, storage, segment, perdoc: _PerDocWriter | None):
        super().__init__(codec, storage, segment)
        self.sidecar_only = getattr(storage, "folder", None) is not None and perdoc is not None
        self._sc_perdoc = perdoc
        self._sc_fields: dict[str, tuple[int, int]] = {}
        self._sc_terms: list[bytes] = []
        self._sc_post_off = array("q", [0])
        self._sc_docs = array("i")
        self._sc_tf = array("f")
        self._sc_pos_start: int | None = None  # first posting with positions
        self._sc_pos_off = array("q", [0])
        self._sc_pos = array("i")
        self._sc_decode = None
        self._sc_lo = 0

    def start_field(self, fieldname, fieldobj):
        super().start_field(fieldname, fieldobj)
        self.sidecar_field(fieldobj)

    def sidecar_field(self, fieldobj) -> None:
        """A field's terms begin (also called by ``bulk``, which writes Whoosh's files itself)."""
        self._sc_lo = len(self._sc_terms)
        # positions only where the engine checks them (phrases in the title); one field at most
        self._sc_decode = None
        if fieldobj.format.supports("positions") and self._sc_pos_start is None:
            self._sc_decode = fieldobj.format.decode_positions
            self._sc_pos_start = len(self._sc_docs)

    def sidecar_terms(self, btexts: list[bytes], docs: list[array], tfs: list[array] | None, values: list) -> None:
        """Whole terms' postings at once (``bulk``): what ``start_term``, ``add`` per posting and
        ``finish_term`` collect for each of ``btexts``, whose document numbers (below 2**31, arrays
        "I" or "i"), frequencies (None: all 1) and values are ``docs[i]``, ``tfs[i]`` and ``values[i]``."""
        self._sc_terms.extend(btexts)
        start = len(self._sc_docs)
        self._sc_docs.frombytes(b"".join([d.tobytes() for d in docs]))
        if tfs is None:
            self._sc_tf.extend(array("f", [1.0]) * (len(self._sc_docs) - start))
        else:
            self._sc_tf.frombytes(b"".join([t.tobytes() for t in tfs]))
        it = accumulate(map(len, docs), initial=start)
        next(it)
        self._sc_post_off.extend(it)
        if self._sc_decode is not None:
            for vals in values:
                for vbytes in vals:
                    self._sc_pos.extend(self._sc_decode(vbytes))
                    self._sc_pos_off.append(len(self._sc_pos))

    def sidecar_end_field(self, fieldname: str) -> None:
        self._sc_fields[fieldname] = (self._sc_lo, len(self._sc_terms))
        if self._sc_decode is not None:
            self._sc_pos_end = len(self._sc_docs)
            self._sc_decode = None

    def start_term(self, btext):
        if not self.sidecar_only:
            super().start_term(btext)
        self._sc_terms.append(btext)

    def add(self, docnum, weight, vbytes, length):
        if not self.sidecar_only:
            super().add(docnum, weight, vbytes, length)
        self._sc_docs.append(docnum)
        self._sc_tf.append(weight)
        if self._sc_decode is not None:
            self._sc_pos.extend(self._sc_decode(vbytes))
            self._sc_pos_off.append(len(self._sc_pos))

    def finish_term(self):
        if not self.sidecar_only:
            super().finish_term()
        self._sc_post_off.append(len(self._sc_docs))

    def finish_field(self):
        super().finish_field()
        self.sidecar_end_field(self._fieldname)

    def close(self):
        super().close()
        perdoc = self._sc_perdoc
        if not self.sidecar_only or not perdoc._doccount:
            return  # Whoosh's files hold the terms, or a segment with no documents (never used)
        self._segment.terms_in_sidecar = True
        write_sidecar(Path(self._storage.folder), self._segment.segment_id(), perdoc._doccount, self._sc_fields,
                      self._sc_terms, self._sc_post_off, self._sc_docs, self._sc_tf,
                      (self._sc_pos_start, getattr(self, "_sc_pos_end", self._sc_pos_start)),
                      self._sc_pos_off, self._sc_pos, perdoc.sc_values)
        remove_dead_sidecars(self._storage)


def write_sidecar(folder: Path, segid: str, n: int, fields: dict, terms: list[bytes], post_off, docs, tf,
                  pos_range, pos_off, pos, values: dict) -> Path:
    """Save a segment's sidecar, atomically (a temporary file renamed into place)."""
    arrays: dict[str, np.ndarray] = {}

    def save(name, arr):
        arrays[name] = np.ascontiguousarray(arr)

    hashes = np.zeros(len(terms), dtype=np.uint64)
    lexical = np.zeros(len(terms), dtype=np.uint8)
    for field, (lo, hi) in fields.items():
        hashes[lo:hi] = term_hashes(field, terms[lo:hi])
        if field not in PAIR_FIELDS:
            lexical[lo:hi] = [is_lexical(field, t.decode("utf-8")) for t in terms[lo:hi]]
    arrays.update(_dictionary(terms, hashes, lexical))
    save("post_off", np.frombuffer(post_off, dtype=np.int64))
    save("docs", np.frombuffer(docs, dtype=np.int32))
    save("tf", np.frombuffer(tf, dtype=np.float32))
    save("pos_off", np.frombuffer(pos_off, dtype=np.int64))
    save("pos", np.frombuffer(pos, dtype=np.int32))
    for name, (at, vals) in values.items():
        if name in COLUMNS:
            dtype = np.dtype(COLUMNS[name]).newbyteorder("=")
            arr = np.zeros(n, dtype=dtype)
            arr[np.frombuffer(at, dtype=np.int32)] = np.asarray(vals, dtype=dtype)
            save(f"col_{name}", arr)
        else:  # "_<field>_len": Whoosh's length bytes, read back as Whoosh would
            arr = np.zeros(n, dtype=np.float32)
            arr[np.frombuffer(at, dtype=np.int32)] = BYTE_TO_LENGTH[np.asarray(vals, dtype=np.uint8)]
            save(f"len_{name[1:-4]}", arr)
    start, end = pos_range
    return _save_sidecar(folder, segid, n, fields, None if start is None else [start, end], arrays)


def _dictionary(terms: list[bytes], hashes: np.ndarray, lexical: np.ndarray) -> dict[str, np.ndarray]:
    """A sidecar's dictionary arrays (see the module docstring) of ``terms`` (in the sidecar's order)
    with the ``term_hash`` and the lexical flag of each."""
    term_off = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, terms), dtype=np.int64, count=len(terms)), out=term_off[1:])
    order = np.argsort(hashes, kind="stable")
    return {"terms": np.frombuffer(b"".join(terms), dtype=np.uint8), "term_off": term_off,
            "hashes": hashes[order], "hash_term": order.astype(np.int32), "lexical": lexical}


def _save_sidecar(folder: Path, segid: str, n: int, fields: dict, positions: list | None,
                  arrays: dict[str, np.ndarray]) -> Path:
    """Write a sidecar's header and ``arrays`` (see the module docstring) to a temporary file renamed into place."""
    final = sidecar_path(folder, segid)
    meta = {"version": SIDECAR_VERSION, "documents": n, "fields": fields, "positions": positions, "arrays": {}}
    at = 0
    for name, arr in arrays.items():
        meta["arrays"][name] = [arr.dtype.str, at, len(arr)]
        at += _aligned(arr.nbytes)
    header = json.dumps(meta).encode()
    start_of_data = _aligned(len(_MAGIC) + 8 + len(header))
    tmp = folder / f".{final.name}.{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "wb") as f:
        f.write(_MAGIC + start_of_data.to_bytes(8, "little") + header)
        for name, arr in arrays.items():
            f.seek(start_of_data + meta["arrays"][name][1])
            data = memoryview(arr).cast("B")
            for piece in range(0, len(data), SIDECAR_WRITE):  # see SIDECAR_WRITE
                f.write(data[piece:piece + SIDECAR_WRITE])
        f.truncate(start_of_data + at)
    os.replace(tmp, final)
    return final


def merge_sidecars(folder: Path, segid: str, parts: list[Sidecar]) -> Path:
    """Save the sidecar of one segment holding the segments of ``parts`` (their sidecars, in order:
    each one's documents numbered after those of the ones before it; none deleted), as the sidecar
    writer would write it for the same documents in one segment. Arrays only, no posting decoded:
    each field's terms are the sorted union of the parts' terms, and each part's postings (and
    positions) are moved, whole, to their places in the merged lists."""
    starts = np.cumsum([0] + [p.n for p in parts])
    terms: list[bytes] = []
    fields: dict[str, tuple[int, int]] = {}
    where = [np.zeros(len(p.term_off) - 1, dtype=np.int64) for p in parts]  # a part's term -> merged term
    for name in sorted(set().union(*(p.fields for p in parts))):
        texts = [_term_texts(p, *p.fields.get(name, (0, 0))) for p in parts]
        merged = sorted(set().union(*texts))
        number = {t: i for i, t in enumerate(merged, start=len(terms))}
        for p, got, to in zip(parts, texts, where, strict=True):
            lo, hi = p.fields.get(name, (0, 0))
            to[lo:hi] = np.fromiter(map(number.__getitem__, got), dtype=np.int64, count=len(got))
        fields[name] = (len(terms), len(terms) + len(merged))
        terms.extend(merged)
    # postings: each merged term's, part after part
    counts = np.zeros(len(terms), dtype=np.int64)
    for p, to in zip(parts, where, strict=True):
        counts[to] += np.diff(p.post_off)
    post_off = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=post_off[1:])
    docs = np.empty(int(post_off[-1]), dtype=np.int32)
    tf = np.empty(len(docs), dtype=np.float32)
    fill = post_off[:-1].copy()  # where each merged term's next postings go
    moved = []  # per part: where each of its postings went
    for p, to, start in zip(parts, where, starts[:-1].tolist(), strict=True):
        lens = np.diff(p.post_off)
        dest = np.repeat(fill[to] - p.post_off[:-1], lens) + np.arange(len(p.docs))
        fill[to] += lens
        docs[dest] = p.docs + start
        tf[dest] = p.tf
        moved.append(dest)
    positions, pos_off, pos = _merge_positions(parts, moved, fields, post_off)
    hashes = np.zeros(len(terms), dtype=np.uint64)
    lexical = np.zeros(len(terms), dtype=np.uint8)
    for p, to in zip(parts, where, strict=True):
        own = np.empty(len(to), dtype=np.uint64)
        own[p.hash_term] = p.hashes
        hashes[to] = own
        lexical[to] = p.lexical
    arrays = {**_dictionary(terms, hashes, lexical),
              "post_off": post_off, "docs": docs, "tf": tf, "pos_off": pos_off, "pos": pos}
    for kind, of in (("col", Sidecar.column), ("len", Sidecar.lengths)):
        own = {"col": "_columns", "len": "_lengths"}[kind]
        for name in sorted(set().union(*(getattr(p, own) for p in parts))):
            arrays[f"{kind}_{name}"] = np.concatenate([of(p, name) for p in parts])
    return _save_sidecar(folder, segid, int(starts[-1]), fields, positions, arrays)


def _term_texts(side: Sidecar, lo: int, hi: int) -> list[bytes]:
    """The UTF-8 of a sidecar's terms ``lo`` to ``hi`` (one read of their bytes)."""
    off = side.term_off[lo:hi + 1]
    buf = side.terms[off[0]:off[-1]].tobytes() if hi > lo else b""
    at = (off - off[0]).tolist()
    return [buf[a:b] for a, b in zip(at[:-1], at[1:], strict=True)]


def _merge_positions(parts: list[Sidecar], moved: list[np.ndarray], fields: dict, post_off: np.ndarray):
    """The merged sidecar's positions (``merge_sidecars``): (its range of postings, pos_off, pos). Only
    one field keeps positions (``_FieldWriter.sidecar_field``); a part's positions cover that field's postings."""
    field = None
    for p in parts:
        if p.pos_range is not None and p.pos_range[1] > p.pos_range[0]:
            name = next(f for f, (lo, hi) in p.fields.items()
                        if hi > lo and [p.post_off[lo], p.post_off[hi]] == list(p.pos_range))
            if field not in (None, name):
                raise ValueError(f"positions of {field} in one part, of {name} in another")
            field = name
    if field is None:
        empty = None if all(p.pos_range is None for p in parts) else [0, 0]
        return empty, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    lo, hi = fields[field]
    first, end = int(post_off[lo]), int(post_off[hi])
    counts = np.zeros(end - first, dtype=np.int64)
    dests = []
    for p, dest in zip(parts, moved, strict=True):
        if p.pos_range is None or p.pos_range[1] == p.pos_range[0]:
            dests.append(None)
            continue
        s, e = p.pos_range
        d = dest[s:e] - first
        counts[d] = np.diff(p.pos_off)
        dests.append(d)
    pos_off = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=pos_off[1:])
    pos = np.empty(int(pos_off[-1]), dtype=np.int32)
    for p, d in zip(parts, dests, strict=True):
        if d is not None:
            lens = np.diff(p.pos_off)
            pos[np.repeat(pos_off[d] - p.pos_off[:-1], lens) + np.arange(int(p.pos_off[-1]))] = p.pos[:p.pos_off[-1]]
    return [first, end], pos_off, pos


def _aligned(nbytes: int) -> int:
    """``nbytes`` rounded up to a multiple of ``_ALIGN``.

    >>> _aligned(0), _aligned(1), _aligned(64), _aligned(65)
    (0, 64, 64, 128)
    """
    return -(-nbytes // _ALIGN) * _ALIGN


def remove_dead_sidecars(storage) -> None:
    """Remove the sidecars of segments whose files Whoosh has deleted (merged away)."""
    folder = Path(storage.folder)
    names = set(storage.list())
    for p in folder.glob(f"{SIDECAR_PREFIX}*"):
        segid = p.name[len(SIDECAR_PREFIX):].removesuffix(SIDECAR_SUFFIX)
        if not any(n.startswith(segid + ".") for n in names):
            if p.is_dir():  # an older version's directory of .npy files
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- reading


class LRUCache:
    """Values with a byte size, least recently used out past ``max_bytes`` (thread-safe)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            v = self._data.get(key)
            if v is not None:
                self._data.move_to_end(key)
                return v[0]
            return None

    def put(self, key, value, size: int, replace: bool = False) -> None:
        """Keep ``value`` (a key already kept stays as it is unless ``replace``)."""
        with self._lock:
            old = self._data.get(key)
            if old is not None:
                if not replace:
                    return
                self.bytes -= old[1]
            self._data[key] = (value, size)
            self._data.move_to_end(key)
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._data) > 1:
                _, (_, old_size) = self._data.popitem(last=False)
                self.bytes -= old_size


#: A segment with at most this many terms (the desk's commits: a few dozen records at most) looks
#: terms up in a Python dict built once (about 115 bytes a term in each worker), not by a sorted
#: search of its arrays: a search asks every segment for every word, and a few small segments' numpy
#: calls cost more than the big segments' work.
DICT_TERMS_MAX = 16_384
#: ... for at most this many terms at once (a spelling's hundreds of candidates: one sorted search).
DICT_KEYS_MAX = 48
#: Up to this many terms found in a segment are read one by one; more (a prefix's words) with one
#: numpy call per array for all of them.
FEW_KEYS = 6


class Sidecar:
    """A segment's sidecar, memory-mapped (see the module docstring)."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            # a later merge may delete the file: the mapping stays valid
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if mm[:len(_MAGIC)] != _MAGIC:
            raise ValueError(f"{path}: not a sidecar")
        start_of_data = int.from_bytes(mm[len(_MAGIC):len(_MAGIC) + 8], "little")
        meta = json.loads(mm[len(_MAGIC) + 8:start_of_data].rstrip(b"\0"))
        if meta.get("version") != SIDECAR_VERSION:
            raise ValueError(f"sidecar version {meta.get('version')}")
        self.n = int(meta["documents"])
        self.fields = {f: (int(lo), int(hi)) for f, (lo, hi) in meta["fields"].items()}
        self.pos_range = meta["positions"]
        self.path = path
        #: Every array of the sidecar by name (see the module docstring), read-only views of the map.
        self.arrays = {name: np.frombuffer(mm, dtype=np.dtype(dtype), count=count, offset=start_of_data + at)
                       for name, (dtype, at, count) in meta["arrays"].items()}
        a = self.arrays
        self.terms, self.term_off, self.hashes, self.hash_term = a["terms"], a["term_off"], a["hashes"], a["hash_term"]
        self.lexical, self.post_off, self.docs, self.tf = a["lexical"], a["post_off"], a["docs"], a["tf"]
        self.pos_off, self.pos = a["pos_off"], a["pos"]
        self._lengths = {name[4:]: v for name, v in a.items() if name.startswith("len_")}
        self._columns = {name[4:]: v for name, v in a.items() if name.startswith("col_")}

    def text(self, t: int) -> bytes:
        return self.terms[self.term_off[t]:self.term_off[t + 1]].tobytes()

    def term_id(self, field: str, text: str) -> int:
        """The term's number in this segment, -1 when the segment does not hold it."""
        return self.term_id_of(field, text.encode("utf-8"))

    def term_id_of(self, field: str, btext: bytes) -> int:
        """``term_id`` of a term as UTF-8 bytes."""
        if field not in self.fields:
            return -1
        h = np.uint64(term_hash(field, btext))
        return self._verify(field, btext, h, int(self.hashes.searchsorted(h)))

    def _verify(self, field: str, btext: bytes, h, i: int) -> int:
        """The term among the entries of hash ``h`` from ``i`` on (the first entry of ``h`` in
        ``hashes`` when the segment has it), -1 when none is it."""
        rng = self.fields.get(field)
        if rng is None:
            return -1
        hashes = self.hashes
        while i < len(hashes) and hashes[i] == h:
            t = int(self.hash_term[i])
            if rng[0] <= t < rng[1] and self.text(t) == btext:
                return t
            i += 1
        return -1

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        return self._postings_of(self.term_id(field, term))

    def _postings_of(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if t < 0:
            return EMPTY_IDS, EMPTY_TF
        a, b = self.post_off[t], self.post_off[t + 1]
        return self.docs[a:b], self.tf[a:b]

    @cached_property
    def term_set(self):
        """A small segment's term hashes as a set (``Snapshot.may_hold``), None for a large one."""
        return self._first_of_hash.keys() if len(self.hashes) <= DICT_TERMS_MAX else None

    @cached_property
    def _first_of_hash(self) -> dict[int, int]:
        """A small segment's dictionary as a Python dict: hash -> its first place in ``hashes``."""
        return {h: i for i, h in reversed(list(enumerate(self.hashes.tolist())))}

    def _term_ids(self, keys: TermKeys):
        """(i, term number) of each of ``keys`` the segment holds: one sorted search of the
        dictionary for all of them (a small segment: a dict), then the text of each hash found
        checked (a rare shared hash)."""
        hashes = self.hashes
        if not len(hashes) or not len(keys.hashes):
            return
        if len(hashes) <= DICT_TERMS_MAX and len(keys.hash_list) <= DICT_KEYS_MAX:
            first = self._first_of_hash
            if first.keys().isdisjoint(keys.hash_list):
                return  # the usual answer of a small segment (the desk's): one look in C
            for i, h in enumerate(keys.hash_list):
                j = first.get(h)
                if j is not None:
                    t = self._verify(keys.pairs[i][0], keys.btexts[i], keys.hashes[i], j)
                    if t >= 0:
                        yield i, t
            return
        at = np.minimum(hashes.searchsorted(keys.hashes), len(hashes) - 1)
        hit = np.flatnonzero(hashes[at] == keys.hashes)
        if len(hit) <= FEW_KEYS:
            for i in hit.tolist():
                t = self._verify(keys.pairs[i][0], keys.btexts[i], keys.hashes[i], int(at[i]))
                if t >= 0:
                    yield i, t
            return
        # the found hashes' first terms and their texts' bounds read at once (a prefix's dozens of
        # words: numpy's scalar reads, one by one, cost more than the look-up)
        first = at[hit]
        ts = self.hash_term[first]
        term_off, terms, fields = self.term_off, self.terms, self.fields
        for i, j, t, a, b in zip(hit.tolist(), first.tolist(), ts.tolist(), term_off[ts].tolist(),
                                 term_off[ts + 1].tolist(), strict=True):
            field, btext = keys.pairs[i][0], keys.btexts[i]
            rng = fields.get(field)
            if rng is not None and rng[0] <= t < rng[1] and b - a == len(btext) and terms[a:b].tobytes() == btext:
                yield i, t
            else:  # another term of the same hash first (rare): the entries of the hash in turn
                t = self._verify(field, btext, keys.hashes[i], j)
                if t >= 0:
                    yield i, t

    def found(self, keys: TermKeys) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """(i, its postings) of each of ``keys`` the segment holds (most segments hold few of them)."""
        held = list(self._term_ids(keys))
        if len(held) <= FEW_KEYS:
            for i, t in held:
                yield i, self._postings_of(t)
            return
        ts = np.fromiter((t for _, t in held), dtype=np.int64, count=len(held))
        docs, tf = self.docs, self.tf
        for (i, _), a, b in zip(held, self.post_off[ts].tolist(), self.post_off[ts + 1].tolist(), strict=True):
            yield i, (docs[a:b], tf[a:b])

    def doc_frequency(self, field: str, term: str) -> int:
        t = self.term_id(field, term)
        return 0 if t < 0 else int(self.post_off[t + 1] - self.post_off[t])

    def add_word_dfs(self, keys: TermKeys, total: np.ndarray) -> None:
        """Add to ``total`` the document frequencies of many words (``keys``: of one field) as real
        words of their field (see ``is_lexical``), at once (one sorted search for all of them)."""
        if not keys.pairs or keys.pairs[0][0] not in self.fields:
            return
        for i, t in self._term_ids(keys):
            if self.lexical[t]:
                total[i] += self.post_off[t + 1] - self.post_off[t]

    def _bisect(self, lo: int, hi: int, key: bytes) -> int:
        while lo < hi:
            mid = (lo + hi) // 2
            if self.text(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def prefix_terms(self, field: str, prefix: str, limit: int) -> dict[str, int]:
        """Up to ``limit`` most frequent words of ``field`` starting with ``prefix`` -> frequency."""
        rng = self.fields.get(field)
        if rng is None:
            return {}
        key = prefix.encode("utf-8")
        a = self._bisect(rng[0], rng[1], key)
        b = self._bisect(a, rng[1], key + _MAX_CHAR)
        if b <= a:
            return {}
        dfs = np.diff(self.post_off[a:b + 1]) * self.lexical[a:b]
        top = np.argpartition(dfs, -limit)[-limit:] if b - a > limit else np.arange(b - a)
        return {self.text(a + int(i)).decode("utf-8"): int(dfs[i]) for i in top if dfs[i]}

    def field_postings(self, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every term of ``field`` with its postings end to end: (terms, documents, frequency of each)."""
        rng = self.fields.get(field)
        if rng is None:
            return [], EMPTY_IDS, np.zeros(0, dtype=np.int64)
        lo, hi = rng
        texts = [self.text(t).decode("utf-8") for t in range(lo, hi)]
        return texts, self.docs[self.post_off[lo]:self.post_off[hi]], np.diff(self.post_off[lo:hi + 1])

    def positions(self, field: str, term: str, local: np.ndarray) -> dict[int, set[int]]:
        t = self.term_id(field, term)
        if t < 0 or self.pos_range is None:
            return {}
        a, b = int(self.post_off[t]), int(self.post_off[t + 1])
        start, end = self.pos_range
        if not (start <= a and b <= end):
            return {}
        ids = self.docs[a:b]
        at = np.searchsorted(ids, local)
        out = {}
        for d, j in zip(local.tolist(), at.tolist(), strict=True):
            if j < len(ids) and ids[j] == d:
                k = a + j - start
                out[d] = set(self.pos[self.pos_off[k]:self.pos_off[k + 1]].tolist())
        return out

    def lengths(self, field: str) -> np.ndarray:
        got = self._lengths.get(field)
        return np.zeros(self.n, dtype=np.float32) if got is None else got  # no document has the field

    def column(self, name: str) -> np.ndarray:
        got = self._columns.get(name)
        return np.zeros(self.n, dtype=np.dtype(COLUMNS[name]).newbyteorder("=")) if got is None else got


class SidecarTerms(TermsReader):
    """Whoosh's view of the terms and postings of a segment whose sidecar alone holds them
    (``OpacSegment.terms_in_sidecar``). The engine reads the sidecar itself; this serves what Whoosh
    reads of a segment: the follower's deletions by id, and the postings of a merge. A posting's value
    is made again from what the sidecar keeps: a frequency (``Frequency``), the positions of the one
    field that keeps them, nothing (``Existence``). A merge walks the terms in order and asks for each
    one's postings right after: the term just walked is found without a look-up."""

    def __init__(self, path: Path):
        self.path = path
        self._walked: tuple[str, bytes, int] | None = None  # the term ``terms_from`` yielded last

    @cached_property
    def sc(self) -> Sidecar:
        """The sidecar, opened at the first use (the web workers read it through the engine's own)."""
        return Sidecar(self.path)

    @cached_property
    def _order(self) -> list[str]:
        return sorted(self.sc.fields)

    def _term(self, fieldname: str, btext: bytes) -> int:
        walked = self._walked
        if walked is not None and walked[0] == fieldname and walked[1] == btext:
            return walked[2]
        return self.sc.term_id_of(fieldname, btext)

    def __contains__(self, term) -> bool:
        return self._term(*term) >= 0

    def indexed_field_names(self):
        return list(self._order)

    def terms_from(self, fieldname, prefix):
        sc = self.sc
        prefix = prefix if isinstance(prefix, bytes) else prefix.encode("utf-8")
        for name in self._order:
            if name < fieldname:
                continue
            lo, hi = sc.fields[name]
            start = sc._bisect(lo, hi, prefix) if name == fieldname else lo
            for t in range(start, hi):
                btext = sc.text(t)
                self._walked = (name, btext, t)
                yield name, btext

    def terms(self):
        return self.terms_from("", b"")

    def term_info(self, fieldname, tbytes):
        t = self._term(fieldname, tbytes)
        if t < 0:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return self._info(fieldname, t)[0]

    def _info(self, fieldname: str, t: int) -> tuple[W3TermInfo, list[int], list[float]]:
        """The term's statistics, and its postings' documents and frequencies as lists."""
        sc = self.sc
        a, b = int(sc.post_off[t]), int(sc.post_off[t + 1])
        docs, tf = sc.docs[a:b].tolist(), sc.tf[a:b].tolist()
        lengths = sc._lengths.get(fieldname)
        if lengths is None:
            known = ()
        elif b - a <= 64:
            known = [x for x in map(lengths.item, docs) if x > 0]
        else:
            known = lengths[sc.docs[a:b]]
            known = known[known > 0].tolist()
        info = W3TermInfo(weight=sum(tf), df=b - a, minlength=int(min(known)) if known else 0,
                          maxlength=int(max(known)) if known else 0, maxweight=max(tf), minid=docs[0], maxid=docs[-1])
        return info, docs, tf

    def items_from(self, fieldname, prefix):
        for name, btext in self.terms_from(fieldname, prefix):
            yield (name, btext), self.term_info(name, btext)

    def items(self):
        return self.items_from("", b"")

    def frequency(self, fieldname, tbytes):
        return self.term_info(fieldname, tbytes).weight()

    def doc_frequency(self, fieldname, tbytes):
        return self.term_info(fieldname, tbytes).doc_frequency()

    def matcher(self, fieldname, tbytes, format_, scorer=None):
        sc = self.sc
        t = self._term(fieldname, tbytes)
        if t < 0:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        info, docs, tf = self._info(fieldname, t)
        n = len(docs)
        if format_.fixed_value_size() == 0:
            values = [None] * n  # Existence: no values (as Whoosh's own postings give them)
        elif format_.supports("positions"):
            a = int(sc.post_off[t])
            start, end = sc.pos_range or (0, 0)
            if not (start <= a and a + n <= end):
                raise ValueError(f"the sidecar keeps no positions of {fieldname}")
            off = sc.pos_off[a - start:a - start + n + 1].tolist()
            pos = sc.pos[off[0]:off[-1]].tolist()
            base = off[0]
            values = [format_.encode(pos[off[k] - base:off[k + 1] - base]) for k in range(n)]
        else:
            boost = format_.field_boost
            values = [pack_uint(round(w / boost)) for w in tf]
        return ListMatcher(docs, tf, values, format_, scorer=scorer, term=(fieldname, tbytes), terminfo=info)

    def cursor(self, fieldname, fieldobj):
        raise NotImplementedError("a sidecar segment has no Whoosh term cursor")


class WhooshSegment:
    """A segment without a sidecar, read through Whoosh: posting lists decoded per term into
    ``cache`` (per process, shared by segments), lexicons built once per segment."""

    #: Its terms are not known at once (``Sidecar.term_set``).
    term_set = None

    def __init__(self, segreader, cache: LRUCache):
        self.reader = segreader
        self.segid = segreader._segment.segment_id()
        self.n = segreader.doc_count_all()
        self.cache = cache
        self._lexicons: dict[str, tuple[list[str], np.ndarray]] = {}
        self._lock = threading.Lock()

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        key = (self.segid, field, term)
        v = self.cache.get(key)
        if v is None:
            v = read_postings(self.reader, field, term)
            self.cache.put(key, v, v[0].nbytes + v[1].nbytes + 100)
        return v

    def found(self, keys: TermKeys) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        for i, (f, t) in enumerate(keys.pairs):
            v = self.postings(f, t)
            if len(v[0]):
                yield i, v

    def doc_frequency(self, field: str, term: str) -> int:
        try:
            return self.reader._terms.doc_frequency(field, term.encode("utf-8"))
        except (KeyError, TermNotFound):
            return 0

    def _lexicon(self, field: str):
        lex = self._lexicons.get(field)
        if lex is None:
            with self._lock:
                lex = self._lexicons.get(field)
                if lex is None:
                    terms, dfs = [], []
                    try:
                        for btext, ti in self.reader.iter_field(field):
                            text = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                            if is_lexical(field, text):
                                terms.append(text)
                                dfs.append(ti.doc_frequency())
                    except (KeyError, TermNotFound):
                        pass
                    lex = self._lexicons[field] = (terms, np.asarray(dfs, dtype=np.int64))
        return lex

    def add_word_dfs(self, keys: TermKeys, total: np.ndarray) -> None:
        if not keys.pairs:
            return
        field = keys.pairs[0][0]
        words = [w for _, w in keys.pairs]
        table = self._lexicons.get(("dict", field))
        if table is None:
            terms, dfs = self._lexicon(field)
            table = self._lexicons[("dict", field)] = dict(zip(terms, dfs.tolist(), strict=True))
        total += np.array([table.get(w, 0) for w in words], dtype=np.int64)

    def prefix_terms(self, field: str, prefix: str, limit: int) -> dict[str, int]:
        import bisect

        terms, dfs = self._lexicon(field)
        lo = bisect.bisect_left(terms, prefix)
        hi = bisect.bisect_left(terms, prefix + "\U0010ffff")
        if hi <= lo:
            return {}
        seg = dfs[lo:hi]
        top = np.argpartition(seg, -limit)[-limit:] if hi - lo > limit else np.arange(hi - lo)
        return {terms[lo + int(i)]: int(seg[i]) for i in top}

    def field_postings(self, field: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        try:
            texts = [b.decode("utf-8") if isinstance(b, bytes) else b for b, _ti in self.reader.iter_field(field)]
        except (KeyError, TermNotFound):
            texts = []
        parts = [read_postings(self.reader, field, t)[0] for t in texts]
        docs = np.concatenate(parts) if parts else EMPTY_IDS
        return texts, docs, np.array([len(p) for p in parts], dtype=np.int64)

    def positions(self, field: str, term: str, local: np.ndarray) -> dict[int, set[int]]:
        """Read by skipping through the posting list instead of decoding it whole."""
        out: dict[int, set[int]] = {}
        fmt = self.reader.schema[field].format
        try:
            m = self.reader._terms.matcher(field, term.encode("utf-8"), fmt)
        except (KeyError, TermNotFound):
            return out
        for d in local.tolist():
            if not m.is_active():
                break
            m.skip_to(d)
            if m.is_active() and m.id() == d:
                out[d] = set(fmt.decode_positions(m.value()))
        return out

    def lengths(self, field: str) -> np.ndarray:
        return BYTE_TO_LENGTH[_raw_column(self.reader, f"_{field}_len", "u1", self.n)]

    def column(self, name: str) -> np.ndarray:
        return _raw_column(self.reader, name, COLUMNS[name], self.n)


class StoredFields:
    """A segment's stored fields by document number (Whoosh's column: each document's pickled dict,
    compressed), each read with one ``pread``: Whoosh's reader seeks and reads a buffered file
    behind three layers of readers, a tenth of a search's time before anything was cached. Not
    memory-mapped: a worker's RSS would grow by the pages around every hit it shows. A segment in
    a compound file is read through Whoosh."""

    def __init__(self, segreader):
        segment, storage = segreader._segment, segreader._storage
        name = W3Codec.column_filename(segment, "_stored")
        folder = getattr(storage, "folder", None)
        self._fd = None
        if folder is None or segment.is_compound() or not storage.file_exists(name):
            self._fallback = segreader.stored_fields
            return
        with storage.open_file(name) as f:
            column = VarBytesColumn().reader(f, 0, storage.file_length(name), segment.doc_count_all())
            self._offsets, self._lengths = column._offsets, column._lengths
        self._fd = os.open(os.path.join(folder, name), os.O_RDONLY)

    def __getitem__(self, docnum: int) -> dict:
        if self._fd is None:
            return self._fallback(docnum)
        n = self._lengths[docnum]
        if not n:
            return {}
        return pickle.loads(zlib.decompress(os.pread(self._fd, n, self._offsets[docnum])))  # noqa: S301 - our own index files

    def __del__(self):
        if self._fd is not None:
            os.close(self._fd)


def open_segment(segreader, cache: LRUCache):
    """The segment's sidecar when it has one, else a reader that decodes through Whoosh (a segment
    written by another codec). A segment whose terms are in its sidecar alone (``terms_in_sidecar``)
    with a sidecar that cannot be read raises ``ValueError``: the index is corrupt."""
    storage = segreader._storage
    # a small segment lives in a compound file, read through an overlay over the index's folder
    folder = getattr(storage, "folder", None) or getattr(getattr(storage, "b", None), "folder", None)
    problem = "no folder"
    if folder is not None:
        path = sidecar_path(folder, segreader._segment.segment_id())
        try:
            side = Sidecar(path)
            if side.n == segreader.doc_count_all():
                return side
            problem = f"{side.n} documents, the segment {segreader.doc_count_all()}"
        except (OSError, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
    if getattr(segreader._segment, "terms_in_sidecar", False):
        raise ValueError(f"the sidecar of segment {segreader._segment.segment_id()} cannot be read ({problem})")
    return WhooshSegment(segreader, cache)


def read_postings(segreader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """All (docnum, term frequency) of a term in one segment, as arrays (deleted docs included)."""
    terms = segreader._terms
    btext = term.encode("utf-8")
    try:
        ti = terms.term_info(field, btext)
    except (KeyError, TermNotFound):
        return EMPTY_IDS, EMPTY_TF
    if ti.is_inlined():
        ids, weights, _vals = ti.inlined_postings()
        return np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32)
    m = terms.matcher(field, btext, segreader.schema[field].format)
    if not isinstance(m, W3LeafMatcher):  # another codec: slow but correct
        ids, tfs = [], []
        while m.is_active():
            ids.append(m.id())
            tfs.append(m.weight())
            m.next()
        return np.asarray(ids, dtype=np.int32), np.asarray(tfs, dtype=np.float32)
    id_parts, tf_parts = [], []
    postfile = m._postfile
    while True:
        n = m._blocklength
        datalen = m._nextoffset - m._dataoffset
        raw = postfile.get(m._dataoffset, datalen)
        if m._compression:
            raw = zlib.decompress(raw)
        deltas, weights, _values = pickle.loads(raw)  # noqa: S301 - our own index files
        id_parts.append(np.cumsum(np.asarray(deltas, dtype=np.int64)))
        if weights is None:
            tf_parts.append(np.ones(n, dtype=np.float32))
        elif isinstance(weights, float):
            tf_parts.append(np.full(n, weights, dtype=np.float32))
        else:
            tf_parts.append(np.asarray(weights, dtype=np.float32))
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    return (np.concatenate(id_parts).astype(np.int32), np.concatenate(tf_parts))


def _raw_column(segreader, name: str, dtype: str, n: int, default=0) -> np.ndarray:
    filename = W3Codec.column_filename(segreader._segment, name)
    if not segreader._storage.file_exists(filename):
        return np.full(n, default, dtype=np.dtype(dtype).newbyteorder("="))
    colfile, offset, length = segreader._perdoc._get_column_file(name)
    raw = colfile.get(offset, length) if length else b""
    arr = np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), default, dtype=arr.dtype)])
    return arr[:n]
