"""Spelling corrections from the index's own vocabulary (no Whoosh corrector: it raises on
some punctuation, and it would suggest stems). Candidates are real words at edit distance 1
(insert, delete, replace, swap), ranked by how many records contain them.

>>> sorted(edits1("buku"))[:5]
['abuku', 'auku', 'baku', 'bauku', 'bbku']
>>> sorted({"buk", "ubku", "bukuu", "bahu"} & edits1("buku"))  # delete, swap, insert; not two edits
['buk', 'bukuu', 'ubku']
>>> "b8ku" in edits1("buku"), "win8" in edits1("win7")  # digits only where the word has some
(False, True)
"""

from __future__ import annotations

from functools import lru_cache

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"


@lru_cache(maxsize=20_000)
def edits1(word: str) -> frozenset[str]:
    """Strings one edit from ``word``; a digit is put in only where the word has digits (a word of
    letters mistyped into one with a digit is not worth a third more look-ups per correction)."""
    alphabet = LETTERS + DIGITS if any(ch.isdigit() for ch in word) else LETTERS
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in alphabet if c != b[0]]
    inserts = [a + c + b for a, b in splits for c in alphabet]
    return frozenset(deletes + swaps + replaces + inserts) - {word}


def correctable(word: str) -> bool:
    return len(word) >= 3 and word.isascii() and word.isalnum() and not word.isdigit()


def corrections_for(snap, word: str, field: str = "all", limit: int = 3) -> list[str]:
    """Real words one edit away from ``word``, most frequent first (empty if none). Kept per index
    snapshot: the search corrects a word it does not find, and the suggestion asks again."""
    if not correctable(word):
        return []
    key = ("corrections", word, field, limit)
    found = snap.corrections.get(key)
    if found is None:
        cands = [c for c in edits1(word) if len(c) >= 2]
        scored = [(int(df), c) for c, df in zip(cands, snap.word_dfs(field, cands), strict=True) if df]
        scored.sort(key=lambda x: (-x[0], x[1]))
        found = tuple(c for _, c in scored[:limit])
        snap.corrections.put(key, found, 100 + sum(len(c) for c in found))
    return list(found)


def did_you_mean(snap, words: list[str], min_df: int = 2) -> list[str] | None:
    """The query's words with unknown or rare ones replaced by a more frequent neighbour."""
    changed = False
    out = []
    known = [w for w in words if correctable(w)]
    dfs = dict(zip(known, snap.word_dfs("all", known).tolist(), strict=True))  # one look-up for all
    for w in words:
        if not correctable(w):
            out.append(w)
            continue
        df = dfs[w]
        if df >= min_df:
            out.append(w)
            continue
        best = corrections_for(snap, w)
        if best and (df == 0 or (df < min_df and snap.word_dfs("all", best[:1])[0] >= 20 * max(df, 1))):
            out.append(best[0])
            changed = True
        else:
            out.append(w)
    return out if changed else None
