"""Rules for new credentials: patron PINs (digits, configurable length, not trivial) and staff
passwords (long, not a common password, not the user name); ASVS 5 level 2.

The same rules hold for the web forms, the API, password reset and the CLI, since they all go
through the account services, which call these checks.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from flask import current_app


class CredentialRefused(ValueError):
    """Why a new PIN or password is refused: ``reason`` (a key of AccountError.messages) and its values."""

    def __init__(self, reason: str, **values):
        super().__init__(reason)
        self.reason = reason
        self.values = values


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (lower-cased), shipped with the package (no network)."""
    text = resources.files("opac.accounts").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


#: Words that make a password guessable in this application whatever the list says.
CONTEXT_WORDS = frozenset({"perpustakaan", "pustakawan", "pustaka", "library", "librarian", "opac", "admin",
                           "administrator", "rahasia", "katasandi", "password", "staff"})


def is_trivial_pin(pin: str, card: str = "") -> bool:
    """A PIN anyone would try first: one repeated digit or block, a run up or down, or (the tail of)
    the card number.

    >>> [is_trivial_pin(p) for p in ("0000", "1234", "4321", "7890", "1212", "123123", "2468", "5823")]
    [True, True, True, True, True, True, False, False]
    >>> is_trivial_pin("2001", card="P-2026-2001"), is_trivial_pin("2001", card="2026005")
    (True, False)
    """
    n = len(pin)
    for size in range(1, n // 2 + 1):  # 0000, 1212, 123123
        if n % size == 0 and pin[:size] * (n // size) == pin:
            return True
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {9}):  # 1234, 7890, 4321, 2109
        return True
    card_digits = re.sub(r"\D", "", card or "")
    return bool(card_digits) and (card_digits.endswith(pin) or card_digits.startswith(pin))


def check_pin(pin: str, card: str = "") -> None:
    """Raise CredentialRefused unless ``pin`` is PIN_MIN_LENGTH–PIN_MAX_LENGTH digits and not trivial."""
    cfg = current_app.config
    low, high = int(cfg["PIN_MIN_LENGTH"]), int(cfg["PIN_MAX_LENGTH"])
    pin = pin or ""
    if not (pin.isascii() and pin.isdigit() and low <= len(pin) <= high):
        raise CredentialRefused("pin_format", min=low, max=high)
    if is_trivial_pin(pin, card):
        raise CredentialRefused("pin_trivial")


def _stems(password: str) -> set[str]:
    """The password and what is left of it without leading/trailing digits and symbols, lower-cased."""
    low = password.lower()
    core = re.sub(r"^[\d\W_]+|[\d\W_]+$", "", low)
    stems = {low, core}
    for size in range(1, len(core) // 2 + 1):  # "passwordpassword"
        if len(core) % size == 0 and core[:size] * (len(core) // size) == core:
            stems.add(core[:size])
    return stems


def check_staff_password(password: str, username: str = "") -> None:
    """Raise CredentialRefused unless ``password`` has STAFF_PASSWORD_MIN_LENGTH characters or more, is
    not a common password (or one padded with digits or symbols) and does not contain the user name."""
    password = password or ""
    minimum = int(current_app.config["STAFF_PASSWORD_MIN_LENGTH"])
    if len(password) < minimum:
        raise CredentialRefused("password_short", min=minimum)
    if len(password) > 1024:
        raise CredentialRefused("password_long", max=1024)
    stems = _stems(password)
    if stems & common_passwords() or stems & CONTEXT_WORDS or (password.isdigit() and is_trivial_pin(password)):
        raise CredentialRefused("password_common")
    user = (username or "").strip().lower()
    if len(user) >= 3 and user in password.lower():
        raise CredentialRefused("password_username")
