"""Facet counts and the year filter over a snapshot (``Facets`` is mixed into ``engine.Snapshot``).

A facet field's values are kept per segment as a CSR table by document (value ids of a process-wide
dictionary), built once per segment from its postings: a commit only builds the new small segment's.
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


def segment_facet(store, field: str, dictionary: Dictionary) -> tuple[np.ndarray, np.ndarray]:
    """(offsets per document + 1, value ids) of a facet field in one segment, CSR by document."""
    texts, docs, dfs = store.field_postings(field)
    if len(docs):
        ids = np.array([dictionary.id_of(t) for t in texts], dtype=np.int32)
        vals = np.repeat(ids, dfs)
        order = np.argsort(docs, kind="stable")
        docs, vals = docs[order], vals[order]
    else:
        vals = EMPTY_IDS
    offsets = np.searchsorted(docs, np.arange(store.n + 1)).astype(np.int64)
    return offsets, vals


class Facets:
    def facet_arrays(self, field: str):
        """(offsets per global doc, value ids) for a facet field, CSR by document."""

        def build():
            offs, vals, base = [], [], 0
            for leaf in self.leaves:
                o, v = self.engine.segment_cached(leaf, ("facet", field),
                                                  lambda s=leaf.store: segment_facet(s, field, self.engine.dictionaries[field]))
                offs.append(o[:-1] + base)
                vals.append(v)
                base += len(v)
            offs.append(np.array([base], dtype=np.int64))
            return np.concatenate(offs), (np.concatenate(vals) if vals else EMPTY_IDS)

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
