"""The index's fast analysis paths give exactly the tokens of the library's tokenizer
(``library_tokens``): term counts, positions and the number of tokens of a field value."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from opac.search.analysis import (
    WORD_RE,
    fold,
    index_term_counts,
    index_term_positions,
    library_tokens,
    line_shingles,
)
from tests.conftest import shared_data_dir

#: Initials, music keys, compounds, dropped letters, CJK, accents, digits and punctuation.
TRICKY = [
    "J.R.R. Tolkien; Tolkien, J. R. R.", "JRR Tolkien", "a b c", "A. B.", "x.y", "ʻa. b", "aʻ-b", "中a. b",
    "F# major, F sharp major, Fis-Dur, b-moll, E\u266d", "F\u266f minor", "Sonate in Fis - Dur", "c sharp", "b flat",
    "E-learning and e learning", "1990-2000", "Pendidikan -- Belitung", "abc-123", "über-Ärzte", "ja-",
    "Littéraire Straße Ærø", "İstanbul Ißık", "日本語の本", "Kelas XII, Jilid 2", "", "   ", "-", "a", "Dur moll",
    "Pembelajaran perpustakaan di sekolah", "libraries of libraries library", "The a of a to be I",
]


def _expected(value: str):
    tokens = library_tokens(value)
    positions: dict[str, list[int]] = {}
    for term, pos, _start, _end in tokens:
        positions.setdefault(term, []).append(pos)
    return dict(Counter(t[0] for t in tokens)), {t: sorted(p) for t, p in positions.items()}, len(tokens)


def _corpus(shared_data) -> list[str]:
    texts = list(TRICKY)
    for name in ("catalog/catalog_combined.jsonl", "indonesian/indonesian_catalog.jsonl"):
        with open(shared_data / name, encoding="utf-8") as f:
            for line in itertools.islice(f, 1000):
                rec = json.loads(line)
                names = [a if isinstance(a, str) else a.get("name", "") for a in rec.get("authors") or []]
                texts.append("\n".join([rec.get("title") or "", rec.get("responsibility") or "", *names,
                                        *(rec.get("subjects") or []), rec.get("publisher") or ""]))
    return texts


def test_term_counts_and_positions_are_the_tokenizers(shared_data):
    texts = _corpus(shared_data)
    checked = 0
    for text in texts:
        for marker in ("", "\x02\x03", "\x02eng\x03", "\x02ind\x03", "\x02ger\x03", "\x02jpn\x03"):
            value = marker + text
            counts, positions, n = _expected(value)
            assert index_term_counts(value) == (counts, n), value
            assert index_term_positions(value) == (positions, n), value
            checked += 1
    assert checked > 10_000


@pytest.mark.parametrize("text", TRICKY + ["Laskar Pelangi\nAndrea Hirata\n\nHirata, Andrea\nx", "a\nb c\n"])
def test_line_shingles_are_the_word_pairs_of_each_line(text):
    expected = []
    for line in text.split("\n"):
        ws = [fold(w) for w in WORD_RE.findall(line)]
        expected += [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False)]
    assert line_shingles(text) == expected


AFFIXED = (
    "pembelajaran perpustakaan kebudayaan membaca menulis mengajar menyanyi memperbaiki pengetahuan penyusunan "
    "penyanyi pemerintahan berlari bekerja belajar terbaca tertulis perbaikan diajarkan kesehatan sekolahnya "
    "bukunya bacalah apakah kamipun rumahku bajumu pendidikan menganalisis pengelolaan keberhasilan mempelajari "
    "memperkenalkan dipertanggungjawabkan kepemimpinan pertanian peternakan mengenai menyebabkan penyebab "
    "tersenyum bersama-sama kemerdekaan pergerakan kepustakaan informasinya teknologi ilmiah menerjemahkan "
    "penerjemah mengkaji pengkajian memproduksi pemrograman berprestasi ketidakadilan pembangunan pencegahan"
).split()


def _stems(words: list[str]) -> list[str]:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    stemmer = StemmerFactory().create_stemmer()  # its own cache: every word stemmed here
    return [stemmer.stem(w) for w in words]


def test_sastrawi_stems_the_same_with_its_stems_replaced_as_text():
    """Sastrawi's affix removers are given an ``re`` that replaces a plain word as text instead of
    compiling it (``analysis._LiteralWordRe``): the stems are the ones Python's ``re`` gives."""
    import importlib
    import re

    from opac.search import analysis

    analysis._sastrawi()  # installs the literal replacement
    words = list(AFFIXED)
    data = shared_data_dir()
    if data is not None:  # and the words of the real Indonesian titles
        with open(data / "indonesian" / "indonesian_catalog.jsonl", encoding="utf-8") as f:
            for line in itertools.islice(f, 1500):
                words += [w for w in WORD_RE.findall(json.loads(line).get("title") or "") if analysis._stemmable(w.lower())]
    words = sorted({w.lower() for w in words})
    modules = [importlib.import_module(f"Sastrawi.Stemmer.Context.Visitor.{name}") for name in analysis._SASTRAWI_REMOVERS]
    assert all(isinstance(m.re, analysis._LiteralWordRe) for m in modules)
    fast = _stems(words)
    try:
        for m in modules:
            m.re = re
        slow = _stems(words)
    finally:
        for m in modules:
            m.re = analysis._LiteralWordRe()
    assert fast == slow
    assert sum(a != b for a, b in zip(words, fast, strict=True)) > len(AFFIXED) // 2  # affixes were removed
