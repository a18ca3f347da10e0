"""Search services: the per-process index handle, search, suggestions and more-like-this.

Searchers stay open and are refreshed when the index changes; results are cached per index
generation, so a commit invalidates them without any coordination between workers.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np
from flask import current_app
from markupsafe import Markup, escape

from . import index as idx
from .analysis import STOP_WORDS, WORD_RE, fold, stem_en, stem_id, words
from .documents import LOCAL
from .engine import Engine, Snapshot, WordResults
from .executor import Executor, filter_mask
from .facets import year_mask
from .interface import FacetValue, Hit, SearchBackend, SearchParams, SearchResult, SearchUnavailable
from .query import ParsedQuery, Word, parse
from .spelling import did_you_mean
from .vocabulary import FACET, FACET_FIELDS, YEAR_RANGES, year_range_key

#: A file system stamps modification times from a coarse clock (a tick of up to 10 ms behind the
#: precise one); one whose times are whole seconds is trusted only after two seconds.
MTIME_TRUST_NS = 100_000_000


def _trust_after(mtime_ns: int) -> int:
    """Nanoseconds a look must come after a directory's modification time ``mtime_ns`` before an
    unchanged time is trusted.

    >>> _trust_after(1_700_000_000_123_456_789), _trust_after(1_700_000_000_000_000_000)
    (100000000, 2000000000)
    """
    return 2_000_000_000 if mtime_ns % 1_000_000_000 == 0 else MTIME_TRUST_NS


class SearchIndex:
    """One per process: the open index, its current snapshot and the result cache."""

    def __init__(self, index_dir: str, cache_mb: int = 96, result_cache: int = 512, prefix_limit: int = 64):
        self.index_dir = index_dir
        self._current = str(idx.current_path(index_dir))  # read with every search: made once
        self.engine = Engine(cache_mb)
        self.prefix_limit = prefix_limit
        self._ix = None
        self._target = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.RLock()
        self._results: OrderedDict = OrderedDict()
        self._result_cache_size = result_cache
        self._words = WordResults(self.engine.word_cache_bytes)
        #: The index directory's modification time when a newer generation was last looked for, and when.
        self._dir_mtime: int | None = None
        self._looked_ns = 0

    def _target_now(self) -> str | None:
        try:
            return os.readlink(self._current)
        except OSError:
            return None

    def snapshot(self) -> Snapshot:
        with self._lock:
            target = self._target_now()
            if self._ix is None or target != self._target:
                try:
                    self._ix = idx.open_index(self.index_dir)
                except idx.IndexProblem as exc:
                    raise SearchUnavailable(str(exc)) from exc
                self._target = target
                self._dir_mtime = None
                self._set_searcher(self._ix.searcher())
            elif not self._unchanged_on_disk() and not self._snapshot.searcher.up_to_date():
                # the segments that did not change keep their open readers (and cached arrays)
                self._set_searcher(idx.open_searcher(self._ix, self._snapshot.searcher), closed_old=True,
                                   follows=True)
            return self._snapshot

    def _unchanged_on_disk(self) -> bool:
        """Whether the index directory is as it was when a newer generation was last looked for (that
        look lists the directory and matches every name; this is one ``stat``). A commit adds files
        (its table of contents), which changes the directory's modification time. An unchanged time is
        trusted once the look was made a clock tick after it (``MTIME_TRUST_NS``): a commit after the
        look then gets a later time. The follower commits every second or two while the desk works, so
        trusting only times seconds old had every search list the directory all day."""
        try:
            mtime = os.stat(self._ix.storage.folder).st_mtime_ns
        except OSError:
            return False
        if mtime == self._dir_mtime and self._looked_ns - mtime > _trust_after(mtime):
            return True
        self._dir_mtime = mtime
        self._looked_ns = time.time_ns()  # taken before the look: a commit during it changes the time again
        return False

    def _set_searcher(self, searcher, closed_old: bool = False, follows: bool = False) -> None:
        """Serve ``searcher`` from now on; ``follows``: a later commit of the same generation (the new
        snapshot takes over the word results the commit left valid: ``engine.WordResults``)."""
        old = self._snapshot
        self._snapshot = Snapshot(self.engine, searcher, self._words, previous=old if follows else None)
        if old is not None and not closed_old:
            try:
                old.searcher.close()
            except Exception:  # noqa: BLE001, S110 - an already closed reader is fine
                pass
        self.engine.forget_unused({leaf.segid for leaf in self._snapshot.leaves})
        if not follows:
            self._results.clear()  # a new generation: nothing holds (a commit's successor: see carried)

    @property
    def version(self) -> tuple:
        s = self.snapshot()
        return (self._target, s.generation)

    def cached(self, key, snap: Snapshot, compute):
        """A value ``compute()`` makes from ``snap``, kept while ``snap`` is current."""
        return self.carried(key, snap, lambda: (compute(), None))

    def carried(self, key, snap: Snapshot, compute):
        """A value kept across the commits of one generation that leave it as it was: ``compute()``
        gives (value, holds), ``holds(snapshot)`` says whether the value is still exact in a later
        snapshot (None: only in the one it was computed in). A desk's commit every second or two
        would otherwise empty the cache of searches every second or two."""
        step = snap.word_step
        with self._lock:
            entry = self._results.get(key)
            if entry is not None:
                self._results.move_to_end(key)
        if entry is not None:
            value, at, holds = entry
            if at == step:
                return value
            if holds is not None and at < step and holds(snap):
                self._keep(key, (value, step, holds))
                return value
        value, holds = compute()
        self._keep(key, (value, step, holds))
        return value

    def _keep(self, key, entry) -> None:
        with self._lock:
            self._results[key] = entry
            while len(self._results) > self._result_cache_size:
                self._results.popitem(last=False)

    def close(self):
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.searcher.close()
            self._snapshot = None
            self._ix = None


def get_index() -> SearchIndex:
    app = current_app._get_current_object()
    si = app.extensions.get("opac_search")
    if si is None:
        si = app.extensions["opac_search"] = SearchIndex(
            app.config["INDEX_DIR"], app.config["SEARCH_POSTINGS_CACHE_MB"],
            app.config["SEARCH_RESULT_CACHE_SIZE"], app.config["SEARCH_PREFIX_MAX_TERMS"],
        )
    return si


# ----------------------------------------------------------------------------- search


def _order(snap: Snapshot, ids: np.ndarray, sc: np.ndarray, sort: str, k: int) -> np.ndarray:
    """Where the first ``k`` of ``ids`` (scores ``sc``) are in ``ids``, in the requested order (ties:
    score, then newest, then id)."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    at = None
    year = snap.column("year")[ids]
    keys: list[np.ndarray] = []
    if sort == "relevance":
        primary = -sc
    elif sort == "newest":
        primary = np.where(year > 0, -year, 1).astype(np.float64)
    elif sort == "oldest":
        primary = np.where(year > 0, year, 10_000).astype(np.float64)
    else:
        name = "sort_title" if sort == "title" else "sort_author"
        primary = snap.column(name)[ids]
        keys = [snap.column(name + "2")[ids]]
    if len(ids) > 4 * k and not keys:
        part = np.argpartition(primary, k - 1)[:k]
        cutoff = primary[part].max()
        at = np.flatnonzero(primary <= cutoff)  # keep ties at the boundary for a stable order
        ids, year, sc, primary = ids[at], year[at], sc[at], primary[at]
    order = np.lexsort((ids, -year, -sc, *keys, primary))[:k]
    return order if at is None else at[order]


def _highlighter(pq: ParsedQuery, corrected: dict[str, str]):
    """Marks the words of a hit that the query matched. Cheap on purpose (it runs for every hit):
    stems are compared by containment (``ajar`` in ``pembelajaran``, ``librari`` starts
    ``libraries``) instead of stemming every word of every title."""
    forms, id_stems, en_stems, prefixes = set(), set(), set(), []
    for w in pq.positive_words():
        if w.prefix:
            prefixes.append(w.text)
            continue
        for t in (w.text, corrected.get(w.text)):
            if not t or t in STOP_WORDS:
                continue
            forms.add(t)
            si, se = stem_id(t), stem_en(t)
            if len(si) >= 4:
                id_stems.add(si)
            if len(se) >= 4:
                en_stems.add(se)
    for c in pq.clauses:
        if hasattr(c, "words") and not c.negated:
            forms.update(c.words)

    memo: dict[str, bool] = {}
    # A word can only match if one of these occurs in the folded text: most authors and many
    # titles of a result page are then escaped without looking at each word. (Substring tests:
    # compiling them into one pattern cost more than the page's tests, queries being new.)
    needles = tuple(n for n in forms | id_stems | en_stems | set(prefixes) if n)
    starts = tuple(en_stems) + tuple(prefixes)

    def matches(word: str) -> bool:
        """Whether a word of a text (as written) is one the query matched (remembered)."""
        w = fold(word)
        hit = memo[word] = w in forms or any(s in w for s in id_stems) or w.startswith(starts)
        return hit

    def mark(text: str | None) -> Markup:
        if not text:
            return Markup("")
        if not (forms or prefixes):
            return escape(text)
        folded = fold(text)
        if text.isascii():  # folded letter for letter: only the words around the needles found
            spans = needle_words(folded, needles)
        else:
            for n in needles:
                if n in folded:
                    break
            else:
                return escape(text)
            spans = [m.span() for m in WORD_RE.finditer(text)]
        parts, last = [], 0
        for start, end in spans:
            word = text[start:end]
            hit = memo.get(word)
            if hit is None:
                hit = matches(word)
            if hit:
                parts.append(html.escape(text[last:start]))
                parts.append("<mark>" + html.escape(word) + "</mark>")
                last = end
        if not parts:
            return escape(text)
        parts.append(html.escape(text[last:]))
        return Markup("".join(parts))  # noqa: S704 - every piece escaped above

    return mark


def needle_words(text: str, needles: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of each word of an ASCII ``text`` (a run of letters and digits: ``WORD_RE``) that
    contains one of ``needles`` (non-empty), in order: found by searching for the needles, not by
    walking every word of the text.

    >>> needle_words("the history of java, javanese history", ("histor", "java"))
    [(4, 11), (15, 19), (21, 29), (30, 37)]
    """
    spans = set()
    n = len(text)
    for needle in needles:
        i = text.find(needle)
        while i >= 0:
            start, end = i, i + len(needle)
            while start and text[start - 1].isalnum():
                start -= 1
            while end < n and text[end].isalnum():
                end += 1
            if text[start:end].isalnum():  # the needle within one word: on after the word
                spans.add((start, end))
                i = text.find(needle, end)
            else:
                i = text.find(needle, i + 1)
    return sorted(spans)


def _year_counts(years: np.ndarray) -> list[int]:
    """How many of ``years`` (all > 0) fall in each of YEAR_RANGES (which may overlap)."""
    if not len(years):
        return [0] * len(YEAR_RANGES)
    top = 3000  # later years (typos) count only in open-ended ranges
    upto = np.concatenate([[0], np.cumsum(np.bincount(np.minimum(years, top), minlength=top + 1))])  # upto[y]: < y
    out = []
    for lo, hi in YEAR_RANGES:
        a = 0 if lo is None else int(upto[min(lo, top + 1)])
        b = len(years) if hi is None else int(upto[min(hi, top - 1) + 1])
        out.append(max(0, b - a))
    return out


#: The URL values of YEAR_RANGES, in order.
_YEAR_KEYS = tuple(year_range_key(rng) for rng in YEAR_RANGES)


def _facets(snap: Snapshot, mask: np.ndarray, ids: np.ndarray, params: SearchParams,
            uncollapsed: np.ndarray) -> tuple[dict, int]:
    """Facet counts of the results (``mask``, ``ids``: the same as a mask and as indices); the Library
    facet counts before partners' copies of a book are folded into one result, so that each
    library's count is what choosing it would show."""
    selected = dict(params.filters)
    out: dict[str, list[FacetValue]] = {}
    total = len(ids)
    docs = ids if total * 2 <= snap.doc_count else None
    limits = {fname: FACET[name].limit for name, fname in FACET_FIELDS.items()}
    found = {}
    if uncollapsed is not mask:  # the Library facet counts before the folding
        library, n = FACET_FIELDS["library"], int(uncollapsed.sum())
        found = snap.count_facets({library: limits.pop(library)}, uncollapsed, n,
                                  np.flatnonzero(uncollapsed) if n * 2 <= snap.doc_count else None)
    found.update(snap.count_facets(limits, mask, total, docs))
    for name, fname in FACET_FIELDS.items():
        counts = found[fname]
        chosen = set(selected.get(name, ()))
        values = [FacetValue(v, c, v in chosen) for v, c in counts]
        present = {v.value for v in values}
        values += [FacetValue(v, 0, True) for v in chosen if v not in present]
        out[name] = values
    years = snap.column("year")[ids]
    years = years[years > 0]
    yv = []
    for key, c in zip(_YEAR_KEYS, _year_counts(years), strict=True):
        if c or params.year == key:
            yv.append(FacetValue(key, c, params.year == key))
    out["year"] = yv
    available = snap.count_holding("f_avail", "1", ids, mask)
    return out, available


def _local_mask(snap: Snapshot) -> np.ndarray:
    """Documents of our own records (the rest are partners'): a read-only mask the snapshot keeps
    (``Snapshot.term_mask`` keeps the masks of terms many documents hold)."""
    return snap.term_mask("f_library", LOCAL)


def _only_local(snap: Snapshot) -> bool:
    """Whether every live document is one of our own records (no partner records)."""
    return snap.cached(("services", "only-local"), lambda: int((_local_mask(snap) & snap.live).sum()) == snap.doc_count)


def _collapse(snap: Snapshot, mask: np.ndarray, local: np.ndarray) -> np.ndarray:
    """One result per book held by several libraries: a partner's record is dropped when a record of
    the same book (``dup_key``) comes before it (ours first, then by document number). Our own
    records are never dropped (two of ours with one ISBN are two volumes, not two libraries)."""
    keys = snap.column("dup_key")
    ids = np.flatnonzero(mask & (keys != 0))
    if len(ids) < 2:
        return mask
    k, loc = keys[ids], local[ids]
    order = np.lexsort((ids, ~loc, k))
    ks = k[order]
    first = np.ones(len(ks), dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    drop = ids[order][~first & ~loc[order]]
    if not len(drop):
        return mask
    out = mask.copy()
    out[drop] = False
    return out


def _held_by(snap: Snapshot, d: int, data: dict, local: np.ndarray | None) -> list[str]:
    """The libraries holding hit ``d``'s book: its own first, then the others (ours before partners)."""
    own = data.get("library") or LOCAL
    key = int(snap.column("dup_key")[d]) if local is not None else 0
    if not key:
        return [own]
    same = snap.docs_with_key("dup_key", key)  # binary search in the sorted key column, not a scan per hit
    others = same[snap.live[same]][:50]  # a bogus ISBN shared by many: enough
    holders = [LOCAL if local[o] else snap.hit(int(o)).get("library") for o in others if o != d]
    return list(dict.fromkeys([own, *sorted(holders, key=lambda h: (h != LOCAL, h))]))


def _filters_mask(snap: Snapshot, params: SearchParams) -> np.ndarray | None:
    """The documents that pass the facet filters, the year range and "available now"; None when
    nothing is filtered."""
    if not (params.filters or params.year or params.available):
        return None
    extra = np.ones(snap.N, dtype=bool)
    base_filter = filter_mask(snap, {FACET_FIELDS[k]: list(v) for k, v in params.filters})
    if base_filter is not None:
        extra &= base_filter
    if params.year:
        from .vocabulary import parse_year_range

        rng = parse_year_range(params.year)
        if rng:
            extra &= year_mask(snap.column("year"), *rng)
    if params.available:
        extra &= snap.term_mask("f_avail", "1")
    return extra


def _passing(ev, extra: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The matches of an evaluation that pass the filters (``extra``; None: all of them), as a mask
    over all documents and as sorted document numbers (without a filter, the evaluation's own: no
    pass over every document)."""
    if extra is None:
        return ev.mask, ev.ids
    mask = ev.mask & extra
    return mask, np.flatnonzero(mask)


def _run(si: SearchIndex, snap: Snapshot, params: SearchParams):
    """The result of a search on ``snap``, and how to tell whether it holds in a later snapshot
    (``SearchIndex.carried``; None: it may not)."""
    pq = parse(params.q, current_app.config["SEARCH_MAX_QUERY_LENGTH"])
    if pq.is_empty and params.q.strip():
        # Only punctuation, operators or symbols: nothing to search for; say so instead of guessing.
        return SearchResult(query=params.q, total=0, page=params.page, size=params.size, hits=[],
                            messages=list(pq.messages) + ["no_terms"], sort=params.sort), None
    ex = Executor(snap, si.prefix_limit)
    ev = ex.evaluate(pq)
    extra = _filters_mask(snap, params)
    local = _local_mask(snap)
    if not current_app.config["UNION_SEARCH"]:
        extra = local if extra is None else extra & local
        local = None  # nothing to fold, nobody else to name
    elif _only_local(snap):
        local = None  # no partner records
    mask, ids = _passing(ev, extra)
    uncollapsed = mask
    if local is not None:
        mask = _collapse(snap, mask, local)
        ids = np.flatnonzero(mask)
    total = len(ids)
    fallback = False
    required = [c for c in pq.clauses if not c.negated and not (isinstance(c, Word) and c.optional)]
    if total == 0 and len(required) >= 2:
        ev2 = Executor(snap, si.prefix_limit).evaluate(pq, any_words=True)
        m2, ids2 = _passing(ev2, extra)
        if len(ids2):
            uncollapsed = m2
            if local is not None:
                m2 = _collapse(snap, m2, local)
                ids2 = np.flatnonzero(m2)
            ev, mask, ids, total, fallback = ev2, m2, ids2, len(ids2), True
    start = (params.page - 1) * params.size
    scores = ev.scores_of(ids)
    ordered = _order(snap, ids, scores, params.sort, start + params.size)[start:]
    mark = _highlighter(pq, ev.corrected)
    hits = []
    for d, sc in zip(ids[ordered].tolist(), scores[ordered].tolist(), strict=True):
        data = snap.hit(d)
        hl = {"title": mark(data.get("title")), "subtitle": mark(data.get("subtitle")),
              "authors": [mark(a) for a in data.get("authors", [])[:4]]}
        hits.append(Hit(d, sc, data, hl, _held_by(snap, d, data, local)))
    result = SearchResult(query=params.q, total=total, page=params.page, size=params.size, hits=hits,
                          corrected=ev.corrected, fallback=fallback, messages=list(pq.messages), sort=params.sort)
    if params.facets:
        result.facets, result.available_count = _facets(snap, mask, ids, params, uncollapsed)
    if pq.plain_words and (total < 3 or fallback or ev.corrected):
        fixed = did_you_mean(snap, pq.plain_words)
        if fixed and " ".join(fixed) != " ".join(pq.plain_words):
            result.did_you_mean = " ".join(fixed)
    return result, _holds(si, pq, ex, result, local)


def _holds(si: SearchIndex, pq: ParsedQuery, ex: Executor, result: SearchResult, local):
    """How to tell whether ``result`` holds in a later snapshot of the generation: when the query
    is only of plain words (no prefix, phrase, field value or year) that matched without
    corrections, all of them, and needed no spelling suggestion nor partners' records, it does as
    long as its words' results do (``Executor.holds``): its documents are then unchanged, and with
    them everything the result shows of them (the desk's change to another book leaves it as it
    was). None otherwise."""
    if (pq.is_empty or result.fallback or result.corrected or result.did_you_mean is not None
            or local is not None or result.total < 3
            or not all(isinstance(c, Word) and not c.prefix for c in pq.clauses)):
        return None
    used, closed_forms, lazy = list(ex.used), dict(ex.closed_forms), list(ex.lazy_used)
    union = current_app.config["UNION_SEARCH"]

    def holds(later: Snapshot) -> bool:
        if union and not _only_local(later):
            return False  # partners' records arrived: results fold them
        return Executor(later, si.prefix_limit).holds(used, closed_forms, lazy)

    return holds


def search(params: SearchParams) -> SearchResult:
    """Run a search (its result kept while the commits leave it as it was: ``SearchIndex.carried``);
    raises SearchUnavailable without an index."""
    si = get_index()
    snap = si.snapshot()
    return si.carried(("search", params), snap, lambda: _run(si, snap, params))


def matching_record_ids(params: SearchParams, added_from_day: int) -> set[int]:
    """Ids of our own records matching ``params`` (all its words, no fallback) that were added to the
    catalogue on or after ``added_from_day`` (days since 1970): what a saved search's alert looks for."""
    si = get_index()
    snap = si.snapshot()
    pq = parse(params.q, current_app.config["SEARCH_MAX_QUERY_LENGTH"])
    if pq.is_empty and params.q.strip():
        return set()
    mask = _passing(Executor(snap, si.prefix_limit).evaluate(pq), _filters_mask(snap, params))[0] & _local_mask(snap)
    mask &= snap.column("added") >= added_from_day
    return {int(snap.hit(d)["id"]) for d in np.flatnonzero(mask)}


# ----------------------------------------------------------------------------- suggest


def suggest(q: str, limit: int = 8) -> list[dict]:
    """Titles, authors and subjects completing what the patron is typing."""
    q = (q or "")[:100]
    ws = words(q)
    if not ws or (len(ws) == 1 and len(ws[0]) < 2):
        return []
    complete = q[-1:].isspace()
    si = get_index()
    snap = si.snapshot()
    key = ("suggest", " ".join(ws), complete, limit)
    return si.cached(key, snap, lambda: _suggest(si, snap, ws, complete, limit))


def _suggest(si, snap, ws, complete, limit):
    clauses = [Word(text=w, optional=w in STOP_WORDS) for w in ws[:-1]]
    last = ws[-1]
    clauses.append(Word(text=last, prefix=not complete and len(last) >= 2))
    if all(c.optional for c in clauses[:-1]):
        clauses = [Word(text=c.text, prefix=c.prefix) for c in clauses]
    pq = ParsedQuery(text=" ".join(ws), clauses=clauses, plain_words=ws)
    ev = Executor(snap, min(si.prefix_limit, 24), fuzzy=False).evaluate(pq)
    ids = np.flatnonzero(ev.mask & _local_mask(snap))  # suggested titles open our record pages
    top = ids[_order(snap, ids, ev.scores_of(ids), "relevance", 24)]

    def matches(text: str) -> bool:
        tw = words(text)
        for i, w in enumerate(ws):
            is_last = i == len(ws) - 1
            if not any((t.startswith(w) if (is_last and not complete) else t == w) or stem_id(t) == stem_id(w)
                       for t in tw):
                return False
        return True

    out, seen = [], set()
    for d in top:
        data = snap.hit(d)
        cands = []
        for a in data.get("authors", [])[:3]:
            cands.append(("author", a))
        for s in data.get("subjects", [])[:4]:
            cands.append(("subject", s.split(" -- ")[0]))
        title = data.get("title") or ""
        cands.insert(0, ("title", title))
        for kind, label in cands:
            k = (kind, label.lower())
            if k in seen or not label:
                continue
            if matches(label) or (kind == "title" and not any(matches(lb) for kd, lb in cands if kd != "title")):
                seen.add(k)
                out.append({"type": kind, "label": label, "id": data["id"] if kind == "title" else None})
                break
        if len(out) >= limit:
            break
    return out


# ----------------------------------------------------------------------------- more like this


def more_like_this(record, limit: int = 6) -> list[dict]:
    """Records sharing subjects, authors and title words with ``record`` (itself excluded)."""
    try:
        si = get_index()
        snap = si.snapshot()
    except SearchUnavailable:
        return []
    key = ("mlt", record.id, limit)

    def compute():
        score = np.zeros(snap.N, dtype=np.float32)
        for s in dict.fromkeys(x.split(" -- ")[0] for x in record.subjects or []):
            ids, _ = snap.postings("f_subject", s)
            if len(ids) and len(ids) < snap.N // 3:
                score[ids] += 3.0
        for a in record.author_names:
            ids, _ = snap.postings("f_author", a)
            score[ids] += 2.0
        ex = Executor(snap, fuzzy=False)
        for w in dict.fromkeys(words(record.title)):
            if w in STOP_WORDS or len(w) < 3:
                continue
            ids, s = ex.word_scores(Word(text=w, field="title"))
            score[ids] += 0.3 * s
        me, _ = snap.postings("id", str(record.id))
        score[me] = 0
        score[~(snap.live & _local_mask(snap))] = 0  # records we hold, with pages here
        cand = np.flatnonzero(score > 0.5)
        top = cand[_order(snap, cand, score[cand], "relevance", limit)]
        return [snap.hit(d) for d in top]

    return si.cached(key, snap, compute)


def facets(params: SearchParams) -> dict[str, list[FacetValue]]:
    """The facet values of the results of ``params``."""
    return search(replace(params, facets=True, page=1, size=1)).facets


class WhooshSearch:
    """``interface.SearchBackend`` over this process's index (see the functions above)."""

    search = staticmethod(search)
    facets = staticmethod(facets)
    suggest = staticmethod(suggest)
    more_like_this = staticmethod(more_like_this)
    matching_record_ids = staticmethod(matching_record_ids)


_BACKEND: SearchBackend = WhooshSearch()


def backend() -> SearchBackend:
    """The search the application uses."""
    return _BACKEND


def index_status() -> dict:
    """Documents, generation and problems of the index (for the health page and CLI)."""
    app = current_app
    problem = idx.check_index(app.config["INDEX_DIR"])
    info = {"ok": problem is None, "problem": problem, "index_dir": app.config["INDEX_DIR"]}
    if problem is None:
        snap = get_index().snapshot()
        info.update(documents=snap.doc_count, generation=snap.generation,
                    size_bytes=sum(p.stat().st_size for p in Path(app.config["INDEX_DIR"], "current").resolve().rglob("*")
                                   if p.is_file()))  # Whoosh's files and the segments' arrays
    info["checked_at"] = time.time()
    return info


_location_cache: dict = {"t": 0.0, "names": {}}


def location_names() -> dict[str, str]:
    """Location code -> name, refreshed every minute (facet labels)."""
    now = time.monotonic()
    if now - _location_cache["t"] > 60:
        from sqlalchemy import select

        from ..catalog.models import Location
        from ..extensions import db

        with db.engine.connect() as conn:
            _location_cache["names"] = dict(conn.execute(select(Location.code, Location.name)).all())
        _location_cache["t"] = now
    return _location_cache["names"]


def library_names(need=()) -> dict[str, str]:
    """Library facet value -> the library's name (ours from ``LIBRARY_NAME``); read again every
    minute, or sooner when a value in ``need`` is not known yet (a partner just added)."""
    cache = current_app.extensions.setdefault("opac_library_names", {"t": -1e9, "names": {}})
    now = time.monotonic()
    if now - cache["t"] > 60 or (now - cache["t"] > 1 and any(c not in cache["names"] for c in need if c != LOCAL)):
        from sqlalchemy import select

        from ..extensions import db
        from ..partners.models import Partner

        with db.engine.connect() as conn:
            cache["names"] = dict(conn.execute(select(Partner.name, Partner.display_name)).all())
        cache["t"] = now
    return {**cache["names"], LOCAL: current_app.config["LIBRARY_NAME"]}
