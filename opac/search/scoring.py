"""BM25 (the one home of its formulas) and BM25F's per-field statistics over a snapshot.

Used by the catalogue engine (``executor.Executor._word``: BM25F over weighted fields) and by the
FAQ matcher (``reference.services``: BM25 over question, keywords and answer).
"""

from __future__ import annotations

import math

import numpy as np

K1 = 1.2
B = 0.75


def idf(n: int, df: int) -> float:
    """BM25's inverse document frequency of a term in ``df`` of ``n`` documents.

    >>> round(idf(1000, 10), 3), idf(1000, 1000) > 0
    (4.557, True)
    """
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def saturate(tf, k1: float = K1):
    """BM25's term frequency saturation ``tf * (k1 + 1) / (tf + k1)`` of (pseudo) frequencies,
    arrays or numbers.

    >>> saturate(np.array([0.0, 1.0, 100.0])).round(2).tolist()
    [0.0, 1.0, 2.17]
    """
    return tf * (k1 + 1.0) / (tf + k1)


def length_norm(dl, avgdl: float, b: float = B):
    """BM25's length normalisation ``1 - b + b * dl / avgdl`` (divide a frequency by it).

    >>> length_norm(np.array([5.0, 10.0, 20.0]), 10.0).tolist()
    [0.625, 1.0, 1.75]
    """
    return 1.0 - b + b * dl / avgdl


class Scoring:
    """BM25 statistics of a snapshot's documents (mixed into ``engine.Snapshot``): N, document
    frequencies and average field lengths count live documents only."""

    def avg_length(self, field: str) -> float:
        """Mean length of ``field`` over the live documents (deleted ones do not count). The lengths
        are whole numbers, summed exactly per segment (kept while its deletions stay as they are):
        the same value however the documents are split into segments, and a record indexed again
        with the same text (the desk's changes) leaves it unchanged, so scores computed before stay
        valid (``executor.SegmentWord``)."""

        def segment_sum(leaf, lengths):
            live = lengths if leaf.live is None else lengths[leaf.live]
            return float(np.sum(live, dtype=np.float64)), len(live)

        def build():
            total = count = 0
            for leaf, lengths in zip(self.leaves, self._leaf_lengths(field), strict=True):
                s, n = self.engine.segment_versioned(leaf, ("length sum", field), leaf.deleted,
                                                     lambda leaf=leaf, lengths=lengths: segment_sum(leaf, lengths))
                total += s
                count += n
            return max(total / count if count else 1.0, 1.0)

        return self.cached(("avgdl", field), build)

    def live_count(self, ids: np.ndarray) -> int:
        """How many of ``ids`` (a posting list) are live documents: a document frequency."""
        return int(self.live_of(ids).sum()) if self.has_deletions else len(ids)

    def idf(self, df: int) -> float:
        """BM25 inverse document frequency over the live documents."""
        return idf(self.doc_count, df)

    def length_norm(self, field: str, ids: np.ndarray) -> np.ndarray:
        """BM25 length normalisation of ``field`` for the documents ``ids``."""
        return length_norm(self.lengths_at(field, ids), self.avg_length(field))
