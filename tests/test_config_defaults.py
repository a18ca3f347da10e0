"""Each setting has one default, in opac/config.py: code reads ``config["KEY"]``, never
``config.get("KEY", another_default)`` (two defaults drift apart: 4 in one file, 6 in another)."""

from __future__ import annotations

import re
from pathlib import Path

import opac
from opac import config

PACKAGE = Path(opac.__file__).parent
KEYS = set(config.defaults())
GET = re.compile(r"""\b(?:config|cfg)\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_documented_settings_are_read_without_a_second_default():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts or path == Path(config.__file__):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for key in GET.findall(line):
                if key in KEYS:
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not offenders, "read documented settings as config[KEY]:\n" + "\n".join(offenders)


def test_password_minimum_comes_from_the_config(app):
    from opac.accounts.services import AccountError, check_new_secret

    app.config["STAFF_PASSWORD_MIN_LENGTH"] = 20
    with app.app_context():
        check_new_secret("staff", "kuda-laut-biru-sekali", username="ani")  # 21 characters
        check_new_secret("staff", "kuda-laut-biru-sekal", username="ani")  # 20
        try:
            check_new_secret("staff", "kuda-laut-biru-seka", username="ani")  # 19
        except AccountError as exc:
            assert exc.params == {"min": 20}
        else:
            raise AssertionError("a 19-character password passed a minimum of 20")
