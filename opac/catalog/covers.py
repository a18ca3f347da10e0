"""Generated covers: the title and author on a colour derived from the record, always inside the
cover. Text is wrapped and sized from a conservative estimate of glyph widths, and any line that
might still be too wide is fitted with ``textLength`` (the browser squeezes it to the width)."""

from __future__ import annotations

import hashlib
import textwrap

from markupsafe import escape

PALETTE = ("#0b5d4b", "#7a3e9d", "#9c4221", "#1f4e79", "#6b4f1d", "#2f6f3e", "#8a1c3b", "#3d4b5c")
WIDTH, HEIGHT, MARGIN = 160, 240, 16
TEXT_WIDTH = WIDTH - 2 * MARGIN
#: average advance of a bold sans-serif glyph per pixel of font size, on the generous side
#: (capitals and wide letters such as M and W are about 0.7-0.9; lower case about 0.55)
BOLD_EM, REGULAR_EM = 0.62, 0.56
MAX_LINES = 6


def _fits(line: str, size: float, em: float) -> bool:
    return len(line) * size * em <= TEXT_WIDTH


def title_layout(title: str) -> tuple[int, list[str]]:
    """The largest font size (20 down to 12) at which the title fits in MAX_LINES lines, and the
    lines (the last one cut with … if it still does not fit).

    >>> title_layout("Laskar Pelangi")
    (20, ['Laskar', 'Pelangi'])
    >>> size, lines = title_layout("Metodologi Penelitian Kuantitatif, Kualitatif dan R&D untuk Ilmu Pendidikan")
    >>> size < 20 and len(lines) <= MAX_LINES and all(_fits(x, size, BOLD_EM) for x in lines)
    True
    >>> title_layout("Pneumonoultramicroscopicsilicovolcanoconiosis")[1][0]
    'Pneumonoul'
    """
    words = " ".join((title or "").split()) or "?"
    for size in (20, 18, 16, 14, 13, 12):
        chars = max(int(TEXT_WIDTH / (size * BOLD_EM)), 4)
        lines = textwrap.wrap(words, chars, break_long_words=True, break_on_hyphens=True)
        if len(lines) <= MAX_LINES:
            return size, lines
    lines = lines[:MAX_LINES]
    lines[-1] = lines[-1][: max(chars - 1, 1)].rstrip() + "…"
    return size, lines


def short_author(author: str | None, size: int = 13) -> str:
    """The author's surname (before the comma), cut with … to fit one line.

    >>> short_author("Hirata, Andrea"), short_author("Wirjosoedirdjo Poerbatjaraka Hadikoesoemo, R.")
    ('Hirata', 'Wirjosoedirdjo P…')
    """
    name = (author or "").split(",")[0].strip()
    chars = int(TEXT_WIDTH / (size * REGULAR_EM))
    return name if len(name) <= chars else name[: chars - 1].rstrip() + "…"


def _text(x: int, y: int, line: str, size: int, em: float, extra: str = "") -> str:
    # a line the estimate cannot vouch for is squeezed to the text width by the browser
    fit = "" if _fits(line, size, em * 0.85) else f' textLength="{TEXT_WIDTH}" lengthAdjust="spacingAndGlyphs"'
    return f'<text x="{x}" y="{y}" font-size="{size}"{extra}{fit}>{escape(line)}</text>'


def cover_svg(title: str, author: str | None) -> str:
    """The SVG document of a generated cover.

    >>> svg = cover_svg("Bumi Manusia", "Toer, Pramoedya Ananta")
    >>> svg.startswith("<svg") and ">Bumi<" in svg and ">Toer<" in svg
    True
    """
    digest = hashlib.sha1(f"{title}|{author}".encode(), usedforsecurity=False).digest()
    colour = PALETTE[digest[0] % len(PALETTE)]
    size, lines = title_layout(title)
    step = round(size * 1.25)
    byline = _text(MARGIN, HEIGHT - 24, short_author(author), 13, REGULAR_EM, ' opacity=".9"')
    text = "".join(_text(MARGIN, MARGIN + 16 + size + i * step, line, size, BOLD_EM, ' font-weight="700"')
                   for i, line in enumerate(lines))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><rect width="{WIDTH}" height="{HEIGHT}" fill="{colour}"/>'
        f'<rect x="8" y="8" width="{WIDTH - 16}" height="{HEIGHT - 16}" fill="none" stroke="#fff" stroke-opacity=".4"/>'
        f'<g fill="#fff" font-family="sans-serif">{text}'
        f"{byline}</g></svg>"
    )
