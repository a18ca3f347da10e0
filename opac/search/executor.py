"""Evaluate parsed queries on a Snapshot: matching documents, scores, known-item boosts, filters.

Each clause becomes a ``Part``: the documents it matches (sorted document numbers) and its score
at any documents asked for. Required clauses are intersected, optional ones only add score, negated
ones are removed; scores are computed only for the documents that remain, so the cost follows the
posting lists, not the size of the catalogue. Typed words missing from the
index are matched through their closest spelling (edit distance 1) so a one-letter typo still
finds the book; the caller reports the correction.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from ..catalog.material_types import BY_CODE
from .analysis import normalize_phrase, query_variants, shingles
from .documents import hash64
from .query import AnyOf, Clause, Exact, ParsedQuery, Phrase, Word, YearRange
from .schema import TEXT_FIELDS
from .scoring import length_norm, saturate
from .segments import EMPTY_IDS, TermKeys, contains, intersect, positions, union
from .spelling import corrections_for

EXACT_TITLE_BOOST = 40.0
EXACT_VALUE_SCORE = 25.0
FUZZY_WEIGHT = 0.55
#: Score factor when every word pair of the query is a phrase of a heading (title, series,
#: subject heading part); fewer pairs, proportionally less.
PHRASE_BOOST = 1.0
#: A word of an AND (or a phrase) more than this many times as frequent as its rarest clause is
#: scored only where the rarest matches too (``LazyWord``); a rarer one whole (``Executor._settle``).
LAZY_RATIO = 4
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


@dataclass(frozen=True)
class Part:
    """A clause's result: the documents it matches (sorted global numbers) and, for any
    documents, whether it matches each and its score there (a clause may score documents it does
    not match: a phrase scores its words)."""

    matched: np.ndarray
    at: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

    @property
    def size(self) -> int:
        """How many documents it matches (at most: a ``LazyWord``'s estimate)."""
        return len(self.matched)

    def within(self, docs: np.ndarray) -> np.ndarray:
        """Those of ``docs`` (sorted) it matches."""
        return intersect(docs, self.matched)


def scored(ids: np.ndarray, score: np.ndarray, match: np.ndarray | None = None) -> Part:
    """The Part of a clause that scores ``ids`` (sorted) with ``score`` and matches those of
    ``match`` (all of them when None), and nothing else."""

    if match is not None and match.all():
        match = None

    def at(docs):
        if not len(ids):
            return np.zeros(len(docs), dtype=bool), np.zeros(len(docs), dtype=np.float32)
        if len(docs) == len(ids) and np.array_equal(docs, ids):
            return (np.ones(len(ids), dtype=bool) if match is None else match), score
        pos = positions(ids, docs)
        found = pos >= 0
        return (found if match is None else found & match[pos]), np.where(found, score[pos], np.float32(0))

    return Part(ids if match is None else ids[match], at)


NOTHING = scored(EMPTY_IDS, np.zeros(0, dtype=np.float32))


@dataclass
class Evaluation:
    """The matching live documents of a query (sorted) and the score of each."""

    ids: np.ndarray
    scores: np.ndarray  # float32, one per id
    N: int
    corrected: dict[str, str] = field(default_factory=dict)
    matched_words: set[str] = field(default_factory=set)
    fallback: bool = False

    @cached_property
    def mask(self) -> np.ndarray:
        """The matching documents as a mask over all documents."""
        mask = np.zeros(self.N, dtype=bool)
        mask[self.ids] = True
        return mask

    @cached_property
    def score(self) -> np.ndarray:
        """The scores over all documents (0 where nothing matches)."""
        score = np.zeros(self.N, dtype=np.float32)
        score[self.ids] = self.scores
        return score

    def scores_of(self, ids: np.ndarray) -> np.ndarray:
        """The scores of ``ids`` (sorted, some of the matches): all of them are the matches
        themselves (no array over all documents needed)."""
        return self.scores if len(ids) == len(self.ids) else self.score[ids]


@dataclass(frozen=True)
class WordResult:
    ids: np.ndarray  # int32: the documents the word matches
    score: np.ndarray  # float32 score of each
    correction: str | None
    matched: bool
    doc_count: int  # the live documents (N) and
    avg_lengths: tuple[float, ...]  # the average lengths of the word's fields it was scored with

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.score.nbytes + 200


@lru_cache(maxsize=2048)
def _word_keys(text: str, fields: tuple[str, ...]) -> TermKeys:
    """The (field, term) keys of a plain word's variants in ``fields``, hashed once per process
    (each commit's new segment looks the words of the searches after it up again)."""
    return TermKeys([(f, t) for t, _ in query_variants(text) for f in fields])


@dataclass(frozen=True)
class SegmentWord:
    """What one segment holds of a plain word: for each variant found there (its index among the
    word's variants) the segment's documents (local numbers, deleted ones included) and their
    BM25F pseudo-frequencies (before idf and saturation, which depend on the whole index)."""

    variants: tuple[int, ...]
    ids: tuple[np.ndarray, ...]
    pseudo: tuple[np.ndarray, ...]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.pseudo) + 8 * sum(len(a) for a in self.ids) + 200


#: A segment that holds none of a word's terms.
NOTHING = SegmentWord((), (), ())


def best_variant(id_lists: list[np.ndarray], score_lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The documents of any variant (each list sorted) and each one's best score among them.

    >>> ids, sc = best_variant([np.array([1, 4]), np.array([4, 7])], [np.array([1.0, 2.0]), np.array([3.0, 0.5])])
    >>> ids.tolist(), sc.tolist()
    ([1, 4, 7], [1.0, 3.0, 0.5])
    """
    if len(id_lists) == 1:
        return id_lists[0], score_lists[0]
    return best_of(np.concatenate(id_lists), np.concatenate(score_lists))


def best_of(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``best_variant`` of the variants' lists joined end to end (documents repeat across them)."""
    order = np.argsort(ids, kind="stable")
    ids, scores = ids[order], scores[order]
    first = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    return ids[first], np.maximum.reduceat(scores, first)


#: ``pseudo_frequencies`` looks more terms than this up in one sorted search per field.
KEYED_TERMS = 8


def pseudo_frequencies(found: list[tuple], postings: dict, norm, split: bool = True) -> list[np.ndarray] | np.ndarray:
    """BM25F's weighted, length-normalised frequency of each term of ``found`` ((term, weight,
    documents, frequencies): its postings in "all", which hold every document of the other
    fields' postings) in its documents; ``postings``: the terms' postings in the other fields,
    by (field, term); ``norm(field, ids)``: the length normalisation of ``field`` at ``ids`` (of a
    snapshot or of one segment); ``split``: one array per term, else all of them end to end. Each
    field's lengths are read once for all the terms. A word's few variants are looked up term by
    term (``positions``: through a table when the postings are long); many terms (a prefix's
    dozens of words, ``KEYED_TERMS``) by one sorted search per field, keyed by term and document.

    >>> norm = lambda field, ids: np.ones(len(ids))
    >>> found = [("a", 1.0, np.array([1, 4]), np.array([3, 1])), ("b", 1.0, np.array([4]), np.array([2]))]
    >>> [p.tolist() for p in pseudo_frequencies(found, {("title", "a"): (np.array([4]), np.array([1]))}, norm)]
    [[3.0, 3.0], [2.0]]
    """
    sizes = [len(ids) for _, _, ids, _ in found]
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    all_ids = np.concatenate([ids for _, _, ids, _ in found]) if len(found) > 1 else found[0][2]
    pseudo = np.zeros(len(all_ids), dtype=np.float32)
    rest = np.concatenate([tf for _, _, _, tf in found]).astype(np.float32)
    keyed = None  # (term's place << 32) | document, sorted: every term's "all" postings in one array
    for f, weight in TEXT_FIELDS.items():
        if f == "all":
            continue
        held = [(k, postings[f, term]) for k, (term, _, _, _) in enumerate(found) if (f, term) in postings]
        if not held:
            continue
        if len(found) <= KEYED_TERMS:  # each term's looked up in its own postings
            at_parts = []
            for k, (fids, _) in held:
                at = positions(found[k][2], fids)
                at_parts.append(np.where(at >= 0, at + starts[k], -1))
            at = at_parts[0] if len(held) == 1 else np.concatenate(at_parts)
            fids = held[0][1][0] if len(held) == 1 else np.concatenate([ids for _, (ids, _) in held])
            ftf = held[0][1][1] if len(held) == 1 else np.concatenate([tf for _, (_, tf) in held])
        else:
            if keyed is None:
                keyed = np.repeat(np.arange(len(found), dtype=np.int64) << 32, sizes) | all_ids
            fids = np.concatenate([ids for _, (ids, _) in held]) if len(held) > 1 else held[0][1][0]
            ftf = np.concatenate([tf for _, (_, tf) in held]) if len(held) > 1 else held[0][1][1]
            owner = np.repeat(np.array([k for k, _ in held], dtype=np.int64) << 32, [len(ids) for _, (ids, _) in held])
            at = positions(keyed, owner | fids)
        ok = at >= 0
        if not ok.all():
            at, fids, ftf = at[ok], fids[ok], ftf[ok]
        pseudo[at] += weight * ftf / norm(f, fids)
        rest[at] -= ftf
    pseudo += TEXT_FIELDS["all"] * np.maximum(rest, 0.0) / norm("all", all_ids)
    return np.split(pseudo, starts[1:]) if split else pseudo


@dataclass(frozen=True)
class LazyCheck:
    """What a ``LazyWord`` leaves to tell whether a query's result holds in a later snapshot: the
    live document frequency of each of its variants found, with N, the average lengths and the
    segments it was looked up in (``Executor.holds``)."""

    word: Word
    dfs: tuple[tuple[str, int], ...]
    doc_count: int
    avg_lengths: tuple[float, ...]
    segids: frozenset


class LazyWord:
    """A plain word whose scores are needed only where the query's other clauses match too (the
    words of an AND of several clauses, of a phrase): its documents are found without scoring, and
    its BM25F scores computed only at the documents asked for (``at``) — for a frequent word a few
    dozen documents instead of thousands. The scores are bit for bit those of ``Executor._word``:
    the same operations in the same order, on fewer elements. Quacks like ``Part``."""

    def __init__(self, ex: Executor, w: Word, fields: list[str], found: list[tuple[str, float]], postings: dict):
        self.ex, self.w, self.found, self.postings = ex, w, found, postings
        self.field = fields[0]  # the field the word matches in ("all": every text field)
        self.variant_ids = [postings[self.field, t][0] for t, _ in found]
        self.dfs = [ex.snap.live_count(ids) for ids in self.variant_ids]
        self.size = sum(len(ids) for ids in self.variant_ids)

    @cached_property
    def matched(self) -> np.ndarray:
        return union(self.variant_ids)

    def within(self, docs: np.ndarray) -> np.ndarray:
        keep = contains(self.variant_ids[0], docs)
        for ids in self.variant_ids[1:]:
            keep |= contains(ids, docs)
        return docs[keep]

    def at(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        snap = self.ex.snap
        hit = np.zeros(len(docs), dtype=bool)
        best = np.zeros(len(docs), dtype=np.float32)
        for (term, weight), ids, df in zip(self.found, self.variant_ids, self.dfs, strict=True):
            where = positions(ids, docs)
            present = where >= 0
            if not present.any():
                continue
            d, tf = docs[present], self.postings[self.field, term][1][where[present]]
            pseudo = tf / snap.length_norm(self.field, d) if self.w.field else self._pseudo(term, d, tf)
            best[present] = np.maximum(best[present], self.ex._variant_score(weight, df, pseudo))
            hit |= present
        return hit, best

    def _pseudo(self, term: str, d: np.ndarray, tf: np.ndarray) -> np.ndarray:
        """``pseudo_frequencies`` of one term at its documents ``d`` (``tf``: its frequencies there in
        "all"): the term's postings in the other fields cut to ``d`` first (a few documents found in
        long lists, not the lists in ``d``)."""
        near = {}
        for f in TEXT_FIELDS:
            if f != "all" and (f, term) in self.postings:
                fids, ftf = self.postings[f, term]
                where = positions(fids, d)
                ok = where >= 0
                near[f, term] = d[ok], ftf[where[ok]]
        return pseudo_frequencies([(term, 1.0, d, tf)], near, self.ex.snap.length_norm, split=False)

    def check(self) -> LazyCheck:
        snap = self.ex.snap
        return LazyCheck(self.w, tuple((t, df) for (t, _), df in zip(self.found, self.dfs, strict=True)),
                         snap.doc_count, self.ex._avg_lengths(self.w), frozenset(leaf.segid for leaf in snap.leaves))


class Executor:
    def __init__(self, snap, prefix_limit: int = 64, fuzzy: bool = True):
        self.snap = snap
        self.fuzzy = fuzzy
        self.N = snap.N
        self.prefix_limit = prefix_limit
        self.corrected: dict[str, str] = {}
        self.matched_words: set[str] = set()
        #: The word results this executor used ((key, word, weak reference to the result), in order:
        #: a result kept for later checks does not keep its words' arrays alive) and the closed forms
        #: it looked for (``_compounds``): what ``holds`` checks a later snapshot against.
        self.used: list[tuple[tuple, Word, weakref.ref]] = []
        self.closed_forms: dict[str, bool] = {}
        #: The words scored only at some documents (``LazyWord``), for ``holds`` too.
        self.lazy_used: list[LazyCheck] = []

    # -- clauses -----------------------------------------------------------------------

    def _word_terms(self, w: Word, fields: list[str]) -> tuple[list[tuple[str, float]], dict]:
        """The index terms a word stands for, with their weights (the word and its stems, a
        prefix's words, the corrections of a misspelt word), and the postings of each in each of
        ``fields`` that the index holds (looked up together, one search per segment)."""
        if w.prefix:
            terms = self.snap.expand_prefix(fields[0] if len(fields) == 1 else "all", w.text, self.prefix_limit)
            variants = [(t, 1.0 if t == w.text else 0.9) for t in terms] or [(w.text, 1.0)]
            return variants, self.snap.postings_many([(f, t) for t, _ in variants for f in fields])
        variants = list(query_variants(w.text))
        found = self.snap.postings_many([(f, t) for t, _ in variants for f in fields])
        probe = fields[0]  # "all" when the word is looked for in every text field
        if self.fuzzy and not any((probe, t) in found for t, _ in variants):
            fixes = corrections_for(self.snap, w.text, probe)
            if fixes:
                self.corrected[w.text] = fixes[0]
                more = [(t, wt * FUZZY_WEIGHT) for fix in fixes[:3] for t, wt in query_variants(fix)]
                variants.extend(more)
                found.update(self.snap.postings_many([(f, t) for t, _ in more for f in fields]))
        return variants, found

    def word(self, w: Word, lazy: bool = False) -> Part | LazyWord:
        """Documents and scores of one word; ``lazy``: its scores will be asked for at a few of its
        documents only (a ``LazyWord`` unless its whole result is kept already)."""
        if lazy and not w.prefix:
            part = self._lazy_word(w)
            if part is not None:
                return part
        cached = self._word_result(w)
        return scored(cached.ids, cached.score)

    def _lazy_word(self, w: Word) -> LazyWord | None:
        """A plain word found in the index, not kept whole yet, as a ``LazyWord`` (None otherwise:
        a word with corrections is looked up whole)."""
        if self.snap.words.get(self._word_key(w), self.snap.word_step) is not None:
            return None
        fields = self._fields(w)
        variants = query_variants(w.text)
        postings = self.snap.postings_many([(f, t) for t, _ in variants for f in fields])
        found = [(t, wt) for t, wt in variants if (fields[0], t) in postings]
        if not found:
            return None
        self.matched_words.add(w.text)
        return LazyWord(self, w, fields, found, postings)

    def _settle(self, parts: list) -> list:
        """The clauses of an AND (or a phrase's words) as they will be scored: a word not much more
        frequent than the rarest clause (``LAZY_RATIO``) is taken whole (kept for the next search:
        its whole scoring costs about what the intersection's would), a more frequent one stays a
        ``LazyWord``, scored only in the intersection."""
        smallest = min((part.size for part in parts), default=0)
        out = []
        for part in parts:
            if isinstance(part, LazyWord):
                if part.size <= LAZY_RATIO * smallest:
                    part = self.word(part.w)
                else:
                    self.lazy_used.append(part.check())
            out.append(part)
        return out

    def _intersection(self, parts: list) -> np.ndarray:
        """The live documents every one of ``parts`` matches, from the rarest on."""
        docs = None
        for part in sorted(parts, key=lambda part: part.size):
            docs = self.snap.live_ids(part.matched) if docs is None else part.within(docs)
            if not len(docs):
                break
        return docs

    def _word_key(self, w: Word) -> tuple:
        return ("word", w.text, w.field, w.prefix, self.fuzzy, self.prefix_limit)

    def word_scores(self, w: Word) -> tuple[np.ndarray, np.ndarray]:
        """The documents one word scores (sorted, read-only) and its score in each."""
        cached = self._word_result(w)
        return cached.ids, cached.score

    def _word_result(self, w: Word) -> WordResult:
        """Words recur across different queries far more than whole queries do, so a word's result
        is kept (matching documents and their scores, with the spelling correction it needed),
        across the commits that leave it valid (``engine.WordResults``, ``_still_valid``)."""
        key = self._word_key(w)
        words, step = self.snap.words, self.snap.word_step
        got = words.get(key, step)
        cached = None
        if got is not None:
            cached, since = got
            if since is not None:
                if self._still_valid(w, cached, *since):
                    words.put(key, cached, step, cached.nbytes)
                else:
                    cached = None
        if cached is None:
            ids, score = self._word(w)
            for a in (ids, score):
                a.flags.writeable = False  # shared by every query of this snapshot
            cached = WordResult(ids, score, self.corrected.get(w.text), w.text in self.matched_words,
                                self.snap.doc_count, self._avg_lengths(w))
            words.put(key, cached, step, cached.nbytes)
        if cached.correction is not None:
            self.corrected[w.text] = cached.correction
        if cached.matched:
            self.matched_words.add(w.text)
        self.used.append((key, w, weakref.ref(cached)))
        return cached

    def holds(self, used: list[tuple[tuple, Word, weakref.ref]], closed_forms: dict[str, bool],
              lazy: list[LazyCheck] = ()) -> bool:
        """Whether what an executor of an earlier snapshot of this generation used (its ``used``
        and ``closed_forms``) is as it was in this one: each word result is still the one kept
        (``engine.WordResults``: the same object, valid here by ``_still_valid``) and the same
        adjacent words form closed forms. A query built only of such words then evaluates as it
        did, to the same documents and scores (its documents are unchanged: the per-document
        values a query reads, its filters and facets, are theirs). A word scored lazily (``lazy``)
        holds as long as ``_lazy_still_valid``."""
        if not all(self._lazy_still_valid(check) for check in lazy):
            return False
        words, step = self.snap.words, self.snap.word_step
        for key, w, ref in used:
            got = words.get(key, step)
            if got is None or got[0] is not ref():  # gone from the word cache, or made again
                return False
            result = got[0]
            if got[1] is not None:
                if not self._still_valid(w, result, *got[1]):
                    return False
                words.put(key, result, step, result.nbytes)
        return all(self.snap.has_term("all", joined) == held for joined, held in closed_forms.items())

    def _lazy_still_valid(self, c: LazyCheck) -> bool:
        """Whether a lazily scored word (``LazyWord.check``) scores as it did: N and its fields'
        average lengths as they were, no segment added since holds it, and each variant's live
        document frequency unchanged (a deleted document that held it lowers it)."""
        w = c.word
        if self.snap.doc_count != c.doc_count or self._avg_lengths(w) != c.avg_lengths:
            return False
        if self._held_in(w, [leaf for leaf in self.snap.leaves if leaf.segid not in c.segids]):
            return False
        field = self._fields(w)[0]
        postings = self.snap.postings_many([(field, t) for t, _ in c.dfs])
        return all((field, t) in postings and self.snap.live_count(postings[field, t][0]) == df for t, df in c.dfs)

    def _fields(self, w: Word) -> list[str]:
        return [w.field] if w.field else list(TEXT_FIELDS)

    def _avg_lengths(self, w: Word) -> tuple[float, ...]:
        return tuple(self.snap.avg_length(f) for f in self._fields(w))

    def _still_valid(self, w: Word, result: WordResult, segids: frozenset, deleted: np.ndarray) -> bool:
        """Whether a word's result from an earlier snapshot holds in this one, which added the
        segments ``segids`` and deleted the documents ``deleted`` since: none of the word's documents
        was deleted, the new segments do not hold the word, and N and its fields' average lengths are
        as they were. A plain word only: a prefix's words, a correction and a word that matched
        nothing depend on every word of the index (a new segment may hold what they missed)."""
        if w.prefix or result.correction is not None or not result.matched:
            return False
        if result.doc_count != self.snap.doc_count or result.avg_lengths != self._avg_lengths(w):
            return False
        if len(deleted) and contains(result.ids, deleted).any():
            return False
        return not self._held_in(w, [leaf for leaf in self.snap.leaves if leaf.segid in segids])

    def _held_in(self, w: Word, leaves: list) -> bool:
        """Whether any of ``leaves`` (segments added since a result) holds a variant of ``w`` in the
        field it matches in."""
        keys = _word_keys(w.text, (self._fields(w)[0],))
        return any(next(leaf.store.found(keys), None) is not None for leaf in leaves)

    def _word(self, w: Word) -> tuple[np.ndarray, np.ndarray]:
        """BM25F: a term's frequencies in the title, author and subject fields and in the rest
        of the record are weighted (TEXT_FIELDS), each normalised by its field's length, summed,
        and only then saturated, once; "all" repeats every other field, so only what it holds
        beyond them counts as "the rest". A word scores as its best variant (word, stems,
        corrections), each with its own weight. Returns the matching documents and their scores.

        A plain word found in the index is gathered segment by segment (``_segment_words``: what
        each segment holds of it survives commits); a prefix and a misspelt word (whose terms
        depend on the whole index's words) are looked up over the snapshot."""
        fields = self._fields(w)
        if not w.prefix:
            variants = query_variants(w.text)
            pieces = self._segment_words(w, variants, fields)
            if not self.fuzzy or any(piece.variants for piece in pieces):
                return self._score_segment_words(w, variants, pieces)
        return self._word_over_snapshot(w, fields)

    def _word_over_snapshot(self, w: Word, fields: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``_word`` with the word's terms looked up over the whole snapshot at once."""
        match_field = fields[0]
        variants, postings = self._word_terms(w, fields)
        found = [(term, wt, *postings[match_field, term]) for term, wt in variants if (match_field, term) in postings]
        if not found:
            return EMPTY_IDS, np.zeros(0, dtype=np.float32)
        self.matched_words.add(w.text)
        ids = np.concatenate([ids for _, _, ids, _ in found]) if len(found) > 1 else found[0][2]
        if w.field:
            pseudo = np.concatenate([tf for _, _, _, tf in found]) / self.snap.length_norm(match_field, ids)
        else:
            pseudo = pseudo_frequencies(found, postings, self.snap.length_norm, split=False)
        # each variant's weight and idf, then every variant's scores at once (a prefix's dozens of words)
        factor = np.array([self._variant_factor(wt, self.snap.live_count(vids)) for _, wt, vids, _ in found],
                          dtype=pseudo.dtype)  # as the weight would multiply each variant's own array
        scores = (np.repeat(factor, [len(vids) for _, _, vids, _ in found]) * saturate(pseudo)).astype(np.float32)
        return (ids, scores) if len(found) == 1 else best_of(ids, scores)

    def _variant_score(self, weight: float, df: int, pseudo: np.ndarray) -> np.ndarray:
        return (self._variant_factor(weight, df) * saturate(pseudo)).astype(np.float32)

    def _variant_factor(self, weight: float, df: int) -> float:
        """What a variant's saturated pseudo-frequencies are multiplied by: its weight and idf."""
        return weight * self.snap.idf(df)

    def _segment_words(self, w: Word, variants, fields: list[str]) -> list[SegmentWord]:
        """What each segment holds of a plain word (``SegmentWord``), kept per segment: a commit
        (the desk's changes, one small segment) leaves the other segments' parts valid as long as
        the average field lengths stay as they were (a record re-indexed with the same text)."""
        match_field = fields[0]
        avg = tuple(self.snap.avg_length(f) for f in fields)
        key = (w.text, w.field, avg)
        keys = _word_keys(w.text, tuple(fields))
        out = []
        for leaf, cache, may in zip(self.snap.leaves, self.snap.leaf_word_parts(), self.snap.may_hold(keys), strict=True):
            if not may:
                out.append(NOTHING)
                continue
            piece = cache.get(key)
            if piece is None:
                postings = {keys.pairs[i]: g for i, g in leaf.store.found(keys)}
                found = [(i, term, wt, *postings[match_field, term]) for i, (term, wt) in enumerate(variants)
                         if (match_field, term) in postings]

                def norm(field, ids, leaf=leaf):
                    return length_norm(self.snap.leaf_lengths(leaf, field)[ids], self.snap.avg_length(field))

                if not found:
                    pseudos = []
                elif w.field:
                    pseudos = [tf / norm(match_field, ids) for _, _, _, ids, tf in found]
                else:
                    pseudos = pseudo_frequencies([f[1:] for f in found], postings, norm)
                piece = SegmentWord(tuple(f[0] for f in found), tuple(f[3] for f in found), tuple(pseudos))
                cache.put(key, piece, piece.nbytes)
            out.append(piece)
        return out

    def _score_segment_words(self, w: Word, variants, pieces: list[SegmentWord]) -> tuple[np.ndarray, np.ndarray]:
        """The word's documents and scores from its segments' parts: each variant's document
        frequency over the live documents of every segment, then its scores (as ``_word``)."""
        ids_of: dict[int, list] = {}
        pseudo_of: dict[int, list] = {}
        df_of: dict[int, int] = {}
        for leaf, piece in zip(self.snap.leaves, pieces, strict=True):
            for v, ids, pseudo in zip(piece.variants, piece.ids, piece.pseudo, strict=True):
                ids_of.setdefault(v, []).append(ids + leaf.offset if leaf.offset else ids)
                pseudo_of.setdefault(v, []).append(pseudo)
                live = len(ids) if leaf.live is None else int(np.count_nonzero(leaf.live[ids]))
                df_of[v] = df_of.get(v, 0) + live
        if not ids_of:
            return EMPTY_IDS, np.zeros(0, dtype=np.float32)
        self.matched_words.add(w.text)
        order = sorted(ids_of)
        joined = [ids_of[v][0] if len(ids_of[v]) == 1 else np.concatenate(ids_of[v]) for v in order]
        scores = [self._variant_score(variants[v][1], df_of[v],
                                      pseudo_of[v][0] if len(pseudo_of[v]) == 1 else np.concatenate(pseudo_of[v]))
                  for v in order]
        return best_variant(joined, scores)

    def phrase(self, p: Phrase) -> Part:
        # Candidates: documents with every word; then the indexed word pairs (and title positions).
        lazy = len(p.words) >= 2  # the words score only where the phrase is
        words = [self.word(Word(text=text, field=p.field if p.field != "all" else None), lazy=lazy) for text in p.words]
        words = self._settle(words) if lazy else words
        found = self._intersection(words) if p.words else self.snap.all_live_ids()
        factor = None
        if len(found) and len(p.words) >= 2:
            field = p.field if p.field in ("all", "title") else "all"
            found = self.snap.phrase_docs(field, list(p.words), self.snap.live_ids(found))
            factor = 1.2

        def at(docs):
            score = np.zeros(len(docs), dtype=np.float32)
            for part in words:  # the words score where they occur, phrase or not
                score += part.at(docs)[1]
            return contains(found, docs), score if factor is None else score * factor

        return Part(found, at)

    def exact(self, e: Exact) -> Part:
        values = list(e.values)
        if e.prefix:
            expanded = []
            for v in e.values:
                expanded.append(v)
                expanded.extend(self._values_with_prefix(e.field, v))
            values = expanded
        ids = union([self.snap.postings(e.field, v)[0] for v in values])
        return scored(ids, np.full(len(ids), EXACT_VALUE_SCORE, dtype=np.float32))

    def _values_with_prefix(self, field_name: str, prefix: str) -> list[str]:
        return self.snap.expand_prefix(field_name, prefix, self.prefix_limit)

    def year(self, r: YearRange) -> Part:
        ids = self.snap.year_ids(r.lo, r.hi)
        return scored(ids, np.zeros(len(ids), dtype=np.float32))

    def any_of(self, a: AnyOf) -> Part:
        parts = [self.clause(c) for c in a.clauses]

        def at(docs):
            match = np.zeros(len(docs), dtype=bool)
            score = np.zeros(len(docs), dtype=np.float32)
            for part in parts:
                m, s = part.at(docs)
                match |= m
                score = np.maximum(score, s)
            return match, score

        return Part(union([p.matched for p in parts]), at)

    def compound(self, c: Compound) -> Part:
        first, second, joined = self.word(c.first), self.word(c.second), self.word(c.joined)

        def at(docs):
            m1, s1 = first.at(docs)
            m2, s2 = second.at(docs)
            mj, sj = joined.at(docs)
            both = m1 & m2
            # the closed form stands for both words
            return both | mj, np.maximum(np.where(both, s1 + s2, 0.0), 2.0 * sj).astype(np.float32)

        return Part(union([intersect(first.matched, second.matched), joined.matched]), at)

    def _compounds(self, clauses: list[Clause]) -> list[Clause]:
        """Adjacent plain words whose closed form is an indexed word become a Compound."""

        def plain(c):
            return (isinstance(c, Word) and not c.negated and c.field is None and not c.prefix and not c.optional
                    and c.text.isalpha())

        out, i = [], 0
        while i < len(clauses):
            a = clauses[i]
            b = clauses[i + 1] if i + 1 < len(clauses) else None
            if b is not None and plain(a) and plain(b) and len(a.text + b.text) >= 5:
                joined = a.text + b.text
                held = self.closed_forms[joined] = self.snap.has_term("all", joined)
                if held:
                    out.append(Compound(first=a, second=b))
                    i += 2
                    continue
            out.append(a)
            i += 1
        return out

    def clause(self, c: Clause, lazy: bool = False) -> Part | LazyWord:
        """A clause's Part; ``lazy``: its scores will be asked for only where other clauses match too."""
        if isinstance(c, Word):
            return self.word(c, lazy=lazy)
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
        """Matching documents and scores of a parsed query; ``any_words`` relaxes AND to 'most words'."""
        if pq.is_empty:
            docs = self.snap.all_live_ids()
            return Evaluation(docs, np.zeros(len(docs), dtype=np.float32), self.N)
        required, optional, negated = [], [], []
        for c in pq.clauses:
            if c.negated:
                negated.append(c)
            elif isinstance(c, Word) and c.optional:
                optional.append(c)
            else:
                required.append(c)
        required = self._compounds(required)
        scoring = []  # the parts whose scores add up, in order
        if required and any_words:
            scoring = [self.clause(c) for c in required]
            docs = union([p.matched for p in scoring])
        elif required:
            # with several clauses, a word not kept yet is scored only in the intersection (``LazyWord``)
            several = len(required) >= 2
            scoring = [self.clause(c, lazy=several) for c in required]
            docs = self._intersection(self._settle(scoring) if several else scoring)
        optional_parts = [self.clause(c) for c in optional]
        if not required:
            docs = union([p.matched for p in optional_parts])
        score = np.zeros(len(docs), dtype=np.float32)
        hits = np.zeros(len(docs), dtype=np.int16)
        for part in scoring:
            m, s = part.at(docs)
            hits += m
            score += s
        if any_words:
            # more matched words first: coverage dominates the score
            score += hits.astype(np.float32) * 100.0
        for part in optional_parts:
            score += part.at(docs)[1]
        for c in negated:
            keep = ~contains(self.clause(c.__class__(**{**c.__dict__, "negated": False})).matched, docs)
            docs, score = docs[keep], score[keep]
        keep = self.snap.live_of(docs)
        if not keep.all():
            docs, score = docs[keep], score[keep]
        self._phrase_bonus(pq, docs, score)
        self._known_item_boost(pq, docs, score)
        self._prefer_versions(pq, docs, score)
        return Evaluation(docs, score, self.N, corrected=dict(self.corrected),
                          matched_words=set(self.matched_words), fallback=any_words)

    def _phrase_bonus(self, pq: ParsedQuery, docs: np.ndarray, score: np.ndarray) -> None:
        """Documents where the query's words stand together in a heading (title, series, subject
        heading part, a name heading in reading order) are about that: their score grows with the
        share of the query's word pairs found there, over words scattered across notes."""
        seq = [c.text for c in pq.clauses if isinstance(c, Word) and not c.negated and c.field is None
               and not c.prefix]
        pairs = shingles(seq)
        if not pairs or not len(docs):
            return
        at, count = [], []
        held = self.snap.postings_many([("headings", pair) for pair in dict.fromkeys(pairs)])  # one look-up
        for (_, pair), (ids, _) in held.items():  # where the pair's documents are in docs, not a pass over docs
            at.append(found_at(docs, ids))
            count.append(np.full(len(at[-1]), pairs.count(pair), dtype=np.float32))
        if not at:
            return
        hit, which = np.unique(np.concatenate(at), return_inverse=True)
        if len(hit):
            found = np.bincount(which, weights=np.concatenate(count)).astype(np.float32)
            score[hit] *= 1.0 + PHRASE_BOOST * found / len(pairs)

    def _prefer_versions(self, pq: ParsedQuery, docs: np.ndarray, score: np.ndarray) -> None:
        """Among the best matches, records of one work (same normalised title) are reordered in
        the places they hold: the version patrons want first (text before audiovisual unless the
        query asks for a film, then more copies), so the novel comes before its film and the
        edition the library holds most copies of before a single old one."""
        if pq.whole_isbn is not None:
            return  # an ISBN names one edition
        if len(docs) < 2:
            return
        window = np.arange(len(docs))  # positions in docs
        if len(docs) > VERSIONS_WINDOW:
            window = np.argpartition(-score, VERSIONS_WINDOW - 1)[:VERSIONS_WINDOW]
        ids = docs[window]
        keys = self.snap.column_at("title_key", ids)
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        groups = np.flatnonzero((counts > 1) & (uniq != 0))
        if not len(groups):
            return
        av = np.zeros(len(ids), dtype=bool)
        if not AV_WORDS.intersection(pq.plain_words):
            av = contains(self.snap.postings("f_type", "audiovisual")[0], ids)
        holdings, years = self.snap.column_at("holdings", ids), self.snap.column_at("year", ids)
        for g in groups.tolist():
            members = np.flatnonzero(inverse == g)  # positions in the window
            at = window[members]
            # the places the versions hold, best first; equal scores (same title, same fields) are
            # separated a little so that the preferred order survives the tie-breaks of sorting
            slots = np.sort(score[at])[::-1] - np.arange(len(members), dtype=np.float32) * 1e-3
            # then as results are ordered anyway: score, newest, document
            preferred = sorted(members.tolist(),
                               key=lambda i: (av[i], -holdings[i], -score[window[i]], -years[i], ids[i]))
            score[window[preferred]] = slots

    def _known_item_boost(self, pq: ParsedQuery, docs: np.ndarray, score: np.ndarray) -> None:
        phrase = normalize_phrase(" ".join(pq.plain_words))
        if not phrase or not len(docs):
            return
        h = hash64(phrase)
        # most queries are no title and no call number: nothing looked for in docs then
        held = [ids for ids in (self.snap.docs_with_key("title_key", h), self.snap.docs_with_key("full_title_key", h))
                if len(ids)]
        if held:
            exact = found_at(docs, held[0]) if len(held) == 1 else union([found_at(docs, ids) for ids in held])
            score[exact] += EXACT_TITLE_BOOST
        shelved = self.snap.postings("callnumber", phrase)[0]
        if len(shelved):
            score[found_at(docs, shelved)] += EXACT_TITLE_BOOST


def found_at(docs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Where those of ``ids`` (any order, no repeats) that are among ``docs`` (sorted) stand in
    ``docs``: a few looked-up documents cost a few searches, not a pass over every match.

    >>> found_at(np.array([2, 5, 9]), np.array([9, 4, 2])).tolist()
    [2, 0]
    """
    at = positions(docs, ids)
    return at[at >= 0]


def filter_mask(snap, filters: dict[str, list[str]]) -> np.ndarray | None:
    """AND across facets, OR within one: ``{"f_type": ["book"], "f_lang": ["ind", "eng"]}``."""
    result = None
    for fname, values in filters.items():
        m = np.zeros(snap.N, dtype=bool)
        for v in values:
            m |= snap.term_mask(fname, v)
        result = m if result is None else (result & m)
    return result
