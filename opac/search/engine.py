"""Vectorised query execution over the Whoosh index: one index generation as arrays.

Whoosh stores the index (files, segments, stored fields) and does the writing; evaluating a
query term by term through its pure-Python matchers is what makes plain Whoosh slow. Here each
segment's posting lists, field lengths and columns are read as arrays (``segments``: memory-mapped
sidecar files, shared by every worker through the page cache), and scoring (``scoring``: BM25F),
phrases (``phrases``), boolean logic, filters and facet counts (``facets``) run as array
operations. Queries work on sorted lists of the documents they match (``executor``), so their cost
follows the posting lists; per-document values are read from each segment's own arrays at the
documents needed (a global document number is a segment's offset plus its local number), never
copied into arrays over all documents per snapshot.

What is derived from one immutable segment is cached per segment id, so a commit only costs what
changed; a ``Snapshot`` is one index generation as seen by one worker after one commit, and
``WordResults`` keeps per-word results across the commits of a generation that leave them valid.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
import orjson

from .facets import Dictionary, Facets, year_mask
from .phrases import Phrases
from .schema import COLUMNS
from .scoring import Scoring
from .segments import EMPTY_IDS, EMPTY_TF, LRUCache, StoredFields, TermKeys, open_segment, term_keys, unique_sorted
from .vocabulary import FACET_FIELDS

#: Masks of terms held by at least 1/MASK_KEPT_SHARE of the documents are kept per snapshot, at
#: most MASKS_KEPT of them (each one byte per document).
MASK_KEPT_SHARE, MASKS_KEPT = 8, 8
#: Parsed hit summaries kept per process, measured by their JSON text (about 20,000 summaries),
#: shared out between the segments by their documents.
HITS_KEPT_BYTES = 10 * 1024 * 1024
#: A segment of at most this many documents (the desk's commits) finds a key (``docs_with_key``) in a
#: dict made once (about 140 bytes a document and key column in each worker) rather than by two
#: sorted searches: a search asks every segment.
KEYS_BY_DICT = 1024
#: Bytes of spelling corrections a snapshot keeps (a few dozen bytes each).
CORRECTIONS_KEPT_BYTES = 1024 * 1024
#: Words looked up together whose keys ``Snapshot.word_dfs`` keeps (``segments.term_keys``).
WORD_KEYS_KEPT = 16
#: Bytes of plain words' parts a segment keeps at least, however small (a commit's new segment).
WORD_PARTS_MIN = 256 * 1024


@dataclass
class Leaf:
    store: object  # segments.Sidecar or segments.WhooshSegment
    segid: str
    offset: int
    live: np.ndarray | None  # None: no deletions
    deleted: int = 0  # how many (a segment only gains deletions: the count tells its state)
    reader: object = None  # Whoosh's reader of the segment


class WordResults:
    """Per-word results (``executor.WordResult``) kept across the commits of one index generation.

    While the desk works the follower commits every second or two, each commit a record or a few
    indexed again (in a new segment, their old versions deleted), now and then with the small
    segments merged: most words' results stay as they were. Each entry remembers the step (the
    snapshot) it was last known valid at; ``get`` from a later step also returns what changed since
    (the new or moved segments, the deleted documents: ``_change``), against which the caller checks
    it (``Executor._still_valid``). A new generation (a reindex) starts afresh."""

    #: Commits remembered: an entry not looked at for longer is computed afresh.
    STEPS_KEPT = 512

    def __init__(self, max_bytes: int):
        self.step = 0
        self._entries = LRUCache(max_bytes)  # key -> (step, value)
        self._first = 0  # the oldest step an entry may be from
        self._changes: list[tuple[frozenset, np.ndarray]] = []  # i: from step _first + i to the next
        self._lock = threading.Lock()

    def advance(self, previous: Snapshot | None, snapshot: Snapshot) -> int:
        """The step of ``snapshot``, the commit after ``previous`` (None: a generation opened)."""
        change = _change(previous, snapshot) if previous is not None else None
        with self._lock:
            self.step += 1
            if change is None:
                self._first, self._changes = self.step, []
            else:
                self._changes.append(change)
                if len(self._changes) > self.STEPS_KEPT:
                    del self._changes[0]
                    self._first += 1
            return self.step

    def get(self, key, step: int):
        """(value, None) when valid at ``step``; (value, (new segment ids, deleted documents)) when
        from an earlier step; None when unknown, from an earlier generation or from a later step."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        at, value = entry
        with self._lock:
            if at == step:
                return value, None
            if not self._first <= at < step:
                return None
            changes = self._changes[at - self._first:step - self._first]
        segids = frozenset().union(*(c[0] for c in changes))
        deleted = [c[1] for c in changes if len(c[1])]
        return value, (segids, np.sort(np.concatenate(deleted)) if deleted else EMPTY_IDS)

    def put(self, key, value, step: int, size: int) -> None:
        """Keep ``value`` as valid at ``step`` (an entry known valid at a later step stays)."""
        with self._lock:  # the check and the replacement together
            old = self._entries.get(key)
            if old is None or old[0] < step:
                self._entries.put(key, (step, value), size, replace=True)


def _change(previous: Snapshot, snapshot: Snapshot) -> tuple[frozenset, np.ndarray]:
    """What a commit changed between two snapshots: (the ids of the segments new to ``snapshot``
    or moved in it, the global numbers of the documents deleted, or in a segment that left or
    moved, as ``previous`` numbered them). A segment that kept its place keeps its numbers; the
    follower's merges keep the segments' order (``sync.merge_small_in_place``), so a merge of the
    small segments moves none of the large ones."""
    mine = {leaf.segid: leaf for leaf in snapshot.leaves}
    deleted = []
    for old in previous.leaves:
        leaf = mine.get(old.segid)
        if leaf is None or leaf.offset != old.offset:
            deleted.append(np.arange(old.offset, old.offset + old.store.n, dtype=np.int32))
            continue
        del mine[old.segid]
        if leaf.deleted != old.deleted:
            was = old.live if old.live is not None else True
            deleted.append(np.flatnonzero(was & ~leaf.live).astype(np.int32) + leaf.offset)
    return frozenset(mine), np.concatenate(deleted) if deleted else EMPTY_IDS


class Engine:
    """Per-process engine state shared by all snapshots of one index directory: the segments'
    stores and what is derived from each (kept while the segment is in the index)."""

    def __init__(self, cache_mb: int = 96, word_cache_mb: int = 24):
        #: Posting lists decoded from segments without a sidecar.
        self.postings = LRUCache(cache_mb * 1024 * 1024)
        self.word_cache_bytes = word_cache_mb * 1024 * 1024
        self.stores: dict[str, object] = {}
        self.derived: dict[str, dict] = {}
        self.dictionaries = {f: Dictionary() for f in FACET_FIELDS.values()}
        self._lock = threading.Lock()

    def store(self, segreader):
        segid = segreader._segment.segment_id()
        with self._lock:
            store = self.stores.get(segid)
            if store is None:
                store = self.stores[segid] = open_segment(segreader, self.postings)
                self.derived[segid] = {}
            return store

    def segment_cached(self, leaf: Leaf, key, build):
        """A value derived from one segment (not from its deletions), built once per process."""
        cache = self.derived.get(leaf.segid)
        if cache is None:
            return build()
        v = cache.get(key)
        if v is None:
            with self._lock:
                v = cache.get(key)
            if v is None:
                v = build()
                with self._lock:
                    cache[key] = v
        return v

    def segment_versioned(self, leaf: Leaf, key, version, build):
        """A value derived from one segment and a ``version`` of it (its deletions): the latest
        version's value is kept, built once per process."""
        cache = self.derived.get(leaf.segid)
        if cache is None:
            return build()
        got = cache.get(key)
        if got is None or got[0] != version:
            got = (version, build())
            with self._lock:
                cache[key] = got
        return got[1]

    def forget_unused(self, live_ids: set[str]) -> None:
        with self._lock:
            for segid in list(self.stores):
                if segid not in live_ids:
                    del self.stores[segid]
                    self.derived.pop(segid, None)


def _by_key(col: np.ndarray) -> dict[int, tuple[int, ...]]:
    """A small segment's key column as a dict: key -> its documents (local numbers, in order).

    >>> _by_key(np.array([7, 3, 7], dtype=np.int64))
    {7: (0, 2), 3: (1,)}
    """
    out: dict[int, tuple[int, ...]] = {}
    for doc, key in enumerate(col.tolist()):
        out[key] = out.get(key, ()) + (doc,)
    return out


def _sorted(col: np.ndarray) -> np.ndarray:
    """The order of a column's documents by value (ties by document), as numpy's index type: a
    search through a sorter of another type first copies the whole sorter (10 µs at 38,000
    documents, not 2)."""
    return np.argsort(col, kind="stable").astype(np.intp)


class Snapshot(Scoring, Phrases, Facets):
    """One generation of the index as arrays over global document numbers."""

    def __init__(self, engine: Engine, searcher, words: WordResults | None = None,
                 previous: Snapshot | None = None):
        self.engine = engine
        self.searcher = searcher
        reader = searcher.reader()
        self.generation = reader.generation()
        leaves = []
        for segreader, offset in reader.leaf_readers():
            if not hasattr(segreader, "_segment"):
                continue  # EmptyReader of an empty index
            store = engine.store(segreader)
            live, deleted = None, 0
            if segreader.has_deletions():
                live = np.ones(store.n, dtype=bool)
                dels = np.fromiter(segreader._segment.deleted_docs(), dtype=np.int64)
                live[dels[dels < store.n]] = False
                deleted = len(dels)
            leaves.append(Leaf(store, segreader._segment.segment_id(), offset, live, deleted, segreader))
        self.leaves = leaves
        self._offsets = [leaf.offset for leaf in leaves]  # where each segment's documents begin
        self._starts = np.array(self._offsets, dtype=np.int64)  # the same as an array
        self.N = reader.doc_count_all()
        #: Where each segment's documents begin, and the end of the last.
        self._bounds = np.append(self._starts, self.N)
        self.doc_count = reader.doc_count()
        self._cache: dict = {}
        self._lock = threading.RLock()  # builders may use other cached arrays
        self.masks = LRUCache(MASKS_KEPT * max(self.N, 1))  # see term_mask
        #: Spelling corrections of this generation (``spelling.corrections_for``).
        self.corrections = LRUCache(CORRECTIONS_KEPT_BYTES)
        #: Per-word results, kept across the commits of a generation (``WordResults``).
        self.words = words if words is not None else WordResults(engine.word_cache_bytes)
        self.word_step = self.words.advance(previous, self)

    # -- per-document values ----------------------------------------------------------------
    #
    # Kept per segment (its memory-mapped arrays) and read at the documents a query needs, by
    # their offsets: nothing is copied per snapshot, so memory does not grow with the catalogue.

    def cached(self, key, build):
        """A value derived from this generation (its arrays, statistics, or a caller's), built once."""
        v = self._cache.get(key)
        if v is None:
            with self._lock:
                v = self._cache.get(key)
                if v is None:
                    v = self._cache[key] = build()
        return v

    @property
    def has_deletions(self) -> bool:
        return any(leaf.live is not None for leaf in self.leaves)

    def leaf_lengths(self, leaf: Leaf, field: str) -> np.ndarray:
        """The lengths of ``field`` in one segment's documents (local numbers)."""
        return self.engine.segment_cached(leaf, ("len", field), lambda: leaf.store.lengths(field))

    # Per-segment values as a list per snapshot: a search asks for them many times, and each
    # segment's look-up (``segment_cached``) cost every search a few microseconds per segment.

    def _leaf_lengths(self, field: str) -> list[np.ndarray]:
        return self.cached(("leaf len", field), lambda: [self.leaf_lengths(leaf, field) for leaf in self.leaves])

    def word_parts(self, leaf: Leaf) -> LRUCache:
        """The parts of plain words one segment holds (``executor.SegmentWord``), kept with the
        segment across commits: its share of the word cache's bytes, at least WORD_PARTS_MIN."""
        share = max(self.engine.word_cache_bytes * leaf.store.n // max(self.N, 1), WORD_PARTS_MIN)
        return self.engine.segment_cached(leaf, "words", lambda: LRUCache(share))

    def _leaf_columns(self, name: str) -> list[np.ndarray]:
        return self.cached(("leaf col", name), lambda: [
            self.engine.segment_cached(leaf, ("col", name), lambda s=leaf.store: s.column(name)) for leaf in self.leaves])

    def may_hold(self, keys: TermKeys) -> list[bool]:
        """Whether each segment may hold any of ``keys``: a small segment (the desk's commits) says
        no at once when its terms hold none of them, and is then passed over without a look-up."""
        sets, every = self.cached("term sets", self._term_sets)
        if every is not None:
            return every
        hashes = keys.hash_list
        return [ts is None or not ts.isdisjoint(hashes) for ts in sets]

    def _term_sets(self) -> tuple[list, list[bool] | None]:
        """Each segment's ``term_set``, and the answer for every look-up when no segment is small."""
        sets = [leaf.store.term_set for leaf in self.leaves]
        return sets, [True] * len(sets) if all(ts is None for ts in sets) else None

    def leaf_word_parts(self) -> list[LRUCache]:
        """``word_parts`` of each segment, in order."""
        return self.cached("leaf words", lambda: [self.word_parts(leaf) for leaf in self.leaves])

    def _gather(self, parts: list[np.ndarray], ids: np.ndarray, dtype) -> np.ndarray:
        """The values of ``ids`` (global document numbers, any order) in per-segment arrays."""
        ids = np.asarray(ids)
        out = np.empty(len(ids), dtype=dtype)
        if not len(ids):
            return out
        if len(parts) == 1:
            return parts[0][ids]
        starts = self._starts
        if len(ids) < 2 or bool((ids[1:] >= ids[:-1]).all()):  # sorted: one slice per segment
            cut = np.searchsorted(ids, starts).tolist() + [len(ids)]
            for i, part in enumerate(parts):
                a, b = cut[i], cut[i + 1]
                if b > a:
                    out[a:b] = part[ids[a:b] - starts[i]]
            return out
        which = np.searchsorted(starts, ids, side="right") - 1
        for i in unique_sorted(which).tolist():
            sel = which == i
            out[sel] = parts[i][ids[sel] - starts[i]]
        return out

    def lengths_at(self, field: str, ids: np.ndarray) -> np.ndarray:
        """Length of ``field`` in each of the documents ``ids``."""
        return self._gather(self._leaf_lengths(field), ids, np.float32)

    def column_at(self, name: str, ids: np.ndarray) -> np.ndarray:
        """The column ``name`` of each of the documents ``ids``."""
        return self._gather(self._leaf_columns(name), ids, np.dtype(COLUMNS[name]).newbyteorder("="))

    def live_of(self, ids: np.ndarray) -> np.ndarray:
        """Whether each of ``ids`` (sorted global document numbers) is live (not deleted)."""
        out = np.ones(len(ids), dtype=bool)
        if not self.has_deletions or not len(ids):
            return out
        cut = np.searchsorted(ids, self._starts).tolist() + [len(ids)]
        for i, leaf in enumerate(self.leaves):
            a, b = cut[i], cut[i + 1]
            if leaf.live is not None and b > a:
                out[a:b] = leaf.live[ids[a:b] - leaf.offset]
        return out

    def live_ids(self, ids: np.ndarray) -> np.ndarray:
        """The live documents among ``ids`` (sorted global document numbers)."""
        return ids[self.live_of(ids)] if self.has_deletions else ids

    def all_live_ids(self) -> np.ndarray:
        """Every live document, in order."""
        parts = [np.flatnonzero(leaf.live if leaf.live is not None else np.ones(leaf.store.n, dtype=bool))
                 .astype(np.int32) + leaf.offset for leaf in self.leaves]
        return np.concatenate(parts) if parts else EMPTY_IDS

    def year_ids(self, lo: int | None, hi: int | None) -> np.ndarray:
        """Documents with a known year within ``lo``..``hi`` (see ``facets.year_mask``), in order."""
        parts = [np.flatnonzero(year_mask(col, lo, hi)).astype(np.int32) + leaf.offset
                 for col, leaf in zip(self._leaf_columns("year"), self.leaves, strict=True)]
        return np.concatenate(parts) if parts else EMPTY_IDS

    # -- arrays over all documents, for callers that work with masks (built once per snapshot) ----

    def _per_document(self, parts: list[np.ndarray], dtype) -> np.ndarray:
        if len(parts) == 1:
            return parts[0]  # the segment's own (memory-mapped) array
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    @property
    def live(self) -> np.ndarray:
        def build():
            parts = [leaf.live if leaf.live is not None else np.ones(leaf.store.n, dtype=bool) for leaf in self.leaves]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

        return self.cached("live", build)

    def lengths(self, field: str) -> np.ndarray:
        return self.cached(("len", field), lambda: self._per_document(self._leaf_lengths(field), np.float32))

    def column(self, name: str) -> np.ndarray:
        return self.cached(("col", name), lambda: self._per_document(
            self._leaf_columns(name), np.dtype(COLUMNS[name]).newbyteorder("=")))

    def docs_with_key(self, column: str, key: int) -> np.ndarray:
        """Documents whose 64-bit key column equals ``key``, in order: a binary search in each
        segment's column through its order by value (made once per segment)."""
        found = []
        for leaf, col in zip(self.leaves, self._leaf_columns(column), strict=True):
            if leaf.store.n <= KEYS_BY_DICT:
                by_key = self.engine.segment_cached(leaf, ("by key", column), lambda c=col: _by_key(c))
                got = by_key.get(key)
                if got is not None:
                    found.append(np.array(got, dtype=np.int32) + leaf.offset)
                continue
            order = self.engine.segment_cached(leaf, ("sorted", column), lambda c=col: _sorted(c))
            lo = np.searchsorted(col, key, side="left", sorter=order)
            hi = np.searchsorted(col, key, side="right", sorter=order)
            if hi > lo:
                found.append(order[lo:hi] + leaf.offset)
        return np.concatenate(found) if found else EMPTY_IDS

    # -- terms -------------------------------------------------------------------------

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(global document numbers, frequencies) of a term, deleted documents included."""
        return self.postings_many([(field, term)]).get((field, term), (EMPTY_IDS, EMPTY_TF))

    def postings_many(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """The postings of many (field, term) pairs, as ``postings`` gives them, of those some
        segment holds: each segment's dictionary is searched once for all of them."""
        keys = term_keys(tuple(pairs))
        if len(self.leaves) == 1:  # one segment (a rebuilt index before the desk's first change): numbers as they are
            return {pairs[i]: got for i, got in self.leaves[0].store.found(keys)}
        parts: dict[int, tuple[list, list]] = {}
        for leaf, may in zip(self.leaves, self.may_hold(keys), strict=True):
            if not may:
                continue
            for i, (ids, tf) in leaf.store.found(keys):
                p = parts.setdefault(i, ([], []))
                p[0].append(ids + leaf.offset if leaf.offset else ids)
                p[1].append(tf)
        return {pairs[i]: (ids[0], tf[0]) if len(ids) == 1 else (np.concatenate(ids), np.concatenate(tf))
                for i, (ids, tf) in parts.items()}

    def term_mask(self, field: str, term: str) -> np.ndarray:
        """The documents holding a term, as a mask over all documents (read-only). Masks of terms
        that many documents hold (a library, "available", a common type or language: filters and
        facets ask for them with every search) are kept, a few per snapshot."""
        key = (field, term)
        m = self.masks.get(key)
        if m is not None:
            return m
        m = np.zeros(self.N, dtype=bool)
        ids, _ = self.postings(field, term)
        m[ids] = True
        held = len(ids)
        m.flags.writeable = False
        if held * MASK_KEPT_SHARE >= self.N:
            self.masks.put(key, m, m.nbytes)
        return m

    def count_holding(self, field: str, term: str, ids: np.ndarray, mask: np.ndarray) -> int:
        """How many of the documents ``ids`` (``mask``: the same as a mask) hold a term: through the
        term's kept mask when many documents hold it (``term_mask``), else through its postings (a
        mask of a rare term would be built afresh for every call)."""
        if not len(ids):
            return 0
        if self.doc_frequency(field, term) * MASK_KEPT_SHARE >= self.N:
            return int(np.count_nonzero(self.term_mask(field, term)[ids]))
        held = self.cached(("held", field, term), lambda: self.postings(field, term)[0])
        return int(np.count_nonzero(mask[held])) if len(held) else 0

    def doc_frequency(self, field: str, term: str) -> int:
        """Documents holding a term, deleted ones included (the facet and filter terms that
        ``count_holding`` asks about with every search: kept per segment)."""
        return self.cached(("df", field, term), lambda: sum(
            self.engine.segment_cached(leaf, ("df", field, term), lambda leaf=leaf: leaf.store.doc_frequency(field, term))
            for leaf in self.leaves))

    def has_term(self, field: str, term: str) -> bool:
        keys = term_keys(((field, term),))  # hashed once for every segment
        return any(may and next(leaf.store.found(keys), None) is not None
                   for leaf, may in zip(self.leaves, self.may_hold(keys), strict=True))

    def word_dfs(self, field: str, words: list[str]) -> np.ndarray:
        """Document frequency of each of ``words`` as a real word of ``field`` (no stems; in free
        text no numbers): spelling candidates are checked here."""
        total = np.zeros(len(words), dtype=np.int64)
        pairs = [(field, w) for w in words]
        # hashed once for every segment; a query's few words kept for the next search, not the
        # hundreds of a spelling correction's candidates (met once)
        keys = term_keys(tuple(pairs)) if len(pairs) <= WORD_KEYS_KEPT else TermKeys(pairs)
        for leaf, may in zip(self.leaves, self.may_hold(keys), strict=True):
            if may:
                leaf.store.add_word_dfs(keys, total)
        return total

    def expand_prefix(self, field: str, prefix: str, limit: int) -> list[str]:
        """The ``limit`` most frequent real words of ``field`` starting with ``prefix``."""
        counts: dict[str, int] = {}
        for leaf in self.leaves:
            for t, df in leaf.store.prefix_terms(field, prefix, limit).items():
                counts[t] = counts.get(t, 0) + df
        best = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0])))[:limit]
        return [t for t, _ in best]

    # -- stored documents ----------------------------------------------------------------

    def hit(self, docnum: int) -> dict:
        """The stored hit summary of a document, parsed once per segment document (immutable) and
        kept with its segment's derived values (dropped when the segment leaves the index)."""
        docnum = int(docnum)
        i = bisect_right(self._offsets, docnum) - 1
        local = docnum - self._offsets[i]
        cache = self._hit_caches()[i]
        data = cache.get(local)
        if data is None:
            leaf = self.leaves[i]
            stored = self.engine.segment_cached(leaf, "stored", lambda: StoredFields(leaf.reader))
            text = stored[local]["hit"]
            data = orjson.loads(text)  # a third of json's time
            cache.put(local, data, len(text))
        return data

    def _hit_caches(self) -> list[LRUCache]:
        """Each segment's parsed hit summaries (its share of HITS_KEPT_BYTES by its documents),
        looked up once per snapshot: a page asks for twenty."""

        def build():
            n = max(self.N, 1)
            return [self.engine.segment_cached(leaf, "hits", lambda leaf=leaf: LRUCache(HITS_KEPT_BYTES * leaf.store.n // n))
                    for leaf in self.leaves]

        return self.cached("hit caches", build)
