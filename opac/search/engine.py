"""Vectorised query execution over the Whoosh index.

Whoosh stores the index (files, segments, lexicon, postings, columns) and does the writing;
evaluating a query term by term through its pure-Python matchers is what makes plain Whoosh
slow. Here each posting list is decoded once into numpy arrays (cached per immutable segment,
bounded by size), and scoring (BM25 over several weighted fields), boolean logic, filters,
facet counts and sorting run as array operations over all documents at once.

Everything cached is keyed by Whoosh segment id, so a commit only costs loading what changed;
a ``Snapshot`` is one index generation as seen by one worker.
"""

from __future__ import annotations

import bisect
import json
import math
import pickle
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from .analysis import STEM_MARK
from .schema import COLUMNS
from .vocabulary import FACET_FIELDS

_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)
_BYTE_TO_LENGTH = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)

K1 = 1.2
B = 0.75


def saturate(tf: np.ndarray) -> np.ndarray:
    """BM25's term frequency saturation ``tf * (k1 + 1) / (tf + k1)`` of (pseudo) frequencies.

    >>> saturate(np.array([0.0, 1.0, 100.0])).round(2).tolist()
    [0.0, 1.0, 2.17]
    """
    return tf * (K1 + 1.0) / (tf + K1)
#: Free-text fields whose lexicon (prefix expansion, spelling) keeps only words with a letter.
TEXT_LEXICON_FIELDS = frozenset({"all", "title", "author", "subject", "publisher", "series"})


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


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

    def put(self, key, value, size: int) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._data) > 1:
                _, (_, old_size) = self._data.popitem(last=False)
                self.bytes -= old_size


class PostingsCache(LRUCache):
    """Decoded posting lists keyed by (segment id, field, term), least recently used out."""

    def __init__(self, max_bytes: int):
        super().__init__(max_bytes)
        self.hits = self.misses = 0

    def get(self, key):
        v = super().get(key)
        if v is None:
            self.misses += 1
        else:
            self.hits += 1
        return v

    def put(self, key, value, size: int | None = None):
        super().put(key, value, value[0].nbytes + value[1].nbytes + 100 if size is None else size)


def read_postings(segreader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """All (docnum, term frequency) of a term in one segment, as arrays (deleted docs included)."""
    terms = segreader._terms
    btext = term.encode("utf-8")
    try:
        ti = terms.term_info(field, btext)
    except (KeyError, TermNotFound):
        return _EMPTY_IDS, _EMPTY_TF
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
    perdoc = segreader._perdoc
    filename = W3Codec.column_filename(segreader._segment, name)
    if not segreader._storage.file_exists(filename):
        return np.full(n, default, dtype=np.dtype(dtype).newbyteorder("="))
    colfile, offset, length = perdoc._get_column_file(name)
    try:
        raw = colfile.get(offset, length) if length else b""
    finally:
        pass
    arr = np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))
    if len(arr) < n:
        arr = np.concatenate([arr, np.full(n - len(arr), default, dtype=arr.dtype)])
    return arr[:n]


class Dictionary:
    """Process-wide string <-> id table for facet values (append only)."""

    def __init__(self):
        self.values: list[str] = []
        self.ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def id_of(self, value: str) -> int:
        i = self.ids.get(value)
        if i is None:
            with self._lock:
                i = self.ids.get(value)
                if i is None:
                    i = len(self.values)
                    self.values.append(value)
                    self.ids[value] = i
        return i


class SegmentData:
    """Arrays derived from one immutable segment: lengths, columns, facets, lexicon."""

    def __init__(self, segid: str, n: int):
        self.segid = segid
        self.n = n
        self.lengths: dict[str, np.ndarray] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.facets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.lexicons: dict[str, tuple[list[str], np.ndarray]] = {}
        self.field_totals: dict[str, int] = {}
        self.lock = threading.Lock()


@dataclass
class Leaf:
    reader: object
    data: SegmentData
    offset: int
    live: np.ndarray | None  # None: no deletions


class Engine:
    """Per-process engine state shared by all snapshots of one index directory."""

    def __init__(self, cache_mb: int = 96, word_cache_mb: int = 24):
        self.postings = PostingsCache(cache_mb * 1024 * 1024)
        self.word_cache_bytes = word_cache_mb * 1024 * 1024
        self.segments: dict[str, SegmentData] = {}
        self.dictionaries = {f: Dictionary() for f in FACET_FIELDS.values()}
        self.hits: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def segment_data(self, segreader) -> SegmentData:
        segid = segreader._segment.segment_id()
        with self._lock:
            data = self.segments.get(segid)
            if data is None:
                data = self.segments[segid] = SegmentData(segid, segreader.doc_count_all())
            return data

    def forget_unused(self, live_ids: set[str]) -> None:
        with self._lock:
            for segid in list(self.segments):
                if segid not in live_ids:
                    del self.segments[segid]

    def seg_postings(self, leaf: Leaf, field: str, term: str):
        key = (leaf.data.segid, field, term)
        v = self.postings.get(key)
        if v is None:
            v = read_postings(leaf.reader, field, term)
            self.postings.put(key, v)
        return v


class Snapshot:
    """One generation of the index as arrays over global document numbers."""

    def __init__(self, engine: Engine, searcher):
        self.engine = engine
        self.searcher = searcher
        reader = searcher.reader()
        self.generation = reader.generation()
        leaves = []
        for segreader, offset in reader.leaf_readers():
            if not hasattr(segreader, "_segment"):
                continue  # EmptyReader of an empty index
            data = engine.segment_data(segreader)
            live = None
            if segreader.has_deletions():
                live = np.ones(data.n, dtype=bool)
                dels = np.fromiter(segreader._segment.deleted_docs(), dtype=np.int64)
                live[dels[dels < data.n]] = False
            leaves.append(Leaf(segreader, data, offset, live))
        self.leaves = leaves
        self.N = reader.doc_count_all()
        self.doc_count = reader.doc_count()
        self._cache: dict = {}
        self._lock = threading.RLock()  # builders may use other cached arrays
        #: Per-word results of this generation (see Executor.word); dropped with the snapshot.
        self.results = LRUCache(engine.word_cache_bytes)

    # -- arrays over all documents ------------------------------------------------------

    def _cached(self, key, build):
        v = self._cache.get(key)
        if v is None:
            with self._lock:
                v = self._cache.get(key)
                if v is None:
                    v = self._cache[key] = build()
        return v

    @property
    def live(self) -> np.ndarray:
        def build():
            parts = [leaf.live if leaf.live is not None else np.ones(leaf.data.n, dtype=bool) for leaf in self.leaves]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

        return self._cached("live", build)

    def lengths(self, field: str) -> np.ndarray:
        def build():
            parts = []
            for leaf in self.leaves:
                d = leaf.data
                arr = d.lengths.get(field)
                if arr is None:
                    raw = _raw_column(leaf.reader, f"_{field}_len", "u1", d.n)
                    arr = d.lengths[field] = _BYTE_TO_LENGTH[raw]
                parts.append(arr)
            return np.concatenate(parts) if parts else _EMPTY_TF

        return self._cached(("len", field), build)

    def avg_length(self, field: str) -> float:
        """Mean length of ``field`` over the live documents (deleted ones do not count)."""

        def build():
            lengths = self.lengths(field)
            live = lengths[self.live] if self.has_deletions else lengths
            return max(float(live.mean()) if len(live) else 1.0, 1.0)

        return self._cached(("avgdl", field), build)

    @property
    def has_deletions(self) -> bool:
        return any(leaf.live is not None for leaf in self.leaves)

    def column(self, name: str) -> np.ndarray:
        def build():
            parts = []
            for leaf in self.leaves:
                d = leaf.data
                arr = d.columns.get(name)
                if arr is None:
                    arr = d.columns[name] = _raw_column(leaf.reader, name, COLUMNS[name], d.n)
                parts.append(arr)
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.dtype(COLUMNS[name]).newbyteorder("="))

        return self._cached(("col", name), build)

    def docs_with_key(self, column: str, key: int) -> np.ndarray:
        """Documents whose 64-bit key column equals ``key`` (binary search in a sorted copy)."""
        order, keys = self._cached(("sorted", column), lambda: self._sorted(column))
        lo, hi = np.searchsorted(keys, key, side="left"), np.searchsorted(keys, key, side="right")
        return order[lo:hi]

    def _sorted(self, column: str):
        col = self.column(column)
        order = np.argsort(col, kind="stable").astype(np.int32)
        return order, col[order]

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        parts_i, parts_t = [], []
        for leaf in self.leaves:
            ids, tf = self.engine.seg_postings(leaf, field, term)
            if len(ids):
                parts_i.append(ids + leaf.offset if leaf.offset else ids)
                parts_t.append(tf)
        if not parts_i:
            return _EMPTY_IDS, _EMPTY_TF
        if len(parts_i) == 1:
            return parts_i[0], parts_t[0]
        return np.concatenate(parts_i), np.concatenate(parts_t)

    def positions_in(self, field: str, term: str, docs: np.ndarray) -> dict[int, set[int]]:
        """Word positions of ``term`` in a few documents (sorted global docnums), read by skipping
        through the posting list instead of decoding it whole."""
        out: dict[int, set[int]] = {}
        btext = term.encode("utf-8")
        for leaf in self.leaves:
            lo, hi = leaf.offset, leaf.offset + leaf.data.n
            local = docs[(docs >= lo) & (docs < hi)] - lo
            if not len(local):
                continue
            fmt = leaf.reader.schema[field].format
            try:
                m = leaf.reader._terms.matcher(field, btext, fmt)
            except (KeyError, TermNotFound):
                continue
            for d in local.tolist():
                if not m.is_active():
                    break
                m.skip_to(d)
                if m.is_active() and m.id() == d:
                    out[d + lo] = set(fmt.decode_positions(m.value()))
        return out

    def phrase_docs(self, field: str, phrase_words: list[str], candidates: np.ndarray,
                    verify_limit: int = 3000) -> np.ndarray:
        """Documents among ``candidates`` (bool mask) with the words next to each other: every
        consecutive pair must be an indexed word pair (one lookup each; pairs never span two
        fields or lines). In the title, which keeps positions, the words' positions are checked
        too when the candidates are few."""
        from .analysis import shingles

        found = candidates.copy()
        for pair in shingles(phrase_words):
            ids, _ = self.postings("shingles", pair)
            m = np.zeros(self.N, dtype=bool)
            m[ids] = True
            found &= m
            if not found.any():
                return found
        if field == "all":
            return found
        docs = np.flatnonzero(found)
        if len(docs) > verify_limit:
            return found  # pairs all present: a precise enough answer at this size
        per_word = [self.positions_in(field, w, docs) for w in phrase_words]
        exact = np.zeros(self.N, dtype=bool)
        for d, starts in per_word[0].items():
            rest = per_word[1:]
            if all(d in r for r in rest) and any(all((s + i + 1) in r[d] for i, r in enumerate(rest)) for s in starts):
                exact[d] = True
        return exact

    def term_dfs(self, field: str) -> list[dict[str, int]]:
        """Per segment, real word -> document frequency (spelling candidates are checked here)."""
        out = []
        for leaf in self.leaves:
            d = leaf.data
            table = d.lexicons.get(("dict", field))
            if table is None:
                terms, dfs = self._segment_lexicon(leaf, field)
                table = d.lexicons[("dict", field)] = dict(zip(terms, dfs.tolist(), strict=True))
            out.append(table)
        return out

    def doc_frequency(self, field: str, term: str) -> int:
        total = 0
        btext = term.encode("utf-8")
        for leaf in self.leaves:
            try:
                total += leaf.reader._terms.doc_frequency(field, btext)
            except (KeyError, TermNotFound):
                pass
        return total

    def has_term(self, field: str, term: str) -> bool:
        btext = term.encode("utf-8")
        for leaf in self.leaves:
            try:
                if (field, btext) in leaf.reader._terms:
                    return True
            except KeyError:
                continue
        return False

    # -- scoring -----------------------------------------------------------------------

    def live_count(self, ids: np.ndarray) -> int:
        """How many of ``ids`` (a posting list) are live documents: a document frequency."""
        return int(self.live[ids].sum()) if self.has_deletions else len(ids)

    def idf(self, df: int) -> float:
        """BM25 inverse document frequency over the live documents."""
        n = self.doc_count
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def length_norm(self, field: str, ids: np.ndarray) -> np.ndarray:
        """BM25 length normalisation ``1 - b + b * dl / avgdl`` of ``field`` for ``ids``."""
        return 1.0 - B + B * self.lengths(field)[ids] / self.avg_length(field)

    # -- lexicon -----------------------------------------------------------------------

    def _segment_lexicon(self, leaf: Leaf, field: str):
        d = leaf.data
        lex = d.lexicons.get(field)
        if lex is None:
            with d.lock:
                lex = d.lexicons.get(field)
                if lex is None:
                    terms, dfs = [], []
                    try:
                        words_only = field in TEXT_LEXICON_FIELDS
                        for btext, ti in leaf.reader.iter_field(field):
                            text = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                            if words_only and (not _has_letter(text) or len(text) > 30):
                                continue  # ISBNs, barcodes, numbers: never spelled or expanded
                            if not text.startswith(STEM_MARK):
                                terms.append(text)
                                dfs.append(ti.doc_frequency())
                    except (KeyError, TermNotFound):
                        pass
                    lex = d.lexicons[field] = (terms, np.asarray(dfs, dtype=np.int32))
        return lex

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        """The ``limit`` most frequent real words of ``field`` starting with ``prefix``."""
        counts: dict[str, int] = {}
        for leaf in self.leaves:
            terms, dfs = self._segment_lexicon(leaf, field)
            lo = bisect.bisect_left(terms, prefix)
            hi = bisect.bisect_left(terms, prefix + "\U0010ffff")
            if hi <= lo:
                continue
            seg = dfs[lo:hi]
            if hi - lo > limit:
                top = np.argpartition(seg, -limit)[-limit:]
            else:
                top = np.arange(hi - lo)
            for i in top:
                t = terms[lo + int(i)]
                counts[t] = counts.get(t, 0) + int(seg[i])
        best = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0])))[:limit]
        return [t for t, _ in best]

    # -- facets ------------------------------------------------------------------------

    def _segment_facet(self, leaf: Leaf, field: str):
        d = leaf.data
        fac = d.facets.get(field)
        if fac is None:
            with d.lock:
                fac = d.facets.get(field)
                if fac is None:
                    dictionary = self.engine.dictionaries[field]
                    docs, vals = [], []
                    try:
                        field_terms = list(leaf.reader.iter_field(field))
                    except (KeyError, TermNotFound):
                        field_terms = []
                    for btext, _ti in field_terms:
                        text = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                        ids, _ = read_postings(leaf.reader, field, text)
                        docs.append(ids)
                        vals.append(np.full(len(ids), dictionary.id_of(text), dtype=np.int32))
                    if docs:
                        doc = np.concatenate(docs)
                        val = np.concatenate(vals)
                        order = np.argsort(doc, kind="stable")
                        doc, val = doc[order], val[order]
                    else:
                        doc, val = _EMPTY_IDS, _EMPTY_IDS
                    offsets = np.searchsorted(doc, np.arange(d.n + 1)).astype(np.int64)
                    fac = d.facets[field] = (offsets, val)
        return fac

    def facet_arrays(self, field: str):
        """(offsets per global doc, value ids) for a facet field, CSR by document."""

        def build():
            offs, vals, base = [], [], 0
            for leaf in self.leaves:
                o, v = self._segment_facet(leaf, field)
                offs.append(o[:-1] + base)
                vals.append(v)
                base += len(v)
            offs.append(np.array([base], dtype=np.int64))
            return np.concatenate(offs), (np.concatenate(vals) if vals else _EMPTY_IDS)

        return self._cached(("facet", field), build)

    def _facet_split(self, field: str):
        """The facet field as a first value per document (-1: none) plus the further values with
        their documents, and the counts over all live documents: counting the values of ``m``
        documents is then a gather of ``m`` and a pass over the (few) further values."""

        def build():
            offsets, vals = self.facet_arrays(field)
            per_doc = np.diff(offsets)
            n_values = int(vals.max()) + 1 if len(vals) else 0
            first = np.full(len(per_doc), -1, dtype=np.int32)
            has = per_doc > 0
            first_at = offsets[:-1][has]
            first[has] = vals[first_at]
            owner = np.repeat(np.arange(len(per_doc), dtype=np.int32), per_doc)
            further = np.ones(len(vals), dtype=bool)
            further[first_at] = False
            totals = np.bincount(vals[self.live[owner]], minlength=n_values) if len(vals) else np.zeros(0, np.int64)
            more_owner = owner[further]
            more_offsets = np.searchsorted(more_owner, np.arange(len(per_doc) + 1, dtype=np.int32))
            return first, more_owner, more_offsets, vals[further], totals

        return self._cached(("facet-split", field), build)

    def _count_values(self, field: str, docs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        first, more_owner, more_offsets, more_vals, totals = self._facet_split(field)
        sel = first[docs]
        counts = np.bincount(sel[sel >= 0], minlength=len(totals))
        if not len(more_vals):
            return counts
        if len(docs) * 4 < len(more_vals):
            # few documents: read their further values through the offsets
            starts = more_offsets[docs]
            lens = more_offsets[docs + 1] - starts
            n = int(lens.sum())
            if n:
                idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(n)
                counts += np.bincount(more_vals[idx], minlength=len(totals))
        else:
            counts += np.bincount(more_vals[mask[more_owner]], minlength=len(totals))
        return counts

    def count_facet(self, field: str, mask: np.ndarray, matched: int, limit: int,
                    docs: np.ndarray | None = None) -> list[tuple[str, int]]:
        """Top ``limit`` values of a facet among the documents of ``mask`` (``docs``: the same as
        indices, when the caller has them)."""
        if not matched:
            return []
        totals = self._facet_split(field)[4]
        if not len(totals):
            return []
        if matched * 2 > self.doc_count:
            # most documents match: count the few that do not and subtract from the totals
            excluded = self.live & ~mask
            counts = totals - self._count_values(field, np.flatnonzero(excluded), excluded)
        else:
            counts = self._count_values(field, np.flatnonzero(mask) if docs is None else docs, mask)
        return self._top_values(field, counts, limit)

    def _top_values(self, field: str, counts: np.ndarray, limit: int) -> list[tuple[str, int]]:
        uniq = np.flatnonzero(counts)
        counts = counts[uniq]
        if len(uniq) > limit:
            top = np.argpartition(counts, -limit)[-limit:]
            uniq, counts = uniq[top], counts[top]
        dictionary = self.engine.dictionaries[field]
        out = [(dictionary.values[int(u)], int(c)) for u, c in zip(uniq, counts, strict=True)]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out

    def stored(self, docnum: int) -> dict:
        return self.searcher.stored_fields(int(docnum))

    def hit(self, docnum: int) -> dict:
        """The stored hit summary of a document, parsed once per segment document (immutable)."""
        docnum = int(docnum)
        for leaf in self.leaves:
            if leaf.offset <= docnum < leaf.offset + leaf.data.n:
                key = (leaf.data.segid, docnum - leaf.offset)
                break
        else:
            key = None
        cache = self.engine.hits
        if key is not None:
            got = cache.get(key)
            if got is not None:
                return got
        data = json.loads(self.stored(docnum)["hit"])
        if key is not None:
            with self.engine._lock:
                cache[key] = data
                if len(cache) > 20_000:
                    cache.popitem(last=False)
        return data
