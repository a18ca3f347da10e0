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


def extracted_messages() -> set[str]:
    """Every message the code and templates use, read from the sources now (not from a .pot file that
    may be stale), with the keywords the project uses (``_l`` is flask_babel's lazy_gettext)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    root = TRANSLATIONS.parent.parent
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    method_map = [("opac/**.py", "python"), ("templates/**.html", "jinja2")]
    return {m[2] if isinstance(m[2], str) else m[2][0]
            for m in extract_from_dir(str(root), method_map, keywords=keywords) if m[2]}


def test_every_message_is_translated_and_the_mo_file_is_current():
    with open(TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f, locale="id")
    with open(TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = read_mo(f)
    untranslated = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not untranslated
    missing = extracted_messages() - {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    assert not missing, f"add these to opac/translations/id/LC_MESSAGES/messages.po: {sorted(missing)}"
    for m in catalog:
        if m.id:
            assert compiled.get(m.id) is not None and list(compiled[m.id].string if not isinstance(m.string, str) else [compiled[m.id].string]) == list(m.string if not isinstance(m.string, str) else [m.string]), m.id


def test_templates_use_no_untranslated_english_for_key_labels(client):
    page = client.get("/search?q=x").get_data(as_text=True)
    for english in ("Search the catalogue", "No results", "Skip to main content"):
        assert english not in page
