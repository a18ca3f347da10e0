"""A sort key for call numbers, so that a shelf is an index range scan in shelf order.

Class numbers are compared as numbers (integer part zero-padded, decimals as decimals), letters
upper-cased, cutter digits as decimals (H123 before H2), tokens separated by a space, which sorts
before every digit and letter in the binary ("C") collation the column uses.
"""

from __future__ import annotations

import re

KEY_LENGTH = 160
_TOKEN = re.compile(r"(\d+)(?:\.(\d+))?|([^\W\d_]+)(\d*)")


def call_number_key(call_number: str | None) -> str | None:
    """The shelf-order key of a call number (None when there is nothing to shelve by).

    >>> call_number_key("595.7 ABC")
    '000595.7 ABC'
    >>> call_number_key("595.78 a") > call_number_key("595.7 ABC")
    True
    >>> call_number_key("596 B") > call_number_key("595.78 A")
    True
    >>> call_number_key("595.70 x") == call_number_key("595.7 X")
    True
    >>> call_number_key("899.221 HIR l") < call_number_key("899.221 HIR2 l")
    True
    >>> call_number_key("  ") is None
    True
    """
    if not call_number:
        return None
    parts = []
    for number, decimals, letters, cutter in _TOKEN.findall(call_number.upper()):
        if letters:
            parts.append(letters + cutter)
        else:
            decimals = decimals.rstrip("0")
            parts.append(number.lstrip("0").rjust(6, "0") + ("." + decimals if decimals else ""))
    return " ".join(parts)[:KEY_LENGTH] or None
