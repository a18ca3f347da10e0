"""The patron's query language, parsed forgivingly into clauses. Never raises.

- words: all must match (stop words are optional); ``"a phrase"``; ``comp*`` prefix;
- ``field:value`` with the aliases of vocabulary.FIELD_ALIASES (``judul:``, ``pengarang:``…);
- ``OR`` between two clauses, ``-word`` or ``NOT word`` to exclude;
- ``year:1990-2000`` or ``year:[1990 TO 2000]``; an ISBN with or without hyphens.
Anything else (brackets, ``>``, emoji, lone operators) is treated as text or ignored.

>>> [c.describe() for c in parse('judul:"laskar pelangi" hirata').clauses]
['phrase(title:laskar pelangi)', 'word(hirata)']
>>> [c.describe() for c in parse('978-602-03-1258-0').clauses]
['any(exact(isbn:9786020312580)|phrase(all:978 602 03 1258 0))']
>>> [c.describe() for c in parse('sejarah OR history -perang tahun:1990-2000 kom*').clauses]
['any(word(sejarah)|word(history))', 'not word(perang)', 'year(1990..2000)', 'word(kom*)']
>>> [c.describe() for c in parse('the of').clauses], [c.describe() for c in parse('history of java').clauses]
(['word(the)', 'word(of)'], ['word(history)', 'word?(of)', 'word(java)'])
>>> parse('((( AND OR >< 🙂').clauses
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..catalog.isbn import compact, isbn_forms, normalize_isbn, normalize_issn
from .analysis import STOP_WORDS, normalize_query, words
from .documents import normalize_call_number
from .vocabulary import FACET_FIELDS, FIELD_ALIASES, TEXT_FIELD_OF, parse_year_range

MAX_CLAUSES = 24


@dataclass(frozen=True)
class Clause:
    negated: bool = False

    def describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _neg(self, s: str) -> str:
        return ("not " + s) if self.negated else s


@dataclass(frozen=True)
class Word(Clause):
    text: str = ""
    field: str | None = None  # None: all text fields
    prefix: bool = False
    optional: bool = False

    def describe(self) -> str:
        f = f"{self.field}:" if self.field else ""
        return self._neg(f"word{'?' if self.optional else ''}({f}{self.text}{'*' if self.prefix else ''})")


@dataclass(frozen=True)
class Phrase(Clause):
    words: tuple[str, ...] = ()
    field: str = "all"

    def describe(self) -> str:
        return self._neg(f"phrase({self.field}:{' '.join(self.words)})")


@dataclass(frozen=True)
class Exact(Clause):
    """Exact values of a values field (isbn, callnumber, control, f_type, f_lang, …)."""

    field: str = ""
    values: tuple[str, ...] = ()
    prefix: bool = False

    def describe(self) -> str:
        return self._neg(f"exact({self.field}:{','.join(self.values)}{'*' if self.prefix else ''})")


@dataclass(frozen=True)
class YearRange(Clause):
    lo: int | None = None
    hi: int | None = None

    def describe(self) -> str:
        return self._neg(f"year({self.lo or ''}..{self.hi or ''})")


@dataclass(frozen=True)
class AnyOf(Clause):
    clauses: tuple[Clause, ...] = ()

    def describe(self) -> str:
        return self._neg("any(" + "|".join(c.describe() for c in self.clauses) + ")")


@dataclass
class ParsedQuery:
    text: str
    clauses: list[Clause] = field(default_factory=list)
    #: Folded words of the free-text part, in order (for exact-title detection and spelling).
    plain_words: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    whole_isbn: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.clauses

    def positive_words(self) -> list[Word]:
        out = []
        for c in self.clauses:
            if isinstance(c, Word) and not c.negated:
                out.append(c)
            elif isinstance(c, AnyOf) and not c.negated:
                out.extend(x for x in c.clauses if isinstance(x, Word) and not x.negated)
        return out


def _scan(text: str) -> list[tuple[str, bool]]:
    """Split into raw tokens; (token, quoted). ``field:"a b"`` stays one token."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch in "()[]{}":
            i += 1
            continue
        if ch in "\"“”":
            j = i + 1
            while j < n and text[j] not in "\"“”":
                j += 1
            out.append((text[i + 1 : j], True))
            i = j + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in "\"“”()":
            if text[j] == "[" and j > i and text[j - 1] == ":":
                k = text.find("]", j)
                j = n if k < 0 else k + 1
                break
            j += 1
        tok = text[i:j]
        if tok.endswith(":") and j < n and text[j] in "\"“”":
            k = j + 1
            while k < n and text[k] not in "\"“”":
                k += 1
            out.append((tok + '"' + text[j + 1 : k], True))
            i = k + 1
            continue
        out.append((tok, False))
        i = j
    return out


def _isbn_clause(token: str) -> Clause | None:
    c = compact(token)
    if len(c) not in (8, 10, 13) or not c[:-1].isdigit():
        return None
    if len(c) == 8:
        issn = normalize_issn(token)
        if issn:
            return AnyOf(clauses=(Exact(field="isbn", values=(issn.replace("-", ""),)), Phrase(words=tuple(words(token)))))
        return None
    n = normalize_isbn(c)
    values = isbn_forms(n) if n else (c.lower(),)
    ws = tuple(words(token))
    alt = Phrase(words=ws) if len(ws) > 1 else Word(text=ws[0] if ws else c.lower())
    return AnyOf(clauses=(Exact(field="isbn", values=(values[0],)), alt))


def _field_clauses(fname: str, value: str, quoted: bool, negated: bool) -> list[Clause]:
    if fname == "isbn":
        c = _isbn_clause(value)
        if c:
            return [replace(c, negated=negated)]
        v = compact(value).lower()
        return [Exact(field="isbn", values=(v,), negated=negated)] if v else []
    if fname == "year":
        rng = parse_year_range(value)
        return [YearRange(lo=rng[0], hi=rng[1], negated=negated)] if rng else []
    if fname == "callnumber":
        prefix = value.endswith("*")
        v = normalize_call_number(value.rstrip("*"))
        return [Exact(field="callnumber", values=(v,), prefix=True, negated=negated)] if v else []
    if fname == "control":
        v = value.strip().lower()
        return [Exact(field="control", values=(v,), negated=negated)] if v else []
    if fname == "type":
        return [Exact(field=FACET_FIELDS["type"], values=(value.strip().lower(),), negated=negated)] if value.strip() else []
    if fname == "language":
        from ..catalog.marc import language_code

        code = language_code(value) or value.strip().lower()
        return [Exact(field=FACET_FIELDS["language"], values=(code,), negated=negated)] if code else []
    target = TEXT_FIELD_OF[fname]
    prefix = value.endswith("*") and not quoted
    ws = words(value)
    if not ws:
        return []
    if quoted and len(ws) > 1:
        if target in ("title",):
            return [Phrase(words=tuple(ws), field=target, negated=negated)]
        return [Phrase(words=tuple(ws), field="all", negated=negated)] + [Word(text=w, field=target) for w in ws]
    return [Word(text=w, field=target, prefix=prefix and i == len(ws) - 1, negated=negated) for i, w in enumerate(ws)]


def parse(text: str, max_length: int = 512) -> ParsedQuery:
    """Parse a query string; unknown syntax becomes words, nothing raises. Initials and music keys
    are searched in one written form (analysis.normalize_query); the words as typed stay the
    ``plain_words`` (exact-title detection, spelling).

    >>> [c.describe() for c in parse("J. R. R. Tolkien").clauses], parse("J. R. R. Tolkien").plain_words
    (['word(jrr)', 'word(tolkien)'], ['j', 'r', 'r', 'tolkien'])
    >>> [c.describe() for c in parse('f# major "f sharp"').clauses]
    ['word(fsharp)', 'word(major)', 'phrase(all:f sharp)']
    """
    pq = _parse(text, max_length)
    # not inside quotes: a quoted phrase is matched word pair by word pair as written
    pieces = re.split("[\"“”]", pq.text)
    normalized = '"'.join(normalize_query(p) if i % 2 == 0 else p for i, p in enumerate(pieces))
    if normalized != pq.text and pq.whole_isbn is None:
        typed = pq
        pq = _parse(normalized, max_length)
        pq.text, pq.plain_words = typed.text, typed.plain_words
    return pq


def _parse(text: str, max_length: int) -> ParsedQuery:
    text = (text or "").replace("\x00", " ")
    pq = ParsedQuery(text=text)
    if len(text) > max_length:
        text = text[:max_length]
        pq.messages.append("truncated")
    stripped = text.strip()
    whole = _isbn_clause(stripped) if stripped and len(stripped) <= 24 else None
    if whole is not None:
        pq.clauses = [whole]
        exact = whole.clauses[0]
        pq.whole_isbn = exact.values[0] if isinstance(exact, Exact) else None
        pq.plain_words = words(stripped)
        return pq

    clauses: list[Clause] = []
    pending_or = False
    negate_next = False
    for raw, quoted in _scan(text):
        if not quoted and raw in ("OR", "ATAU", "||", "|"):
            pending_or = bool(clauses)
            continue
        if not quoted and raw in ("AND", "&&", "+", "&"):
            continue
        if not quoted and raw in ("NOT", "TIDAK"):
            negate_next = True
            continue
        negated = negate_next
        negate_next = False
        token = raw
        if not quoted and len(token) > 1 and token[0] in "-!" and token[1] not in "-!":
            negated = True
            token = token[1:]
        new: list[Clause] = []
        fname = None
        if ":" in token and not token.startswith(":"):
            head, _, value = token.partition(":")
            fname = FIELD_ALIASES.get(head.lower())
            if fname:
                is_quoted = value.startswith('"')
                new = _field_clauses(fname, value.lstrip('"'), quoted or is_quoted, negated)
            else:
                token = token.replace(":", " ")
        if fname is None:
            if quoted:
                ws = words(token)
                if len(ws) > 1:
                    new = [Phrase(words=tuple(ws), negated=negated)]
                elif ws:
                    new = [Word(text=ws[0], negated=negated)]
                pq.plain_words.extend(ws)
            else:
                isbn = _isbn_clause(token)
                if isbn is not None:
                    new = [replace(isbn, negated=negated)]
                else:
                    prefix = token.endswith("*")
                    ws = words(token)
                    pq.plain_words.extend(ws)
                    new = [
                        Word(text=w, prefix=prefix and i == len(ws) - 1 and len(w) >= 2, negated=negated)
                        for i, w in enumerate(ws)
                    ]
        if not new:
            continue
        if pending_or and clauses and not negated:
            prev = clauses.pop()
            left = prev.clauses if isinstance(prev, AnyOf) and not prev.negated else (prev,)
            clauses.append(AnyOf(clauses=tuple(left) + (new[0],)))
            clauses.extend(new[1:])
        else:
            clauses.extend(new)
        pending_or = False
        if len(clauses) >= MAX_CLAUSES:
            pq.messages.append("too_many_terms")
            break

    # Stop words are optional unless the query is made only of them.
    required = [c for c in clauses if isinstance(c, Word) and not c.negated and c.field is None]
    if any(w.text not in STOP_WORDS for w in required) or any(not isinstance(c, Word) for c in clauses if not c.negated):
        clauses = [
            replace(c, optional=True)
            if isinstance(c, Word) and not c.negated and c.field is None and c.text in STOP_WORDS and not c.prefix
            else c
            for c in clauses
        ]
    pq.clauses = clauses
    return pq
