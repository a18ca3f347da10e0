"""Text analysis shared by the index, the query parser, highlighting and the FAQ matcher.

Words are lower-cased and accent-folded (``littéraire`` -> ``litteraire``); numbers and single
characters are kept (``Jilid 2``, ``Kelas XII``). Each word is indexed as typed; when stemming
changes it, its stem is indexed too at the same position, marked with a leading ``_``, so an exact
word form scores above a stem-only match and prefix search and spelling only see real words.
Indonesian records are stemmed with Sastrawi (``pembelajaran`` -> ``ajar``), others with the
English Snowball stemmer; a query word is looked up under both stems.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from whoosh.analysis import Composable, Token, Tokenizer

STEM_MARK = "_"

# Words: runs of letters/digits; CJK ideographs and kana one per token (no spaces between words).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")

_SPECIAL_FOLD = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d",
     "ð": "d", "þ": "th", "œ": "oe", "Œ": "oe", "ı": "i", "ʻ": "", "ʼ": ""}
)


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower-case and strip accents from Latin letters only (Devanagari vowel signs are kept).

    >>> fold("Littéraire"), fold("Ärzte"), fold("Straße")
    ('litteraire', 'arzte', 'strasse')
    """
    word = word.lower().translate(_SPECIAL_FOLD)
    if word.isascii():
        return word
    out = []
    for ch in unicodedata.normalize("NFD", word):
        if unicodedata.combining(ch) and out and out[-1] < "\u0250":
            continue  # accent on a Latin letter
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def words(text: str) -> list[str]:
    """The folded words of ``text`` in order (no stemming, nothing dropped).

    >>> words("Sains 3 untuk SMA/MA Kelas XII, Jilid 2")
    ['sains', '3', 'untuk', 'sma', 'ma', 'kelas', 'xii', 'jilid', '2']
    """
    return [fold(w) for w in WORD_RE.findall(text or "")]


def word_spans(text: str):
    """(start, end, folded word) for each word, for highlighting."""
    for m in WORD_RE.finditer(text or ""):
        yield m.start(), m.end(), fold(m.group())


#: Characters that make a pattern more than its literal text.
_REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")


class _LiteralWordRe:
    """The ``re`` that Sastrawi's affix removers see. They take off an affix with
    ``re.sub(stem, "", word, count=1)``, the stem (letters: ``_stemmable``) as the pattern: every
    stem met for the first time was compiled as a regular expression (Python keeps 512), 7% of a
    search with a prefix and a good part of stemming at a reindex. A pattern without special
    characters is replaced as the text it is; anything else goes to ``re``."""

    def __getattr__(self, name):
        return getattr(re, name)

    @staticmethod
    def sub(pattern, repl, string, count=0, flags=0):
        if isinstance(pattern, str) and not flags and not _REGEX_CHARS.intersection(pattern):
            return string.replace(pattern, repl, count or -1)
        return re.sub(pattern, repl, string, count=count, flags=flags)


#: Sastrawi's modules that remove an affix with its stem as a pattern.
_SASTRAWI_REMOVERS = ("AbstractDisambiguatePrefixRule", "RemoveDerivationalSuffix", "RemoveInflectionalParticle",
                      "RemoveInflectionalPossessivePronoun", "RemovePlainPrefix")


@lru_cache(maxsize=1)
def _sastrawi():
    import importlib

    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    for name in _SASTRAWI_REMOVERS:
        importlib.import_module(f"Sastrawi.Stemmer.Context.Visitor.{name}").re = _LiteralWordRe()
    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=1)
def _english():
    from whoosh.lang.snowball.english import EnglishStemmer

    return EnglishStemmer().stem


def _stemmable(word: str) -> bool:
    return len(word) > 3 and word.isascii() and word.isalpha()


# Sastrawi only ever removes these affixes; other words skip its (slow) dictionary search.
_ID_AFFIX = re.compile(r"^(?:me|di|ke|pe|be|te|se)|(?:kan|an|i|lah|kah|pun|nya|ku|mu)$")


@lru_cache(maxsize=300_000)
def stem_id(word: str) -> str:
    """Indonesian stem (Sastrawi, dictionary based); short or unchanged roots fall back to the word.

    >>> stem_id("pembelajaran"), stem_id("perpustakaan"), stem_id("kebudayaan"), stem_id("history")
    ('ajar', 'pustaka', 'budaya', 'history')
    """
    if not _stemmable(word) or not _ID_AFFIX.search(word):
        return word
    s = _sastrawi().stem(word)
    return s if len(s) >= 3 and s.isalpha() else word


@lru_cache(maxsize=300_000)
def stem_en(word: str) -> str:
    """English Snowball stem.

    >>> stem_en("libraries"), stem_en("computers")
    ('librari', 'comput')
    """
    if not _stemmable(word):
        return word
    return _english()(word)


@lru_cache(maxsize=500_000)
def index_stems(word: str, language: str | None) -> tuple[str, ...]:
    """Stems indexed for a word of a record in ``language`` (MARC code); both when unknown."""
    if language == "ind" or language == "may":
        stems = (stem_id(word),)
    elif language in ("eng", None, ""):
        stems = (stem_en(word),) if language else (stem_id(word), stem_en(word))
    else:
        stems = (stem_en(word),) if language in ("fre", "ger", "spa", "dut", "ita", "por") else ()
    return tuple(dict.fromkeys(s for s in stems if s != word))


def query_variants(word: str) -> tuple[tuple[str, float], ...]:
    """Index terms a query word may match, with a weight: the word itself first (1.0), then stems.

    >>> query_variants("perpustakaan")
    (('perpustakaan', 1.0), ('_pustaka', 0.8), ('pustaka', 0.8), ('_perpustakaan', 0.8))
    >>> query_variants("pustaka")
    (('pustaka', 1.0), ('_pustaka', 0.8))
    """
    out: dict[str, float] = {word: 1.0}
    for s in (stem_id(word), stem_en(word)):
        out.setdefault(STEM_MARK + s, 0.8)
        if s != word:
            out.setdefault(s, 0.8)
    return tuple(out.items())


# -- forms one thing is written in several ways: initials, music keys, hyphenated compounds -------

_KEY_LETTERS = frozenset("abcdefg")
_SHARP, _FLAT = frozenset("#\u266f"), frozenset("\u266d")
#: German key names (before -Dur / -moll) -> the English key token; "B" is B flat, "H" is B.
_GERMAN_KEYS = {"cis": "csharp", "dis": "dsharp", "eis": "esharp", "fis": "fsharp", "gis": "gsharp",
                "ais": "asharp", "his": "bsharp", "ces": "cflat", "des": "dflat", "es": "eflat", "fes": "fflat",
                "ges": "gflat", "as": "aflat", "b": "bflat", "h": "b", **{c: c for c in "acdefg"}}
_MODES = {"dur": "major", "moll": "minor"}


def _initial(w: str) -> bool:
    return len(w) == 1 and w.isascii() and w.isalpha()


def special_forms(text: str) -> tuple[list, list[str], list[tuple[int, int, tuple[str, ...]]], set[int]]:
    """The word matches of ``text``, their folded words, the runs of words (first, last index)
    with the one normal form they stand for, and which of the runs are hyphenated compounds:

    - initials: "J.R.R.", "J. R. R." and "JRR" are all ``jrr``;
    - music keys: "F#", "F\u266f", "F sharp" and German "Fis" (before -Dur/-moll) are ``fsharp``,
      "Dur"/"moll" after a key are ``major``/``minor`` ("B-moll" is ``bflat minor``);
    - hyphenated compounds: "e-learning" is also ``elearning``.

    >>> [f for _, _, f in special_forms("J.R.R. Tolkien; Tolkien, J. R. R.")[2]]
    [('jrr',), ('jrr',)]
    >>> [f for _, _, f in special_forms("F# major, F sharp major, Fis-Dur, b-moll, E\u266d")[2]]
    [('fsharp',), ('fsharp',), ('fsharp', 'major'), ('bflat', 'minor'), ('eflat',)]
    >>> special_forms("E-learning and e learning")[2:]
    ([(0, 1, ('elearning',))], {0})
    """
    ms = list(WORD_RE.finditer(text or ""))
    ws = [fold(m.group()) for m in ms]
    out: list[tuple[int, int, tuple[str, ...]]] = []
    compounds: set[int] = set()
    if "-" not in text and not any(len(w) == 1 or w in _MODES for w in ws):
        return ms, ws, out, compounds  # every form below needs a one-letter word, a hyphen or Dur/moll
    i, n = 0, len(ms)
    while i < n:
        w = ws[i]
        if not (len(w) == 1 or w in _GERMAN_KEYS or text[ms[i].end() : ms[i].end() + 1] == "-"):
            i += 1  # starts no form (every form starts with a key, an initial or a hyphenated word)
            continue
        gap = text[ms[i].end() : ms[i + 1].start()] if i + 1 < n else None
        joined = gap is not None and gap.strip() in ("", "-")
        after = text[ms[i].end() : ms[i].end() + 1]
        if joined and ws[i + 1] in _MODES and w in _GERMAN_KEYS:
            out.append((i, i + 1, (_GERMAN_KEYS[w], _MODES[ws[i + 1]])))
            i += 2
            continue
        if w in _KEY_LETTERS and after and (after in _SHARP or after in _FLAT):
            out.append((i, i, (w + ("sharp" if after in _SHARP else "flat"),)))
            i += 1
            continue
        if w in _KEY_LETTERS and joined and ws[i + 1] in ("sharp", "flat"):
            out.append((i, i + 1, (w + ws[i + 1],)))
            i += 2
            continue
        if _initial(w):
            j = i
            while (j + 1 < n and _initial(ws[j + 1]) and ms[j].end() < ms[j + 1].start()
                   and not text[ms[j].end() : ms[j + 1].start()].strip(". ")):
                j += 1
            if j > i:
                out.append((i, j, ("".join(ws[i : j + 1]),)))
                i = j + 1
                continue
        if gap == "-" and w.isalpha() and ws[i + 1].isalpha() and w.isascii() and ws[i + 1].isascii():
            out.append((i, i + 1, (w + ws[i + 1],)))
            compounds.add(len(out) - 1)
        i += 1
    return ms, ws, out, compounds


def normalize_query(text: str) -> str:
    """A query with initials and music keys written one way (hyphenated compounds are left to the
    executor, which also tries the closed form).

    >>> normalize_query("j. r. r. tolkien"), normalize_query("JRR Tolkien"), normalize_query("f# major")
    ('jrr tolkien', 'JRR Tolkien', 'fsharp major')
    >>> normalize_query("fis-dur"), normalize_query("b flat minor"), normalize_query("e-learning")
    ('fsharp major', 'bflat minor', 'e-learning')
    """
    ms, _ws, spans, compounds = special_forms(text)
    parts, last = [], 0
    for k, (first, end, forms) in enumerate(spans):
        if k in compounds:
            continue  # a hyphenated compound: kept as typed
        parts.append(text[last : ms[first].start()])
        parts.append(" ".join(forms))
        last = ms[end].end()
        if text[last : last + 1] in ("." if first < end else "") or text[last : last + 1] in _SHARP | _FLAT:
            last += 1
    parts.append(text[last:])
    return "".join(parts)


class LibraryTokenizer(Tokenizer):
    """Folded words with positions and character offsets, plus stems at the same position.

    The record's language reaches the analyzer through a leading ``\\x02<code>\\x03`` marker
    added by the document builder (Whoosh analyzers see only the text).
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos, start, end in library_tokens(value, mode == "query", start_pos):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


def library_tokens(value: str, query: bool = False, start_pos: int = 0) -> list[tuple[str, int, int, int]]:
    """(term, position, start, end) of each token of :class:`LibraryTokenizer`: each folded word,
    and when indexing (not ``query``) its stems and special forms at the same position.

    >>> [t[:2] for t in library_tokens("\\x02eng\\x03Libraries of J.R.R. Tolkien")]
    [('libraries', 0), ('_librari', 0), ('of', 1), ('j', 2), ('r', 3), ('r', 4), ('jrr', 4), ('tolkien', 5)]
    """
    language, offset = _language(value)
    ms, ws, spans, _ = special_forms(value[offset:])
    extra = {end: forms for _first, end, forms in spans}
    out = []
    pos = start_pos
    for k, (m, w) in enumerate(zip(ms, ws, strict=True)):
        start, end = offset + m.start(), offset + m.end()
        out.append((w, pos, start, end))
        if not query:
            for s in index_stems(w, language):
                out.append((STEM_MARK + s, pos, start, end))
            for form in extra.get(k, ()):
                if form != w:
                    out.append((form, pos, start, end))
        pos += 1
    return out


def _language(value: str) -> tuple[str | None, int]:
    """The language of the document builder's leading ``\\x02<code>\\x03`` marker (None without one)
    and where the text after it starts."""
    if value.startswith("\x02"):
        end = value.find("\x03")
        return value[1:end] or None, end + 1
    return None, 0


#: language -> word as written -> (the terms indexed at its position, what it may be in a special form:
#: :data:`_FORM_WORD` or :data:`_ONE_LETTER`): ``fold`` and ``index_stems`` once per distinct word, not per
#: occurrence.
_WORD_TERMS: dict[str | None, dict[str, tuple[tuple[str, ...], int]]] = {}
#: Flags of a word: one a special form may end with (Dur/moll, sharp/flat), a one-letter word.
_FORM_WORD, _ONE_LETTER = 1, 2
_FORM_WORDS = frozenset(("sharp", "flat", *_MODES))
#: A letter as :data:`WORD_RE` groups them (not CJK, each a word by itself), and the letters ``fold``
#: drops (so that "ʻa" is the one-letter word "a").
_LETTER = rf"[^\W_{_CJK}]"
_ONE_LETTER_RE = rf"(?<!{_LETTER})[\u02bb\u02bc]*{_LETTER}[\u02bb\u02bc]*(?!{_LETTER})"
#: Two one-letter words apart only by dots and spaces (initials).
_INITIALS = re.compile(rf"{_ONE_LETTER_RE}[. ]+{_ONE_LETTER_RE}")
#: A hyphen between letters (a compound).
_HYPHENATED = re.compile(r"[^\W\d_]-[^\W\d_]")


def _may_have_forms(text: str, flags: int) -> bool:
    """Whether :func:`special_forms` may find a form in ``text``, whose words have ``flags``: not
    without one of :data:`_FORM_WORDS`, a sharp or flat sign, a hyphen between letters or initials."""
    return bool(flags & _FORM_WORD or "#" in text or "\u266f" in text or "\u266d" in text
                or ("-" in text and _HYPHENATED.search(text)) or (flags & _ONE_LETTER and _INITIALS.search(text)))


def _word_terms(language: str | None) -> dict[str, tuple[tuple[str, ...], int]]:
    table = _WORD_TERMS.get(language)
    if table is None or len(table) > 300_000:
        table = _WORD_TERMS[language] = {}
    return table


def _word_entry(table: dict, raw: str, language: str | None) -> tuple[tuple[str, ...], int]:
    """Enter a word as written in ``table`` (:data:`_WORD_TERMS`): its terms, and its flags."""
    w = fold(raw)
    flags = _FORM_WORD if w in _FORM_WORDS else _ONE_LETTER if len(w) == 1 else 0
    got = table[raw] = ((w, *(STEM_MARK + s for s in index_stems(w, language))), flags)
    return got


def index_term_counts(value: str) -> tuple[dict[str, int], int]:
    """How often each term occurs among :func:`library_tokens` of ``value`` (indexing), and how many
    tokens there are: the same counts, without a token per word.

    >>> index_term_counts("\\x02eng\\x03Libraries of libraries, J. R. R.")
    ({'libraries': 2, '_librari': 2, 'of': 1, 'j': 1, 'r': 2, 'jrr': 1}, 9)
    """
    return _index_terms(value, False)


def index_term_positions(value: str) -> tuple[dict[str, list[int]], int]:
    """The positions of each term among :func:`library_tokens` of ``value`` (indexing), and how
    many tokens there are.

    >>> index_term_positions("\\x02eng\\x03Libraries of J. R. R.")
    ({'libraries': [0], '_librari': [0], 'of': [1], 'j': [2], 'r': [3, 4], 'jrr': [4]}, 7)
    """
    return _index_terms(value, True)


def _index_terms(value: str, positions: bool) -> tuple[dict, int]:
    """Each term of :func:`library_tokens` of ``value`` (indexing) with how often it occurs, or with its
    positions (sorted lists), and how many tokens there are. Each distinct word is looked up once (its
    count, or its positions, stand for all its occurrences)."""
    language, offset = _language(value)
    text = value[offset:]
    table = _word_terms(language)
    raws = WORD_RE.findall(text)
    if positions:
        groups: dict[str, list[int]] = {}
        for pos, raw in enumerate(raws):
            got = groups.get(raw)
            if got is None:
                groups[raw] = [pos]
            else:
                got.append(pos)
    else:
        groups = Counter(raws)
    out: dict = {}
    merged = set()  # terms of several words (positions to sort)
    n = len(raws)
    flags = 0
    for raw, occ in groups.items():
        terms, f = table.get(raw) or _word_entry(table, raw, language)
        flags |= f
        if len(terms) > 1:
            n += (len(occ) if positions else occ) * (len(terms) - 1)
        for t in terms:
            got = out.get(t)
            if got is None:
                out[t] = occ[:] if positions else occ
            else:
                out[t] = got + occ
                merged.add(t)
    if _may_have_forms(text, flags):
        _ms, ws, spans, _ = special_forms(text)
        for _first, end, forms in spans:
            for form in forms:
                if form != ws[end]:
                    got = out.get(form)
                    one = [end] if positions else 1
                    out[form] = one if got is None else got + one
                    merged.add(form)
                    n += 1
    if positions:
        for t in merged:
            out[t].sort()
    return out, n


class _Analyzer(Composable):
    def __init__(self):
        self.tokenizer = LibraryTokenizer()

    def __call__(self, value, **kwargs):
        return self.tokenizer(value, **kwargs)

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.tokenizer = LibraryTokenizer()


class LibraryAnalyzer(_Analyzer):
    """The analyzer of all free-text fields."""


class ShingleTokenizer(Tokenizer):
    """Pairs of consecutive words ("laskar pelangi"), never across a line break (a field boundary):
    a two-word phrase is then one term lookup, and longer phrases the AND of their pairs."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, pair in enumerate(line_shingles(value), start_pos):
            t.text = pair
            t.boost = 1.0
            if positions:
                t.pos = pos
            yield t


def line_shingles(value: str) -> list[str]:
    """The word pairs of each line of ``value`` in order (:class:`ShingleTokenizer`'s terms).

    >>> line_shingles("Laskar Pelangi\\nAndrea Hirata")
    ['laskar pelangi', 'andrea hirata']
    """
    ws = list(map(fold, _WORD_OR_LINE_BREAK.findall(value)))
    return [pair for pair in map(" ".join, zip(ws, ws[1:])) if "\n" not in pair]  # noqa: B905 - one shorter


#: The words of :data:`WORD_RE` and the line breaks between them (``fold`` keeps a line break as it is).
_WORD_OR_LINE_BREAK = re.compile(WORD_RE.pattern + "|\n")


class ShingleAnalyzer(_Analyzer):
    def __init__(self):
        self.tokenizer = ShingleTokenizer()

    def __setstate__(self, state):
        self.tokenizer = ShingleTokenizer()


def shingles(words_: list[str]) -> list[str]:
    """The word pairs of a phrase, as indexed.

    >>> shingles(["laskar", "pelangi", "baru"])
    ['laskar pelangi', 'pelangi baru']
    """
    return [f"{a} {b}" for a, b in zip(words_, words_[1:], strict=False)]


class ValuesTokenizer(Tokenizer):
    """Exact values joined by ``\\x1f`` (facets, identifiers): one term per value, unchanged."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for i, v in enumerate(dict.fromkeys(x for x in value.split("\x1f") if x)):
            t.text = v
            t.boost = 1.0
            if positions:
                t.pos = start_pos + i
            yield t


class ValuesAnalyzer(_Analyzer):
    def __init__(self):
        self.tokenizer = ValuesTokenizer()

    def __setstate__(self, state):
        self.tokenizer = ValuesTokenizer()


# Stop words: optional in queries (a query made only of them still requires them), never dropped
# from the index, so "It", "To Kill a Mockingbird" and "Dan Brown" stay findable.
STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have in into is it its of on or that the their
    this to was were will with without about after over under between through
    dan di ke dari yang untuk pada dengan dalam atau ini itu adalah oleh sebagai juga tidak akan
    bagi tentang kepada secara para serta antara sampai hingga terhadap tanpa karena""".split()
)


def normalize_phrase(text: str) -> str:
    """A title or call number reduced to its folded words, for exact comparisons.

    >>> normalize_phrase("  Laskar   Pelangi: a novel ")
    'laskar pelangi a novel'
    """
    return " ".join(words(text))
