"""Spreadsheet-safe CSV for downloads: a cell that a spreadsheet would read as a formula is
prefixed with ``'`` (OWASP "CSV injection"), so exported catalogue or patron text stays text."""

from __future__ import annotations

import csv
import io

#: first characters that make Excel, LibreOffice or Google Sheets evaluate a cell (fullwidth forms too)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value):
    """A cell value that is never a formula; numbers and empty values pass unchanged.

    >>> csv_cell('=HYPERLINK("http://x","y")'), csv_cell("@SUM(A1)"), csv_cell("Laskar Pelangi"), csv_cell(-3)
    ('\\'=HYPERLINK("http://x","y")', "'@SUM(A1)", 'Laskar Pelangi', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows, fieldnames: list[str]) -> str:
    """Rows (dicts) as CSV text with a header, every cell passed through :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue()
