"""Indonesian by default, English on request and remembered; translations complete and compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent.parent / "opac" / "translations"


def test_indonesian_is_the_default(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "Cari di katalog" in page and "Langsung ke konten utama" in page


def test_english_on_request_and_remembered(client):
    r = client.get("/?hl=en")
    page = r.get_data(as_text=True)
    assert '<html lang="en">' in page and "Skip to main content" in page
    assert "lang=en" in r.headers["Set-Cookie"]
    again = client.get("/").get_data(as_text=True)  # the cookie keeps English
    assert '<html lang="en">' in again
    back = client.get("/?hl=id").get_data(as_text=True)
    assert '<html lang="id">' in back


def test_unknown_language_falls_back_to_indonesian(client):
    assert '<html lang="id">' in client.get("/?hl=xx").get_data(as_text=True)


def test_every_message_is_translated_and_the_mo_file_is_current():
    with open(TRANSLATIONS / "messages.pot", "rb") as f:
        template = read_po(f)
    with open(TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="id")
    with open(TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    untranslated = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not untranslated
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id} <= {
        m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    for m in catalog:
        if m.id:
            assert compiled.get(m.id) is not None and list(compiled[m.id].string if not isinstance(m.string, str) else [compiled[m.id].string]) == list(m.string if not isinstance(m.string, str) else [m.string]), m.id


def test_templates_use_no_untranslated_english_for_key_labels(client):
    page = client.get("/search?q=x").get_data(as_text=True)
    for english in ("Search the catalogue", "No results", "Skip to main content"):
        assert english not in page
