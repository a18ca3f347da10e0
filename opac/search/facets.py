"""Facet counts and the year filter over a snapshot (``Facets`` is mixed into ``engine.Snapshot``).

A facet field's values are kept per segment (value ids of a process-wide dictionary), built once per
segment from its postings, and counted segment by segment: a commit only costs the new small segment
(and the totals of segments that gained deletions).
"""

from __future__ import annotations

import threading

import numpy as np

from .segments import EMPTY_IDS

#: A facet's values are counted one by one for fewer than 1/FEW_DOCUMENTS documents per value it has.
FEW_DOCUMENTS = 8


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


def year_mask(years: np.ndarray, lo: int | None, hi: int | None) -> np.ndarray:
    """Documents with a known year (> 0) within ``lo``..``hi`` (either end open when None).

    >>> year_mask(np.array([0, 1999, 2005, 2020]), 2000, None).tolist()
    [False, False, True, True]
    """
    mask = years > 0
    if lo is not None:
        mask &= years >= lo
    if hi is not None:
        mask &= years <= hi
    return mask


def segment_facet(store, field: str, dictionary: Dictionary) -> SegmentFacet:
    """A facet field of one segment, from its postings (value ids of ``dictionary``)."""
    texts, docs, dfs = store.field_postings(field)
    if len(docs):
        ids = np.array([dictionary.id_of(t) for t in texts], dtype=np.int32)
        vals = np.repeat(ids, dfs)
        order = np.argsort(docs, kind="stable")
        docs, vals = docs[order], vals[order]
    else:
        vals = EMPTY_IDS
    offsets = np.searchsorted(docs, np.arange(store.n + 1)).astype(np.int64)
    return SegmentFacet(offsets, vals)


class SegmentFacet:
    """A facet field of one segment as a first value per document (or none) plus the further
    values with their documents (sorted by document): counting the values of ``m`` documents is
    then a gather of ``m`` and a pass over the (few) further values. Derived from the segment alone
    (not its deletions), so it is built once per segment and survives commits."""

    def __init__(self, offsets: np.ndarray, vals: np.ndarray):
        per_doc = np.diff(offsets)
        n = len(per_doc)
        #: the first value's id + 1 (0: no value), so that it is counted without a filter
        self.first = np.zeros(n, dtype=np.int32)
        has = per_doc > 0
        first_at = offsets[:-1][has]
        self.first[has] = vals[first_at] + 1
        further = np.ones(len(vals), dtype=bool)
        further[first_at] = False
        self.more_owner = np.repeat(np.arange(n, dtype=np.int32), per_doc)[further]
        self.more_offsets = np.searchsorted(self.more_owner, np.arange(n + 1, dtype=np.int32)).astype(np.int32)
        self.more_vals = vals[further]
        self.totals = np.bincount(vals) if len(vals) else np.zeros(0, np.int64)

    def live_totals(self, live: np.ndarray | None) -> np.ndarray:
        """How many live documents have each value."""
        if live is None or not len(self.totals):
            return self.totals
        gone = self.first[~live]
        gone = np.concatenate([gone[gone > 0] - 1, self.more_vals[~live[self.more_owner]]])
        return self.totals - np.bincount(gone, minlength=len(self.totals)) if len(gone) else self.totals

    def values(self, docs: np.ndarray) -> np.ndarray:
        """The value ids of ``docs`` (local, sorted): first values, then the further ones."""
        first = self.first[docs]
        first = first[first > 0] - 1
        if not len(self.more_vals):
            return first
        starts = self.more_offsets[docs]
        lens = self.more_offsets[docs + 1] - starts
        n = int(lens.sum())
        if not n:
            return first
        idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(n)
        return np.concatenate([first, self.more_vals[idx]])

    def count(self, docs: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
        """Counts of the values of ``docs`` (local, sorted; ``mask``: the same as a mask)."""
        counts = np.bincount(self.first[docs], minlength=size + 1)[1:]
        if not len(self.more_vals):
            return counts
        if len(docs) * 4 < len(self.more_vals):
            # few documents: read their further values through the offsets
            starts = self.more_offsets[docs]
            lens = self.more_offsets[docs + 1] - starts
            n = int(lens.sum())
            if n:
                idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(n)
                counts += np.bincount(self.more_vals[idx], minlength=size)
        else:
            counts += np.bincount(self.more_vals[mask[self.more_owner]], minlength=size)
        return counts


def _padded(counts: np.ndarray, size: int) -> np.ndarray:
    return counts if len(counts) == size else np.concatenate([counts, np.zeros(size - len(counts), counts.dtype)])


class Facets:
    def _segment_facets(self, field: str) -> list[SegmentFacet]:
        dictionary = self.engine.dictionaries[field]
        return [self.engine.segment_cached(leaf, ("facet", field),
                                           lambda s=leaf.store: segment_facet(s, field, dictionary))
                for leaf in self.leaves]

    def facet_totals(self, field: str) -> np.ndarray:
        """How many live documents have each value of a facet field (by value id)."""

        def build():
            parts = [f.live_totals(leaf.live) for f, leaf in zip(self._segment_facets(field), self.leaves, strict=True)]
            size = max((len(p) for p in parts), default=0)
            return sum((_padded(p, size) for p in parts), np.zeros(size, dtype=np.int64))

        return self.cached(("facet-totals", field), build)

    def _count_values(self, field: str, docs: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
        counts = np.zeros(size, dtype=np.int64)
        for f, leaf in zip(self._segment_facets(field), self.leaves, strict=True):
            lo, hi = leaf.offset, leaf.offset + leaf.store.n
            a, b = np.searchsorted(docs, [lo, hi])
            if b > a:
                counts += _padded(f.count(docs[a:b] - lo, mask[lo:hi], size), size)[:size]
        return counts

    def count_facet(self, field: str, mask: np.ndarray, matched: int, limit: int,
                    docs: np.ndarray | None = None) -> list[tuple[str, int]]:
        """Top ``limit`` values of a facet among the documents of ``mask`` (``docs``: the same as
        indices, when the caller has them)."""
        if not matched:
            return []
        totals = self.facet_totals(field)
        if not len(totals):
            return []
        if matched * 2 > self.doc_count:
            # most documents match: count the few that do not and subtract from the totals
            excluded = self.live & ~mask
            counts = totals - self._count_values(field, np.flatnonzero(excluded), excluded, len(totals))
            return self._top_values(field, counts, limit)
        docs = np.flatnonzero(mask) if docs is None else docs
        if len(docs) * FEW_DOCUMENTS < len(totals):
            # few documents for a facet of many values (authors, subjects): count the values they
            # have instead of a count for every value
            uniq, counts = np.unique(self._values_of(field, docs), return_counts=True)
            return self._top(field, uniq, counts, limit)
        return self._top_values(field, self._count_values(field, docs, mask, len(totals)), limit)

    def _values_of(self, field: str, docs: np.ndarray) -> np.ndarray:
        """The value ids of the documents ``docs`` (sorted), each as often as a document has it."""
        parts = []
        for f, leaf in zip(self._segment_facets(field), self.leaves, strict=True):
            lo, hi = leaf.offset, leaf.offset + leaf.store.n
            a, b = np.searchsorted(docs, [lo, hi])
            if b > a:
                parts.append(f.values(docs[a:b] - lo))
        return np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else EMPTY_IDS)

    def _top_values(self, field: str, counts: np.ndarray, limit: int) -> list[tuple[str, int]]:
        uniq = np.flatnonzero(counts)
        return self._top(field, uniq, counts[uniq], limit)

    def _top(self, field: str, uniq: np.ndarray, counts: np.ndarray, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` values of most documents among value ids ``uniq`` (ascending, each
        counted in ``counts``), most first, ties by value."""
        if len(uniq) > limit:
            top = np.argpartition(counts, -limit)[-limit:]
            uniq, counts = uniq[top], counts[top]
        dictionary = self.engine.dictionaries[field]
        out = [(dictionary.values[int(u)], int(c)) for u, c in zip(uniq, counts, strict=True)]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out
