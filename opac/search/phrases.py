"""Phrases over a snapshot (mixed into ``engine.Snapshot``): adjacent words found through the
indexed word pairs, and in the title, which keeps word positions, checked position by position."""

from __future__ import annotations

import numpy as np

from .analysis import shingles
from .segments import intersect


class Phrases:
    def positions_in(self, field: str, term: str, docs: np.ndarray) -> dict[int, set[int]]:
        """Word positions of ``term`` in a few documents (sorted global docnums)."""
        out: dict[int, set[int]] = {}
        for leaf in self.leaves:
            lo, hi = leaf.offset, leaf.offset + leaf.store.n
            local = docs[(docs >= lo) & (docs < hi)] - lo
            if len(local):
                for d, pos in leaf.store.positions(field, term, local).items():
                    out[d + lo] = pos
        return out

    def phrase_docs(self, field: str, phrase_words: list[str], candidates: np.ndarray,
                    verify_limit: int = 3000) -> np.ndarray:
        """Documents among ``candidates`` (sorted global docnums) with the words next to each other,
        in order: every consecutive pair must be an indexed word pair (one lookup each; pairs never
        span two fields or lines). In the title, which keeps positions, the words' positions are
        checked too when the candidates are few."""
        found = candidates
        for pair in shingles(phrase_words):
            found = intersect(found, self.postings("shingles", pair)[0])
            if not len(found):
                return found
        if field == "all" or len(found) > verify_limit:
            return found  # pairs all present: a precise enough answer at this size
        per_word = [self.positions_in(field, w, found) for w in phrase_words]
        rest = per_word[1:]
        exact = [d for d, starts in per_word[0].items()
                 if all(d in r for r in rest) and any(all((s + i + 1) in r[d] for i, r in enumerate(rest))
                                                      for s in starts)]
        return np.array(sorted(exact), dtype=np.int32)
