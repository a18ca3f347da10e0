"""import-slims against a real MariaDB holding a SLiMS-shaped database (tests/slims/fixture.sql).

The command runs as a subprocess with a production-like environment, twice and three times:
the second run applies the changes made in SLiMS meanwhile, and nothing is ever duplicated.
Skipped when MariaDB is not reachable on this machine; a failure in CI (CI=true).
"""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).with_name("fixture.sql")
FLASK = str(Path(sys.executable).with_name("flask"))
MARIADB = {"host": os.environ.get("OPAC_TEST_MARIADB_HOST", "127.0.0.1"),
           "port": int(os.environ.get("OPAC_TEST_MARIADB_PORT", "3306")), "user": "root", "password": ""}


def _server():
    import pymysql

    try:
        return pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=True, connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"MariaDB is not reachable at {MARIADB['host']}:{MARIADB['port']} but CI requires it: {exc}")
        pytest.skip(f"MariaDB not reachable at {MARIADB['host']}:{MARIADB['port']}")


def run_sql(conn, script: str) -> None:
    """Run a script of ';'-terminated statements (no ';' inside the fixture's values)."""
    with conn.cursor() as cur:
        for stmt in script.split(";\n"):
            body = "\n".join(line for line in stmt.splitlines() if not line.startswith("--")).strip()
            if body:
                cur.execute(body)


@pytest.fixture
def slims_db():
    """A fresh SLiMS database ``slims_test_<random>`` loaded from the fixture; dropped afterwards."""
    server = _server()
    name = f"slims_test_{uuid.uuid4().hex[:10]}"
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_unicode_ci")
    server.select_db(name)
    run_sql(server, FIXTURE.read_text(encoding="utf-8"))
    try:
        yield server, f"mysql+pymysql://root@{MARIADB['host']}:{MARIADB['port']}/{name}"
    finally:
        with server.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        server.close()


@pytest.fixture
def opac_url(tmp_path):
    """The opac database the command writes: a temp SQLite file, or a fresh PostgreSQL database when
    OPAC_TEST_DATABASE_URL is set (named after OPAC_TEST_DB_PREFIX, dropped afterwards)."""
    pg = os.environ.get("OPAC_TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path}/opac.sqlite"
        return
    base = sa.make_url(pg).set(drivername="postgresql+psycopg")
    name = f"{os.environ.get('OPAC_TEST_DB_PREFIX', '')}slims_{uuid.uuid4().hex[:8]}".lower()
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prod_env(tmp_path: Path, db_url: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPAC_")}
    env.update({"OPAC_DATABASE_URL": db_url or f"sqlite:///{tmp_path}/opac.sqlite",
                "OPAC_INDEX_DIR": str(tmp_path / "index"),
                "OPAC_BASE_URL": "https://opac.example.org", "OPAC_SECRET_KEY": "slims-test-" + uuid.uuid4().hex})
    return env


def flask(env: dict, *args: str) -> str:
    r = subprocess.run([FLASK, "--app", "opac", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"flask {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def counts(out: str) -> dict[str, list[int]]:
    """The report's table: kind -> [imported, updated, unchanged, skipped]."""
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0] in ("records", "items", "patrons", "loans", "history"):
            table[parts[0]] = [int(p) for p in parts[1:]]
    return table


class Library:
    """Read the opac database the command wrote (plain SQL, as a second process would)."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def rows(self, sql: str, **params) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(sa.text(sql), params).mappings()]

    def one(self, sql: str, **params):
        with self.engine.connect() as c:
            return c.execute(sa.text(sql), params).scalar()

    def record(self, control: str) -> dict:
        rows = self.rows("SELECT * FROM record WHERE control_number = :c", c=control)
        assert len(rows) == 1, f"{control}: {len(rows)} rows"
        rec = rows[0]
        for k in ("authors", "subjects", "languages", "isbns", "issns", "series", "notes"):
            rec[k] = json.loads(rec[k]) if isinstance(rec[k], str) else rec[k]
        return rec

    def item(self, barcode: str) -> dict:
        rows = self.rows("SELECT i.*, l.code AS location_code, l.name AS location_name, r.control_number "
                         "FROM item i JOIN record r ON r.id = i.record_id LEFT JOIN location l ON l.id = i.location_id "
                         "WHERE i.barcode = :b", b=barcode)
        assert len(rows) == 1, f"{barcode}: {len(rows)} rows"
        return rows[0]

    def patron(self, card: str) -> dict:
        rows = self.rows("SELECT p.*, c.code AS category, c.name AS category_name FROM patron p "
                         "JOIN patron_category c ON c.id = p.category_id WHERE p.card_number = :c", c=card)
        return rows[0] if rows else None

    def loans(self, barcode: str) -> list[dict]:
        return self.rows("SELECT l.*, p.card_number FROM loan l JOIN item i ON i.id = l.item_id "
                         "LEFT JOIN patron p ON p.id = l.patron_id WHERE i.barcode = :b ORDER BY l.id", b=barcode)


def test_mapping_doctests():
    from opac.slims import mapping

    assert doctest.testmod(mapping).failed == 0


def test_import_slims_twice_updates_and_never_duplicates(slims_db, opac_url, tmp_path):
    from opac.catalog.isbn import normalize_isbn

    server, url = slims_db
    env = prod_env(tmp_path, opac_url)
    flask(env, "init-db")
    out = flask(env, "import-slims", "--url", url)
    lib = Library(opac_url)
    table = counts(out)
    assert table["records"] == [7, 0, 0, 1], out
    assert "skipped records 7: no title" in out
    assert table["patrons"] == [3, 0, 0, 1], out
    assert "skipped patrons M004: no member_name" in out
    assert table["loans"][0] == 2 and table["loans"][3] == 3, out
    assert "loan_id 3: copy 'B9999' is not in the catalogue" in out
    assert "loan_id 4: member 'M404' is not a patron" in out
    assert "loan_id 5: no due date" in out
    assert table["history"] == [0, 0, 0, 0], out  # returned loans only with --with-history
    assert "location 'XYZ' does not exist in SLiMS" in out
    assert "no barcode (item_code is empty)" in out
    assert "skipped items B0404: its record (biblio_id 404) does not exist in SLiMS" in out

    # records: ISBD title split, publisher/place from the master tables, ISBN typed with spaces
    r1 = lib.record("slims:1")
    assert (r1["title"], r1["subtitle"], r1["publisher"], r1["place"], r1["year"]) == (
        "Laskar pelangi", "sebuah novel", "Bentang Pustaka", "Yogyakarta", 2005)
    assert r1["isbns"] == [normalize_isbn("9793062797")] and r1["languages"] == ["ind"]
    assert r1["series"] == ["Tetralogi Laskar Pelangi"] and r1["material_type"] == "book"
    assert r1["authors"] == [{"name": "Hirata, Andrea", "role": "author", "kind": "person"}]
    assert r1["physical"] == "xiv, 529 hlm. ; 20 cm" and r1["edition"] == "Cet. 1"
    assert r1["call_number"] == "899.221 3 HIR l" and r1["source"] == "slims"
    r2 = lib.record("slims:2")
    assert [a["name"] for a in r2["authors"]] == ["Toer, Pramoedya Ananta"]  # duplicate author rows merged
    assert r2["isbns"] == [normalize_isbn("9799731232")] and r2["place"] == "Jakarta" and r2["year"] == 2005
    assert r2["subjects"] == ["Novel Indonesia", "Sejarah"] and r2["notes"] == ["Buku pertama Tetralogi Buru"]
    r4 = lib.record("slims:4")  # mojibake undone, empty strings are nothing
    assert r4["title"] == "Sosiologi Émile Durkheim" and r4["authors"][0]["name"] == "Émile Durkheim"
    assert r4["notes"] == ["Kata pengantar oleh ‘Aisyah’"] and r4["subjects"] == ["Sosiologi"]
    assert (r4["isbns"], r4["languages"], r4["publisher"], r4["year"], r4["physical"]) == ([], [], None, None, None)
    r5 = lib.record("slims:5")
    assert r5["material_type"] == "thesis" and r5["year"] == 2019
    assert [(a["name"], a["role"], a["kind"]) for a in r5["authors"]] == [
        ("Siswanto", "author", "person"), ("Universitas Gadjah Mada. Fakultas Teknik", "author", "organization"),
        ("Dewi Handayani", "contributor", "person")]
    r6 = lib.record("slims:6")
    assert (r6["material_type"], r6["issns"], r6["isbns"], r6["languages"]) == ("journal", ["0126-0537"], [], ["eng"])
    r8 = lib.record("slims:8")
    assert r8["material_type"] == "software" and r8["isbns"] == ["9786020312583"]
    assert r8["hidden"] and not r1["hidden"]  # opac_hide: imported (its copy circulates), not shown
    assert lib.one("SELECT COUNT(*) FROM record") == 7

    # items: locations from mst_location, an unknown code is left out, statuses mapped
    b1 = lib.item("B0001")
    assert (b1["control_number"], b1["location_code"], b1["location_name"], b1["collection"]) == (
        "slims:1", "PST", "Perpustakaan Pusat", "Fiction")
    assert b1["call_number"] == "899.221 3 HIR l c.1" and b1["status"] == "on_loan"
    b2 = lib.item("B0002")
    assert b2["location_id"] is None and b2["status"] == "available" and b2["call_number"] == "899.221 3 HIR l"
    assert lib.item("B0003")["status"] == "on_loan"
    assert lib.item("B0004")["status"] == "missing"
    assert lib.item("SK-2019-001")["status"] == "not_for_loan"
    assert lib.item("B0008")["status"] == "not_for_loan"  # in repair
    assert lib.item("00020.1")["location_id"] is None
    assert lib.one("SELECT COUNT(*) FROM item") == 8

    # patrons: no usable PIN, categories from member types with their loan rules
    m1 = lib.patron("M001")
    assert (m1["name"], m1["email"], m1["whatsapp"], str(m1["expires_on"])) == (
        "Siti Nurhaliza", "siti.nurhaliza@example.ac.id", "081234567890", "2027-06-30")
    assert (m1["category"], m1["category_name"]) == ("slims-1", "Mahasiswa")
    assert m1["password_hash"] == "!no-pin-yet"
    m2 = lib.patron("M002")
    assert m2["email"] is None and m2["expires_on"] is None and m2["category"] == "slims-2"
    m3 = lib.patron("M003")
    assert (m3["name"], m3["email"], m3["whatsapp"], m3["category"]) == ("Rahmat Hidayat", None, None, "public")
    assert "e-mail 'bukan-email' is not valid" in out
    assert lib.patron("M004") is None
    policy = lib.rows("SELECT p.* FROM circulation_policy p JOIN patron_category c ON c.id = p.category_id "
                      "WHERE c.code = 'slims-1'")
    assert [(p["loan_days"], p["max_loans"], p["max_renewals"], p["max_holds"], p["fine_per_day"]) for p in policy] == [
        (7, 3, 1, 2, 500)]

    # open loans with their due dates
    [loan] = lib.loans("B0003")
    assert (loan["card_number"], str(loan["due_date"]), loan["renewals"], loan["returned_at"]) == ("M001", "2026-11-27", 1, None)
    [loan] = lib.loans("B0001")
    assert loan["card_number"] == "M001" and loan["returned_at"] is None
    assert lib.one("SELECT COUNT(*) FROM loan") == 2

    # a member without e-mail gets a PIN at the desk; trivial PINs are refused with the reason
    r = subprocess.run([FLASK, "--app", "opac", "patron", "set-pin", "--card", "M002", "--pin", "1234"], env=env,
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "terlalu mudah ditebak" in r.stderr  # Indonesian, the default language
    assert lib.patron("M002")["password_hash"] == "!no-pin-yet"
    flask(env, "patron", "set-pin", "--card", "M002", "--pin", "583920")
    assert lib.patron("M002")["password_hash"].startswith("$argon2")

    # the catalogue is searchable straight away
    assert "OK: 6 documents" in flask(env, "index", "status")  # the 7 records but the hidden one

    # --- changes in SLiMS, then a second run (with history this time)
    run_sql(server, """
        UPDATE biblio SET title = 'Evaluasi kinerja perusahaan : teknik evaluasi bisnis', publish_year = '2003' WHERE biblio_id = 3;
        UPDATE item SET location_id = 'FT' WHERE item_code = 'B0002';
        UPDATE item SET item_status_id = NULL WHERE item_code = 'B0004';
        UPDATE member SET member_email = 'budi.santoso@example.id', expire_date = '2028-01-31' WHERE member_id = 'M002';
        UPDATE loan SET due_date = '2026-12-04', renewed = 2 WHERE loan_id = 1;
        UPDATE loan SET is_return = 1, return_date = '2026-11-28' WHERE loan_id = 6;
        INSERT INTO biblio (biblio_id, gmd_id, title, isbn_issn, publisher_id, publish_year, language_id)
          VALUES (9, 1, 'Cantik itu luka', '', 3, '2015', 'id');
        INSERT INTO item (item_id, biblio_id, item_code, location_id, input_date) VALUES (10, 9, 'B0009', 'PST', NOW());
    """)
    out2 = flask(env, "import-slims", "--url", url)
    table2 = counts(out2)
    assert table2["records"] == [1, 3, 4, 1], out2  # new 9; updated 3 (title), 1 (B0002 moved), 2 (B0004 found)
    assert table2["patrons"] == [0, 1, 2, 1], out2
    assert lib.one("SELECT COUNT(*) FROM record") == 8 and lib.one("SELECT COUNT(*) FROM item") == 9
    assert lib.one("SELECT COUNT(*) FROM patron") == 3
    r3 = lib.record("slims:3")
    assert (r3["title"], r3["subtitle"], r3["year"]) == ("Evaluasi kinerja perusahaan", "teknik evaluasi bisnis", 2003)
    assert lib.item("B0002")["location_code"] == "FT"
    assert lib.item("B0004")["status"] == "available"
    m2 = lib.patron("M002")
    assert m2["email"] == "budi.santoso@example.id" and str(m2["expires_on"]) == "2028-01-31"
    [loan] = lib.loans("B0003")
    assert (str(loan["due_date"]), loan["renewals"], loan["returned_at"]) == ("2026-12-04", 2, None)
    [loan] = lib.loans("B0001")  # M001's loan, returned in SLiMS meanwhile, is closed here too
    assert loan["card_number"] == "M001" and str(loan["returned_at"])[:10] == "2026-11-28"
    assert lib.item("B0001")["status"] == "available"
    assert table2["loans"][:2] == [0, 2] and table2["history"] == [0, 0, 0, 0], out2

    # --- a third run with nothing changed but the history asked for: only the history is new
    out3 = flask(env, "import-slims", "--url", url, "--with-history")
    table3 = counts(out3)
    assert table3["records"] == [0, 0, 8, 1] and table3["patrons"] == [0, 0, 3, 1], out3
    assert table3["loans"][:2] == [0, 0] and table3["history"] == [1, 0, 1, 0], out3
    b1_loans = lib.loans("B0001")
    assert [(x["card_number"], str(x["returned_at"])[:10]) for x in b1_loans] == [("M001", "2026-11-28"), ("M002", "2026-01-12")]
    # --- and a fourth: nothing new, nothing duplicated
    table4 = counts(flask(env, "import-slims", "--url", url, "--with-history"))
    assert table4["history"] == [0, 0, 2, 0] and table4["loans"][:2] == [0, 0]
    assert lib.one("SELECT COUNT(*) FROM loan") == 3 and lib.one("SELECT COUNT(*) FROM record") == 8


def test_unreachable_slims_database_is_a_clear_error(tmp_path):
    env = prod_env(tmp_path)
    flask(env, "init-db")
    r = subprocess.run([FLASK, "--app", "opac", "import-slims", "--url", "mysql+pymysql://root@127.0.0.1:1/nope"],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "cannot open the SLiMS database" in r.stderr and "Traceback" not in r.stderr


def test_imported_patron_has_no_pin_until_reset(app):
    """A migrated member cannot log in with any PIN; the reset link (they have an e-mail) sets one."""
    from opac.accounts.services import (
        AccountError,
        authenticate,
        category_by_code,
        request_password_reset,
        reset_password,
        upsert_imported_patron,
    )
    from opac.extensions import db

    with app.app_context():
        patron, outcome = upsert_imported_patron("M001", "Siti Nurhaliza", category_by_code("student"),
                                                 email="siti@example.ac.id", whatsapp=None, expires_on=None)
        assert outcome == "imported"
        for guess in ("", "!no-pin-yet", "no-pin-yet", "246810"):
            with pytest.raises(AccountError):
                authenticate("M001", guess, "10.0.0.1")
        token = request_password_reset("M001", ip="10.0.0.2")
        assert token
        reset_password(token, "493817", "493817")
        db.session.commit()
        assert authenticate("M001", "493817", "10.0.0.3").card_number == "M001"
        _again, outcome = upsert_imported_patron("M001", "Siti Nurhaliza", category_by_code("student"),
                                                 email="siti@example.ac.id", whatsapp=None, expires_on=None)
        assert outcome == "unchanged"
        assert authenticate("M001", "493817", "10.0.0.4")  # a second import keeps the PIN chosen here


def test_set_patron_pin_refuses_unknown_card(app):
    from opac.accounts.services import AccountError, set_patron_pin

    with app.app_context(), pytest.raises(AccountError) as err:
        set_patron_pin("NOPE", "583920")
    assert "NOPE" in err.value.message
