"""Evaluate parsed queries on a Snapshot: matching mask, scores, known-item boosts, filters.

Each clause becomes a boolean mask over all documents plus a score array; required clauses are
ANDed, optional ones only add score, negated ones are removed. Typed words missing from the
index are matched through their closest spelling (edit distance 1) so a one-letter typo still
finds the book; the caller reports the correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..catalog.material_types import BY_CODE
from .analysis import normalize_phrase, query_variants, shingles
from .documents import hash64
from .facets import year_mask
from .query import AnyOf, Clause, Exact, ParsedQuery, Phrase, Word, YearRange
from .schema import TEXT_FIELDS
from .scoring import saturate
from .spelling import corrections_for

EXACT_TITLE_BOOST = 40.0
EXACT_VALUE_SCORE = 25.0
FUZZY_WEIGHT = 0.55
#: Score factor when every word pair of the query is a phrase of a heading (title, series,
#: subject heading part); fewer pairs, proportionally less.
PHRASE_BOOST = 1.0
#: How many best matches the preference among versions of one work looks at.
VERSIONS_WINDOW = 200
#: Query words that ask for the audiovisual version (then the film is not put after the book).
AV_WORDS = frozenset(BY_CODE["audiovisual"].index_words.split())


@dataclass(frozen=True)
class Compound(Clause):
    """Two adjacent query words that the index also holds written as one ("e learning",
    "e-learning" -> "elearning"): either both words or the closed form."""

    first: Word = Word()
    second: Word = Word()

    @property
    def joined(self) -> Word:
        return Word(text=self.first.text + self.second.text)


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
        """BM25F: a term's frequencies in the title, author and subject fields and in the rest
        of the record are weighted (TEXT_FIELDS), each normalised by its field's length, summed,
        and only then saturated, once; "all" repeats every other field, so only what it holds
        beyond them counts as "the rest". A word scores as its best variant (word, stems,
        corrections), each with its own weight."""
        match_field = w.field or "all"
        mask = np.zeros(self.N, dtype=bool)
        score = self._zeros()
        for term, wt in self._word_terms(w, [match_field] if w.field else list(TEXT_FIELDS)):
            ids, tf = self.snap.postings(match_field, term)
            if not len(ids):
                continue
            mask[ids] = True
            if w.field:
                pseudo = tf / self.snap.length_norm(match_field, ids)
            else:
                pseudo = self._pseudo_frequency(term, ids, tf)
            s = (wt * self.snap.idf(self.snap.live_count(ids)) * saturate(pseudo)).astype(np.float32)
            score[ids] = np.maximum(score[ids], s)
        if mask.any():
            self.matched_words.add(w.text)
        return mask, score

    def _pseudo_frequency(self, term: str, ids: np.ndarray, tf_all: np.ndarray) -> np.ndarray:
        """BM25F's weighted, length-normalised frequency of ``term`` in the documents ``ids`` (its
        postings in "all", which hold every document of the other fields' postings)."""
        pseudo = np.zeros(len(ids), dtype=np.float32)
        rest = tf_all.astype(np.float32)
        for f, weight in TEXT_FIELDS.items():
            if f == "all":
                continue
            fids, ftf = self.snap.postings(f, term)
            if not len(fids):
                continue
            at = np.minimum(np.searchsorted(ids, fids), len(ids) - 1)
            ok = ids[at] == fids
            at, fids, ftf = at[ok], fids[ok], ftf[ok]
            pseudo[at] += weight * ftf / self.snap.length_norm(f, fids)
            rest[at] -= ftf
        pseudo += TEXT_FIELDS["all"] * np.maximum(rest, 0.0) / self.snap.length_norm("all", ids)
        return pseudo

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
            mask |= self.snap.term_mask(e.field, v)
        score = mask.astype(np.float32) * EXACT_VALUE_SCORE
        return mask, score

    def _values_with_prefix(self, field_name: str, prefix: str) -> list[str]:
        return self.snap.expand_prefix(field_name, prefix, self.prefix_limit)

    def year(self, r: YearRange):
        return year_mask(self.snap.column("year"), r.lo, r.hi), self._zeros()

    def any_of(self, a: AnyOf):
        mask = np.zeros(self.N, dtype=bool)
        score = self._zeros()
        for c in a.clauses:
            m, s = self.clause(c)
            mask |= m
            score = np.maximum(score, s)
        return mask, score

    def compound(self, c: Compound):
        m1, s1 = self.word(c.first)
        m2, s2 = self.word(c.second)
        mj, sj = self.word(c.joined)
        both = m1 & m2
        # the closed form stands for both words
        return both | mj, np.maximum(np.where(both, s1 + s2, 0.0), 2.0 * sj).astype(np.float32)

    def _compounds(self, clauses: list[Clause]) -> list[Clause]:
        """Adjacent plain words whose closed form is an indexed word become a Compound."""

        def plain(c):
            return (isinstance(c, Word) and not c.negated and c.field is None and not c.prefix and not c.optional
                    and c.text.isalpha())

        out, i = [], 0
        while i < len(clauses):
            a = clauses[i]
            b = clauses[i + 1] if i + 1 < len(clauses) else None
            if b is not None and plain(a) and plain(b) and len(a.text + b.text) >= 5 \
                    and self.snap.has_term("all", a.text + b.text):
                out.append(Compound(first=a, second=b))
                i += 2
                continue
            out.append(a)
            i += 1
        return out

    def clause(self, c: Clause):
        if isinstance(c, Word):
            return self.word(c)
        if isinstance(c, Compound):
            return self.compound(c)
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
        required = self._compounds(required)
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
        self._phrase_bonus(pq, mask, score)
        self._known_item_boost(pq, mask, score)
        self._prefer_versions(pq, mask, score)
        return Evaluation(mask=mask, score=score, corrected=dict(self.corrected),
                          matched_words=set(self.matched_words), fallback=any_words)

    def _phrase_bonus(self, pq: ParsedQuery, mask: np.ndarray, score: np.ndarray) -> None:
        """Documents where the query's words stand together in a heading (title, series, subject
        heading part, a name heading in reading order) are about that: their score grows with the
        share of the query's word pairs found there, over words scattered across notes."""
        seq = [c.text for c in pq.clauses if isinstance(c, Word) and not c.negated and c.field is None
               and not c.prefix]
        pairs = shingles(seq)
        if not pairs or not mask.any():
            return
        found = np.zeros(self.N, dtype=np.float32)
        for pair in dict.fromkeys(pairs):
            ids, _ = self.snap.postings("headings", pair)
            found[ids] += pairs.count(pair)
        hit = mask & (found > 0)
        score[hit] *= 1.0 + PHRASE_BOOST * found[hit] / len(pairs)

    def _prefer_versions(self, pq: ParsedQuery, mask: np.ndarray, score: np.ndarray) -> None:
        """Among the best matches, records of one work (same normalised title) are reordered in
        the places they hold: the version patrons want first (text before audiovisual unless the
        query asks for a film, then more copies), so the novel comes before its film and the
        edition the library holds most copies of before a single old one."""
        if pq.whole_isbn is not None:
            return  # an ISBN names one edition
        ids = np.flatnonzero(mask)
        if len(ids) < 2:
            return
        if len(ids) > VERSIONS_WINDOW:
            ids = ids[np.argpartition(-score[ids], VERSIONS_WINDOW - 1)[:VERSIONS_WINDOW]]
        keys = self.snap.column("title_key")[ids]
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        groups = np.flatnonzero((counts > 1) & (uniq != 0))
        if not len(groups):
            return
        holdings = self.snap.column("holdings")
        years = self.snap.column("year")
        av = np.zeros(self.N, dtype=bool)
        if not AV_WORDS.intersection(pq.plain_words):
            av = self.snap.term_mask("f_type", "audiovisual")
        for g in groups.tolist():
            members = ids[inverse == g]
            # the places the versions hold, best first; equal scores (same title, same fields) are
            # separated a little so that the preferred order survives the tie-breaks of sorting
            slots = np.sort(score[members])[::-1] - np.arange(len(members), dtype=np.float32) * 1e-3
            # then as results are ordered anyway: score, newest, document
            preferred = sorted(members.tolist(), key=lambda d: (av[d], -holdings[d], -score[d], -years[d], d))
            score[preferred] = slots

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
        hit = self.snap.term_mask("callnumber", phrase) & mask
        score[hit] += EXACT_TITLE_BOOST


def filter_mask(snap, filters: dict[str, list[str]]) -> np.ndarray | None:
    """AND across facets, OR within one: ``{"f_type": ["book"], "f_lang": ["ind", "eng"]}``."""
    result = None
    for fname, values in filters.items():
        m = np.zeros(snap.N, dtype=bool)
        for v in values:
            m |= snap.term_mask(fname, v)
        result = m if result is None else (result & m)
    return result
