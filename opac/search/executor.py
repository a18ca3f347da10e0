"""Evaluate parsed queries on a Snapshot: matching mask, scores, known-item boosts, filters.

Each clause becomes a boolean mask over all documents plus a score array; required clauses are
ANDed, optional ones only add score, negated ones are removed. Typed words missing from the
index are matched through their closest spelling (edit distance 1) so a one-letter typo still
finds the book; the caller reports the correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .analysis import normalize_phrase, query_variants
from .documents import hash64
from .query import AnyOf, Clause, Exact, ParsedQuery, Phrase, Word, YearRange
from .schema import TEXT_FIELDS
from .spelling import corrections_for

EXACT_TITLE_BOOST = 40.0
EXACT_VALUE_SCORE = 25.0
FUZZY_WEIGHT = 0.55


@dataclass
class Evaluation:
    mask: np.ndarray
    score: np.ndarray
    corrected: dict[str, str] = field(default_factory=dict)
    matched_words: set[str] = field(default_factory=set)
    fallback: bool = False


@dataclass(frozen=True)
class WordResult:
    ids: np.ndarray  # int32: documents that match or score
    score: np.ndarray  # float32 score of each
    in_mask: np.ndarray  # bool: the document matches (not only scores)
    correction: str | None
    matched: bool

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.score.nbytes + self.in_mask.nbytes + 200


class Executor:
    def __init__(self, snap, prefix_limit: int = 64, fuzzy: bool = True):
        self.snap = snap
        self.fuzzy = fuzzy
        self.N = snap.N
        self.prefix_limit = prefix_limit
        self.corrected: dict[str, str] = {}
        self.matched_words: set[str] = set()

    # -- clauses -----------------------------------------------------------------------

    def _zeros(self):
        return np.zeros(self.N, dtype=np.float32)

    def _word_terms(self, w: Word, fields: list[str]) -> list[tuple[str, float]]:
        if w.prefix:
            terms = self.snap.expand_prefix(fields[0] if len(fields) == 1 else "all", w.text, self.prefix_limit)
            return [(t, 1.0 if t == w.text else 0.9) for t in terms] or [(w.text, 1.0)]
        variants = list(query_variants(w.text))
        probe = fields[0] if len(fields) == 1 else "all"
        if self.fuzzy and not any(self.snap.has_term(probe, t) for t, _ in variants):
            fixes = corrections_for(self.snap, w.text, probe)
            if fixes:
                self.corrected[w.text] = fixes[0]
                for fix in fixes[:3]:
                    variants.extend((t, wt * FUZZY_WEIGHT) for t, wt in query_variants(fix))
        return variants

    def word(self, w: Word):
        """Mask and score of one word. Words recur across different queries far more than whole
        queries do, so the result is kept per index snapshot in sparse form (matching documents
        and their scores), with the spelling correction it needed."""
        key = ("word", w.text, w.field, w.prefix, self.fuzzy, self.prefix_limit)
        cached = self.snap.results.get(key)
        if cached is None:
            mask, score = self._word(w)
            ids = np.flatnonzero(mask | (score != 0)).astype(np.int32)
            cached = WordResult(ids, score[ids], mask[ids], self.corrected.get(w.text), w.text in self.matched_words)
            self.snap.results.put(key, cached, cached.nbytes)
        if cached.correction is not None:
            self.corrected[w.text] = cached.correction
        if cached.matched:
            self.matched_words.add(w.text)
        mask = np.zeros(self.N, dtype=bool)
        score = self._zeros()
        mask[cached.ids[cached.in_mask]] = True
        score[cached.ids] = cached.score
        return mask, score

    def _word(self, w: Word):
        fields = [w.field] if w.field else list(TEXT_FIELDS)
        weights = {f: TEXT_FIELDS.get(f, 2.0) for f in fields}
        match_field = w.field or "all"
        terms = self._word_terms(w, fields)
        mask = np.zeros(self.N, dtype=bool)
        score = self._zeros()
        # Every word of every field is also in "all": look a term up in the other fields only if
        # "all" has it (most variants of most words exist nowhere).
        present = terms
        if match_field == "all" and len(fields) > 1:
            present = []
            for term, wt in terms:
                ids, tf = self.snap.postings("all", term)
                if len(ids):
                    present.append((term, wt))
        for f in fields:
            fscore = None
            for term, wt in present:
                ids, tf = self.snap.postings(f, term)
                if not len(ids):
                    continue
                if f == match_field:
                    mask[ids] = True
                s = wt * self.snap.bm25(f, ids, tf, len(ids))
                if fscore is None:
                    fscore = self._zeros()
                    fscore[ids] = s
                else:
                    fscore[ids] = np.maximum(fscore[ids], s)
            if fscore is not None:
                score += weights[f] * fscore
        if mask.any():
            self.matched_words.add(w.text)
        return mask, score

    def phrase(self, p: Phrase):
        # Candidates: documents with every word; then the indexed word pairs (and title positions).
        mask = np.ones(self.N, dtype=bool)
        score = self._zeros()
        for text in p.words:
            m, s = self.word(Word(text=text, field=p.field if p.field != "all" else None))
            mask &= m
            score += s
            if not mask.any():
                return mask, score
        if len(p.words) < 2:
            return mask, score
        field = p.field if p.field in ("all", "title") else "all"
        found = self.snap.phrase_docs(field, list(p.words), mask & self.snap.live)
        return found, score * 1.2

    def exact(self, e: Exact):
        mask = np.zeros(self.N, dtype=bool)
        values = list(e.values)
        if e.prefix:
            expanded = []
            for v in e.values:
                expanded.append(v)
                expanded.extend(self._values_with_prefix(e.field, v))
            values = expanded
        for v in values:
            ids, _ = self.snap.postings(e.field, v)
            if len(ids):
                mask[ids] = True
        score = mask.astype(np.float32) * EXACT_VALUE_SCORE
        return mask, score

    def _values_with_prefix(self, field_name: str, prefix: str) -> list[str]:
        return self.snap.expand_prefix(field_name, prefix, self.prefix_limit)

    def year(self, r: YearRange):
        years = self.snap.column("year")
        mask = years > 0
        if r.lo is not None:
            mask &= years >= r.lo
        if r.hi is not None:
            mask &= years <= r.hi
        return mask, self._zeros()

    def any_of(self, a: AnyOf):
        mask = np.zeros(self.N, dtype=bool)
        score = self._zeros()
        for c in a.clauses:
            m, s = self.clause(c)
            mask |= m
            score = np.maximum(score, s)
        return mask, score

    def clause(self, c: Clause):
        if isinstance(c, Word):
            return self.word(c)
        if isinstance(c, Phrase):
            return self.phrase(c)
        if isinstance(c, Exact):
            return self.exact(c)
        if isinstance(c, YearRange):
            return self.year(c)
        if isinstance(c, AnyOf):
            return self.any_of(c)
        raise TypeError(c)

    # -- whole query -------------------------------------------------------------------

    def evaluate(self, pq: ParsedQuery, *, any_words: bool = False) -> Evaluation:
        """Mask and scores of a parsed query; ``any_words`` relaxes AND to 'most words'."""
        live = self.snap.live
        if pq.is_empty:
            return Evaluation(mask=live.copy(), score=self._zeros())
        required, optional, negated = [], [], []
        for c in pq.clauses:
            if c.negated:
                negated.append(c)
            elif isinstance(c, Word) and c.optional:
                optional.append(c)
            else:
                required.append(c)
        score = self._zeros()
        if required:
            if any_words:
                hits = np.zeros(self.N, dtype=np.int16)
                for c in required:
                    m, s = self.clause(c)
                    hits += m
                    score += s
                mask = hits > 0
                # more matched words first: coverage dominates the score
                score += hits.astype(np.float32) * 100.0
            else:
                mask = live.copy()
                for c in required:
                    m, s = self.clause(c)
                    mask &= m
                    score += s
                    if not mask.any():
                        break
        else:
            mask = np.zeros(self.N, dtype=bool)
            for c in optional:
                m, _ = self.clause(c)
                mask |= m
        for c in optional:
            _, s = self.clause(c)
            score += s
        for c in negated:
            m, _ = self.clause(c.__class__(**{**c.__dict__, "negated": False}))
            mask &= ~m
        mask &= live
        self._known_item_boost(pq, mask, score)
        return Evaluation(mask=mask, score=score, corrected=dict(self.corrected),
                          matched_words=set(self.matched_words), fallback=any_words)

    def _known_item_boost(self, pq: ParsedQuery, mask: np.ndarray, score: np.ndarray) -> None:
        phrase = normalize_phrase(" ".join(pq.plain_words))
        if not phrase or not mask.any():
            return
        h = hash64(phrase)
        exact = np.zeros(self.N, dtype=bool)
        exact[self.snap.docs_with_key("title_key", h)] = True
        exact[self.snap.docs_with_key("full_title_key", h)] = True
        exact &= mask
        if exact.any():
            score[exact] += EXACT_TITLE_BOOST
        cn_ids, _ = self.snap.postings("callnumber", phrase)
        if len(cn_ids):
            hit = np.zeros(self.N, dtype=bool)
            hit[cn_ids] = True
            score[hit & mask] += EXACT_TITLE_BOOST


def filter_mask(snap, filters: dict[str, list[str]]) -> np.ndarray | None:
    """AND across facets, OR within one: ``{"f_type": ["book"], "f_lang": ["ind", "eng"]}``."""
    result = None
    for fname, values in filters.items():
        m = np.zeros(snap.N, dtype=bool)
        for v in values:
            ids, _ = snap.postings(fname, v)
            if len(ids):
                m[ids] = True
        result = m if result is None else (result & m)
    return result
