"""Facet counts and the year filter over a snapshot (``Facets`` is mixed into ``engine.Snapshot``).

The facet fields' values are kept per segment (``SegmentFacets``: all fields together, mapped to the
value ids of a process-wide dictionary per field), built once per segment from its postings, and
counted segment by segment, every field in one pass: a commit only costs the new small segment (and
the totals of segments that gained deletions).
"""

from __future__ import annotations

import threading

import numpy as np

from .segments import EMPTY_IDS


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


def segment_facets(store, dictionaries: dict[str, Dictionary]) -> SegmentFacets:
    """Every facet field of one segment, from its postings: each field's terms numbered within the
    segment, the fields one after another (``SegmentFacets``)."""
    firsts, owners, further, ids, starts = [], [], [], [], [0]
    for field, dictionary in dictionaries.items():
        texts, docs, dfs = store.field_postings(field)
        ids.append(np.array([dictionary.id_of(t) for t in texts], dtype=np.int32))
        vals = np.repeat(np.arange(starts[-1], starts[-1] + len(texts), dtype=np.int32), dfs)
        starts.append(starts[-1] + len(texts))
        order = np.argsort(docs, kind="stable")
        docs, vals = docs[order], vals[order]
        offsets = np.searchsorted(docs, np.arange(store.n + 1))
        has = offsets[1:] > offsets[:-1]
        first = np.zeros(store.n, dtype=np.int32)
        first[has] = vals[offsets[:-1][has]] + 1
        more = np.ones(len(vals), dtype=bool)
        more[offsets[:-1][has]] = False
        firsts.append(first)
        owners.append(docs[more])
        further.append(vals[more])
    return SegmentFacets(tuple(dictionaries), np.stack(firsts, axis=1) if firsts else np.zeros((store.n, 0), np.int32),
                         np.concatenate(owners) if owners else EMPTY_IDS, np.concatenate(further) if further else EMPTY_IDS,
                         ids, np.array(starts, dtype=np.int64))


class SegmentFacets:
    """The facet fields of one segment, counted together: each document's first value of every
    field (a row of ``first``: the value's number in the segment + 1, 0 for none) plus the further
    values with their documents. Counting ``m`` documents is one gather of their rows plus a pass over
    the (few) further values, then one sort of those values (few documents) or one ``bincount`` for
    all fields; the values they hold are then mapped to the process-wide value ids of each field
    (``ids``). Derived from the segment alone (not its deletions), so it is built once per segment and
    survives commits."""

    def __init__(self, fields: tuple[str, ...], first: np.ndarray, more_owner: np.ndarray, more_vals: np.ndarray,
                 ids: list[np.ndarray], starts: np.ndarray):
        self.fields = {f: i for i, f in enumerate(fields)}
        self.first = first  # (documents, fields)
        order = np.argsort(more_owner, kind="stable")
        self.more_owner = more_owner[order].astype(np.int32)
        self.more = more_vals[order] + 1  # as in ``first``: the value's number + 1
        self.more_offsets = np.searchsorted(self.more_owner, np.arange(len(first) + 1, dtype=np.int32)).astype(np.int32)
        self.ids = ids  # per field: the process-wide id of each of its values here
        self.starts = starts  # per field: where its values' numbers begin (and the end)
        self.totals = self._bincount(np.concatenate([first.ravel(), self.more]))

    def _bincount(self, numbers_plus_one: np.ndarray) -> np.ndarray:
        """How many of each value (0, no value, is not counted)."""
        return np.bincount(numbers_plus_one, minlength=int(self.starts[-1]) + 1)[1:]

    def live_totals(self, live: np.ndarray | None) -> np.ndarray:
        """How many live documents have each value (numbered within the segment)."""
        if live is None:
            return self.totals
        gone = np.concatenate([self.first[~live].ravel(), self.more[~live[self.more_owner]]])
        return self.totals - self._bincount(gone)

    def count(self, docs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The values (numbered within the segment, ascending) of ``docs`` (local, sorted; ``mask``: the
        same as a mask) and how many of them hold each: only values some of them hold. A few documents'
        values are sorted (``SPARSE_SHARE``), more are counted in an array of all the segment's values."""
        values = self.first[docs].ravel()
        if len(self.more):
            if len(docs) * 2 < len(self.more):
                # not most of the further values: read those of ``docs`` through the offsets
                starts = self.more_offsets[docs]
                lens = self.more_offsets[docs + 1] - starts
                n = int(lens.sum())
                if n:
                    idx = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(n)
                    values = np.concatenate([values, self.more[idx]])
            else:
                values = np.concatenate([values, self.more[mask[self.more_owner]]])
        if len(values) < SPARSE_SHARE * int(self.starts[-1]):
            numbers, counts = np.unique(values, return_counts=True)
            if len(numbers) and numbers[0] == 0:  # no value
                numbers, counts = numbers[1:], counts[1:]
            return numbers - 1, counts
        counts = self._bincount(values)
        numbers = np.flatnonzero(counts)
        return numbers, counts[numbers]

    def by_field(self, fields, numbers: np.ndarray, counts: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``count``'s values split by field: field -> (process-wide value ids, counts)."""
        cut = np.searchsorted(numbers, self.starts).tolist()
        out = {}
        for field in fields:
            i = self.fields[field]
            a, b = cut[i], cut[i + 1]
            out[field] = (self.ids[i][numbers[a:b] - self.starts[i]], counts[a:b])
        return out

    def add_to(self, out: dict[str, np.ndarray], local: np.ndarray) -> None:
        """Add counts numbered within the segment to ``out`` (field -> counts by process-wide id)."""
        for field, counts in out.items():
            i = self.fields[field]
            counts[self.ids[i]] += local[self.starts[i]:self.starts[i + 1]]


#: ``SegmentFacets.count`` sorts the values of the counted documents when there are fewer than this share of
#: the segment's values, rather than counting them in an array as long as all the segment's values (whose
#: cost grows with the catalogue, not with the documents counted).
SPARSE_SHARE = 0.25


class Facets:
    def _segment_facets(self) -> list[SegmentFacets]:
        dictionaries = self.engine.dictionaries
        return self.cached("leaf facets", lambda: [
            self.engine.segment_cached(leaf, "facets", lambda s=leaf.store: segment_facets(s, dictionaries))
            for leaf in self.leaves])

    def _totals(self) -> dict[str, np.ndarray]:
        """How many live documents have each value of each facet field (by value id)."""

        def build():
            facets = self._segment_facets()  # first: numbers every value of this snapshot
            out = {f: np.zeros(len(d.values), dtype=np.int64) for f, d in self.engine.dictionaries.items()}
            for sf, leaf in zip(facets, self.leaves, strict=True):
                sf.add_to(out, sf.live_totals(leaf.live))
            return out

        return self.cached("facet-totals", build)

    def facet_totals(self, field: str) -> np.ndarray:
        """How many live documents have each value of a facet field (by value id)."""
        return self._totals()[field]

    def _count_values(self, fields: list[str], docs: np.ndarray, mask: np.ndarray
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """How many of ``docs`` hold each value of each field: field -> (value ids, counts), only the
        values some of them hold (ids ascending)."""
        parts: dict[str, list] = {f: [] for f in fields}
        cut = np.searchsorted(docs, self._bounds).tolist()  # where each segment's documents begin and end
        for i, (sf, leaf) in enumerate(zip(self._segment_facets(), self.leaves, strict=True)):
            a, b = cut[i], cut[i + 1]
            if b > a:
                lo = leaf.offset
                numbers, counts = sf.count(docs[a:b] - lo, mask[lo:lo + leaf.store.n])
                for field, got in sf.by_field(fields, numbers, counts).items():
                    parts[field].append(got)
        out = {}
        for field, got in parts.items():
            if not got:
                out[field] = (EMPTY_IDS, np.zeros(0, dtype=np.int64))
            elif len(got) == 1:
                ids, counts = got[0]
                order = np.argsort(ids, kind="stable")  # a segment numbers its values by text, not by id
                out[field] = (ids[order], counts[order])
            else:  # the same value in several segments: add its counts
                size = len(self.engine.dictionaries[field].values)
                if sum(len(g[0]) for g in got) > SPARSE_SHARE * size:  # many: in an array of every value
                    dense = np.zeros(size, dtype=np.int64)
                    for ids, counts in got:
                        dense[ids] += counts  # a value once per segment
                    ids = np.flatnonzero(dense)
                    out[field] = (ids, dense[ids])
                else:
                    ids, inverse = np.unique(np.concatenate([g[0] for g in got]), return_inverse=True)
                    counts = np.bincount(inverse, weights=np.concatenate([g[1] for g in got]), minlength=len(ids))
                    out[field] = (ids, counts.astype(np.int64))
        return out

    def count_facets(self, limits: dict[str, int], mask: np.ndarray, matched: int,
                     docs: np.ndarray | None = None) -> dict[str, list[tuple[str, int]]]:
        """Top values of facet fields (field -> how many) among the documents of ``mask`` (``docs``:
        the same as indices, when the caller has them), all fields counted in one pass."""
        if not matched:
            return {f: [] for f in limits}
        if matched * 2 > self.doc_count:
            # most documents match: count the few that do not and subtract from the totals
            totals = self._totals()
            excluded = self.live & ~mask
            counted = self._count_values(list(limits), np.flatnonzero(excluded), excluded)
            counts = {}
            for f, (ids, gone) in counted.items():
                left = totals[f].copy()
                left[ids] -= gone
                nonzero = np.flatnonzero(left)
                counts[f] = (nonzero, left[nonzero])
        else:
            counts = self._count_values(list(limits), np.flatnonzero(mask) if docs is None else docs, mask)
        return {f: self._top_values(f, *counts[f], limit) for f, limit in limits.items()}

    def count_facet(self, field: str, mask: np.ndarray, matched: int, limit: int,
                    docs: np.ndarray | None = None) -> list[tuple[str, int]]:
        """Top ``limit`` values of one facet field among the documents of ``mask``."""
        return self.count_facets({field: limit}, mask, matched, docs)[field]

    def _top_values(self, field: str, uniq: np.ndarray, counts: np.ndarray, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` values with the most documents (``uniq``: value ids, each with its count)."""
        if len(uniq) > limit:
            top = np.argpartition(counts, -limit)[-limit:]
            uniq, counts = uniq[top], counts[top]
        values = self.engine.dictionaries[field].values
        out = [(values[u], c) for u, c in zip(uniq.tolist(), counts.tolist(), strict=True)]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out
