"""The catalogue's material types, one row each: everything the app says of a kind of material.

A row holds the code (stored in ``record.material_type``, the index field ``f_type``, ``type=`` in
search URLs and the OAI-PMH set ``type:<code>``), its label (English msgid; the Indonesian is in
messages.po), the words indexed with it, how imports recognise it (CSV/JSON-lines type or GMD
column and a partner's ``dc:type``, MARC leader/06, SLiMS GMD names and RDA content types) and how
exports write it (MARC leader/06-07, Dublin Core, RIS, BibTeX, COinS, schema.org). Adding a type is
one more row here, its label's Indonesian in messages.po, and a migration widening the
``material_type`` CHECK constraints; tests/catalog/test_material_types.py says what is missing.

>>> MATERIAL_TYPES[:4], DEFAULT
(('book', 'ebook', 'journal', 'article'), 'book')
>>> t = BY_CODE["thesis"]
>>> t.leader, t.dc_type, t.ris, t.bibtex, t.schema_org
('am', 'Text', 'THES', 'phdthesis', 'Thesis')
>>> NAMES["skripsi"], NAMES["dvd"], NAMES["article"], NAMES.get("brosur")
('thesis', 'audiovisual', 'article', None)
>>> of("nonsense") is of(None) is BY_CODE["other"]
True
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class MaterialType:
    """One kind of material; a field left out takes the generic value (leader "am", Text, GEN, CreativeWork)."""

    code: str
    #: what patrons and staff see (English; the Indonesian is the translation in messages.po)
    label: LazyString
    #: more words indexed with each record of the type, so that "skripsi" or "ebook" find them
    index_words: str = ""
    #: names a CSV or JSON-lines type/gmd column or a partner's dc:type may give, besides the code
    names: tuple[str, ...] = ()
    #: words that make a SLiMS GMD name this type (a part of the name is enough; see SLIMS_GMD_ORDER)
    slims_gmd: tuple[str, ...] = ()
    #: RDA content types (SLiMS ``mst_content_type.code``) read as this type when the GMD says nothing
    rda_content: tuple[str, ...] = ()
    #: MARC leader/06-07 written for a record of the type
    leader: str = "am"
    #: leader/06 values read as this type; language material (a, t) is told apart by leader/07,
    #: 007, 245 $h and 502 in ``catalog.marc.material_type_of``
    leader06: str = ""
    #: DCMI type written to oai_dc (the code follows it as a second dc:type)
    dc_type: str = "Text"
    ris: str = "GEN"
    bibtex: str = "book"
    #: OpenURL ``rft.genre`` of COinS
    coins_genre: str = "book"
    schema_org: str = "CreativeWork"


TYPES = (
    MaterialType("book", _l("Book"), "buku book", names=("text", "teks", "book", "buku", "monograph"),
                 rda_content=("txt", "tct"), ris="BOOK", schema_org="Book"),
    MaterialType("ebook", _l("E-book"), "ebook e-book buku elektronik digital",
                 names=("electronic resource", "e-book", "ebook", "buku elektronik"),
                 slims_gmd=("e-book", "ebook", "electronic", "elektronik", "digital", "online"),
                 ris="EBOOK", schema_org="Book"),
    MaterialType("journal", _l("Journal"), "jurnal journal majalah serial",
                 names=("journal", "jurnal", "majalah", "serial", "magazine"),
                 slims_gmd=("jurnal", "journal", "majalah", "magazine", "serial", "periodical", "buletin"),
                 leader="as", ris="JFULL", bibtex="periodical", coins_genre="journal", schema_org="Periodical"),
    MaterialType("article", _l("Article"), "artikel article", slims_gmd=("artikel", "article"), leader="ab",
                 ris="JOUR", bibtex="article", coins_genre="article", schema_org="ScholarlyArticle"),
    MaterialType("thesis", _l("Thesis"), "skripsi tesis disertasi thesis dissertation tugas akhir",
                 names=("skripsi", "tesis", "thesis", "disertasi", "tugas akhir"),
                 slims_gmd=("skripsi", "tesis", "thesis", "disertasi", "dissertation", "tugas akhir"),
                 ris="THES", bibtex="phdthesis", schema_org="Thesis"),
    MaterialType("audiovisual", _l("Audio-visual"), "video dvd film audiovisual",
                 names=("cd", "dvd", "video", "videorecording"),
                 slims_gmd=("video", "film", "motion picture", "dvd", "vcd", "slide", "filmstrip", "transparency"),
                 rda_content=("tdi", "tdm"), leader="gm", leader06="g", dc_type="MovingImage", ris="VIDEO",
                 schema_org="Movie"),
    MaterialType("audio", _l("Audio"), "audio cd rekaman", names=("sound recording", "audio", "kaset"),
                 slims_gmd=("sound", "audio", "kaset", "cassette"), rda_content=("snd", "spw"), leader="im",
                 leader06="ij", dc_type="Sound", ris="SOUND", schema_org="MusicRecording"),
    MaterialType("music", _l("Music score"), "musik music partitur", names=("music",),
                 slims_gmd=("music", "musik", "score"), rda_content=("ntm", "prm"), leader="cm", leader06="cd",
                 dc_type="Sound", ris="MUSIC", schema_org="MusicComposition"),
    MaterialType("map", _l("Map"), "peta map atlas", names=("map", "peta", "cartographic material"),
                 slims_gmd=("map", "peta", "globe", "atlas", "chart"),
                 rda_content=("cri", "crd", "crf", "crm", "crt", "crn"), leader="em", leader06="ef",
                 dc_type="Image", ris="MAP", schema_org="Map"),
    MaterialType("software", _l("Software"), "software perangkat lunak", names=("software",),
                 slims_gmd=("software", "perangkat lunak", "computer", "komputer", "cd-rom"),
                 rda_content=("cop", "cod"), leader="mm", leader06="m", dc_type="Software", ris="COMP"),
    MaterialType("manuscript", _l("Manuscript"), "naskah manuscript", names=("manuscript", "naskah"),
                 slims_gmd=("manuscript", "naskah"), leader="tm", ris="MANSCPT"),
    MaterialType("kit", _l("Kit"), "kit", names=("kit",),
                 slims_gmd=("kit", "game", "diorama", "realia", "model", "flash card", "picture"), leader="om",
                 leader06="op", dc_type="PhysicalObject"),
    MaterialType("other", _l("Other"), leader="rm", leader06="kr"),
)

#: The codes in the order staff choose from (also the CHECK constraints' list).
MATERIAL_TYPES = tuple(t.code for t in TYPES)
BY_CODE = MappingProxyType({t.code: t for t in TYPES})
MATERIAL_TYPE_LABELS = MappingProxyType({t.code: t.label for t in TYPES})
#: The type of a record when its source says nothing we recognise.
DEFAULT = "book"
#: Code or name (lower case) -> code, for CSV/JSON-lines columns and harvested dc:type.
NAMES = MappingProxyType({**{n: t.code for t in TYPES for n in t.names}, **{t.code: t.code for t in TYPES}})
#: MARC leader/06 -> code, for records that are not language material.
LEADER06 = MappingProxyType({c: t.code for t in TYPES for c in t.leader06})
#: Which type a SLiMS GMD name holding the words of several is: the first here ("Skripsi digital"
#: is a thesis, "Electronic journal" a journal).
SLIMS_GMD_ORDER = ("thesis", "journal", "article", "ebook", "software", "map", "music", "audio", "audiovisual",
                   "manuscript", "kit")
#: RDA content type -> code.
RDA_CONTENT = MappingProxyType({c: t.code for t in TYPES for c in t.rda_content})


def of(code: str | None) -> MaterialType:
    """The row of ``code``; any code not in the list is treated as "other"."""
    return BY_CODE.get(code or "", BY_CODE["other"])
