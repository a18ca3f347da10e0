"""Every ``flask --app opac`` command, run as a subprocess in a production-like environment
(tests/cli_helpers.py: a database URL, an index directory, the public base URL, a secret key;
never TESTING or SERVER_NAME). The first test makes sure no command is left without one."""

from __future__ import annotations

import ast
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from opac.extensions import db
from tests.cli_helpers import BASE_URL, prod_env, run_cli

TESTS = Path(__file__).resolve().parent
#: Commands that are not the app's own (Flask's and Flask-Migrate's).
NOT_OURS = {"run", "shell", "routes", "db"}


def _command_paths(group, prefix=()) -> list[tuple[str, ...]]:
    import click

    paths = []
    for name, cmd in sorted(group.commands.items()):
        if not prefix and name in NOT_OURS:
            continue
        path = (*prefix, name)
        if isinstance(cmd, click.Group):
            paths += _command_paths(cmd, path)
        else:
            paths.append(path)
    return paths


#: Test helpers that run ``flask --app opac <args>`` in a subprocess: (env, *args).
SUBPROCESS_HELPERS = {"run_cli", "flask", "_cli"}


def _run_cli_calls() -> list[tuple[str, ...]]:
    """The command words of every subprocess run of the app in the test suite: ``run_cli(env, "…", …)``
    (and the other modules' helpers of the same shape) and ``[FLASK, "--app", "opac", "…", …]`` lists."""

    def strings(nodes) -> tuple[str, ...]:
        words = []
        for arg in nodes:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or arg.value.startswith("-"):
                break
            words.append(arg.value)
        return tuple(words)

    calls = []
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in SUBPROCESS_HELPERS:
                calls.append(strings(node.args[1:]))
            elif isinstance(node, ast.List):
                values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                for i in range(len(values) - 1):
                    if values[i] == "--app" and values[i + 1] == "opac":
                        calls.append(strings(node.elts[i + 2:]))
    return [c for c in calls if c]


def test_every_command_has_a_subprocess_test(app):
    commands = _command_paths(app.cli)
    assert ("init-db",) in commands and ("circ", "checkin") in commands  # the walk works
    calls = _run_cli_calls()
    untested = [" ".join(c) for c in commands if not any(call[: len(c)] == c for call in calls)]
    assert not untested, f"commands without a run_cli(...) subprocess test: {untested}"


def test_help_lists_every_command_in_a_production_environment(app, tmp_path):
    out = run_cli(prod_env(tmp_path), "--help").stdout
    listed = out.split("Commands:", 1)[1].split()
    shown = {w for w in listed if w in {c.name for c in app.cli.commands.values()} | NOT_OURS}
    assert shown - NOT_OURS == set(app.cli.commands) - NOT_OURS, out


# ----------------------------------------------------------------------------- a fresh database


def test_init_db_demo_reindex_index_and_export_on_a_fresh_database(tmp_path):
    env = prod_env(tmp_path)
    out = run_cli(env, "init-db").stdout
    assert "Database ready: sqlite:///" in out
    run_cli(env, "init-db")  # upgrading an up-to-date database changes nothing
    assert "Pruned 0 feed rows." in run_cli(env, "index", "prune").stdout  # a fresh feed has nothing old
    with sqlite3.connect(tmp_path / "opac.sqlite") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"record", "item", "patron", "loan", "hold", "alembic_version"} <= tables
    assert "student" in run_cli(env, "circ", "policies").stdout

    out = run_cli(env, "demo").stdout
    n = int(out.split("Demo catalogue: ")[1].split()[0])
    assert n > 200
    assert "not loaded" in run_cli(env, "demo").stdout
    missing = run_cli(env, "index", "status", expect=1).stdout  # a new node has no index yet
    assert "PROBLEM" in missing and "flask --app opac reindex" in missing
    assert run_cli(env, "reindex").stdout.strip().endswith(f"Indexed {n} records.")
    status = run_cli(env, "index", "status").stdout
    assert status.startswith("OK: ") and f"{n} documents" in status, status
    assert "0 pending" in run_cli(env, "index", "sync").stdout

    run_cli(env, "export", "--format", "xml", "-o", str(tmp_path / "all.xml"))
    xml = (tmp_path / "all.xml").read_text(encoding="utf-8")
    assert xml.count("<record") == n and "<collection" in xml
    out = run_cli(env, "export", "--format", "mrc", "-o", str(tmp_path / "all.mrc")).stdout
    assert f"Exported {n} records" in out
    assert (tmp_path / "all.mrc").read_bytes().count(b"\x1d") == n
    # a re-import of the export duplicates nothing
    out = run_cli(env, "import", str(tmp_path / "all.mrc")).stdout
    assert "Imported 0 / " in out and " / skipped 0 " in out, out
    with sqlite3.connect(tmp_path / "opac.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM record").fetchone()[0] == n


def test_index_status_says_how_to_repair_a_missing_index(tmp_path):
    env = prod_env(tmp_path, INDEX_AUTO_REBUILD="false")
    run_cli(env, "init-db")
    proc = run_cli(env, "index", "status", expect=1)
    assert "PROBLEM" in proc.stdout and "reindex" in proc.stdout


# ----------------------------------------------------------------------------- on the test's database


@pytest.fixture
def env(app, tmp_path):
    """A production-like environment on the ``app`` fixture's database (SQLite, or PostgreSQL when
    OPAC_TEST_DATABASE_URL is set) and index."""
    with app.app_context():
        db.engine.dispose()
    return prod_env(tmp_path / "cli", database_url=app.config["SQLALCHEMY_DATABASE_URI"],
                    index_dir=app.config["INDEX_DIR"])


def test_patron_commands(app, env, tmp_path):
    from opac.accounts.models import Patron, PatronCategory

    assert "Category alumni: Alumni" in run_cli(env, "patron", "category", "--code", "alumni", "--name", "Alumni",
                                                "--card-years", "2").stdout
    run_cli(env, "patron", "category", "--code", "alumni", "--name", "Alumni UNS")  # renames
    out = run_cli(env, "patron", "create", "--card", "A001", "--pin", "4826", "--name", "Siti Aminah",
                  "--category", "alumni", "--email", "siti@example.org").stdout
    assert "Patron A001 created" in out
    dup = run_cli(env, "patron", "create", "--card", "A001", "--pin", "4826", "--name", "X", "--category", "alumni",
                  expect=1)
    assert "A001" in dup.stderr and "Traceback" not in dup.stderr
    bad = run_cli(env, "patron", "create", "--card", "A002", "--pin", "4826", "--name", "X", "--category", "nope",
                  expect=1)
    assert "nope" in bad.stderr and "Traceback" not in bad.stderr

    csv_file = tmp_path / "patrons.csv"
    csv_file.write_text("card,pin,name,category,email\nB001,4826,Budi,student,budi@example.org\n"
                        "B002,4826,Citra,lecturer,\nB003,4826,Dewi,astronaut,\n", encoding="utf-8")
    out = run_cli(env, "patron", "import", str(csv_file)).stdout
    assert "Created 2 patrons; 1 rows skipped." in out and "line 4:" in out and "astronaut" in out

    assert "blocked" in run_cli(env, "patron", "block", "--card", "B001", "--note", "Buku hilang").stdout
    with app.app_context():
        p = db.session.scalar(select(Patron).where(Patron.card_number == "B001"))
        assert (p.blocked, p.block_note) == (True, "Buku hilang")
        cat = db.session.scalar(select(PatronCategory).where(PatronCategory.code == "alumni"))
        assert (cat.name, cat.card_years) == ("Alumni UNS", 1)
        assert db.session.scalar(select(Patron.email).where(Patron.card_number == "A001")) == "siti@example.org"
        # a deployment hashes PINs with Argon2id at the library's recommended cost (the test process
        # itself hashes at the lightest: tests/conftest.py, light_password_hashing)
        stored = db.session.scalar(select(Patron.password_hash).where(Patron.card_number == "A001"))
        recommended = PasswordHasher()
        assert extract_parameters(stored) == Parameters(
            type=Type.ID, version=19, salt_len=recommended.salt_len, hash_len=recommended.hash_len,
            time_cost=recommended.time_cost, memory_cost=recommended.memory_cost, parallelism=recommended.parallelism)
    assert "unblocked" in run_cli(env, "patron", "unblock", "--card", "B001").stdout
    with app.app_context():
        assert db.session.scalar(select(Patron.blocked).where(Patron.card_number == "B001")) is False
    missing = run_cli(env, "patron", "block", "--card", "ZZZ", "--note", "x", expect=1)
    assert "Traceback" not in missing.stderr


def test_staff_create(app, env):
    from opac.accounts.models import StaffUser

    out = run_cli(env, "staff", "create", "--username", "pustakawan", "--password", "kopi-susu-pagi-hari", "--name",
                  "Pustakawan", "--role", "admin").stdout
    assert "Staff account pustakawan (admin) created." in out
    dup = run_cli(env, "staff", "create", "--username", "pustakawan", "--password", "kopi-susu-pagi-hari", "--name", "P",
                  expect=1)
    assert "could not create pustakawan" in dup.stderr and "Traceback" not in dup.stderr
    short = run_cli(env, "staff", "create", "--username", "baru", "--password", "x", "--name", "B", expect=1)
    assert "Traceback" not in short.stderr
    with app.app_context():
        assert db.session.scalar(select(StaffUser.role).where(StaffUser.username == "pustakawan")) == "admin"
        assert db.session.scalar(select(StaffUser.id).where(StaffUser.username == "baru")) is None


def _scene(app, load_records, make_patron):
    from opac.catalog.models import Location

    ids = load_records([dict(title="Bumi Manusia", items=[{"barcode": "BM1", "location": "PUSAT"}]),
                        dict(title="Laskar Pelangi", items=[{"barcode": "LP1", "location": "PUSAT"},
                                                            {"barcode": "LP2", "location": "PUSAT"}])])
    with app.app_context():
        loc = db.session.scalar(select(Location).where(Location.code == "PUSAT"))
        loc.is_pickup = True
        db.session.commit()
        pickup = loc.id
    borrower = make_patron(email="peminjam@example.org")
    waiting = make_patron(email="menunggu@example.org")
    return ids, pickup, borrower, waiting


def test_circ_checkout_and_a_checkin_that_fills_a_hold(app, env, load_records, make_patron):
    from opac.circulation import actions
    from opac.circulation.models import Hold, Loan
    from opac.mail import OutboxEmail
    from opac.notifications.models import Notification

    ids, pickup, (_b, borrower, _), (waiting_id, waiting, _) = _scene(app, load_records, make_patron)
    out = run_cli(env, "circ", "checkout", "--card", borrower, "--barcode", "BM1").stdout
    assert "title=Bumi Manusia" in out and "due_date=" in out
    refused = run_cli(env, "circ", "checkout", "--card", waiting, "--barcode", "BM1", expect=1)
    assert "Traceback" not in refused.stderr and refused.stderr.strip()
    with app.test_request_context():
        assert actions.place_hold(waiting_id, ids[0], pickup)["ok"]

    out = run_cli(env, "circ", "checkin", "--barcode", "BM1", "--location", "PUSAT").stdout
    assert "was_on_loan=True" in out and "hold=" in out and "'status': 'ready'" in out, out
    with app.app_context():
        assert db.session.scalar(select(Loan.returned_at).where(Loan.item.has(barcode="BM1"))) is not None
        hold = db.session.scalar(select(Hold).where(Hold.patron_id == waiting_id))
        assert hold.status == "ready"
        note = db.session.scalar(select(Notification).where(Notification.patron_id == waiting_id))
        assert note.kind == "hold_ready" and note.url.startswith("/")
        mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.to == "menunggu@example.org"))
        assert f"{BASE_URL}/" in mail.body  # an absolute link from OPAC_BASE_URL, made outside any request
    # a copy that is not on loan comes back without a fuss
    assert "was_on_loan=False" in run_cli(env, "circ", "checkin", "--barcode", "LP1").stdout


def test_circ_policy_and_policies(app, env):
    out = run_cli(env, "circ", "policy", "--category", "student", "--type", "thesis", "--loan-days", "3",
                  "--max-loans", "1", "--renew-from", "today").stdout
    assert "Policy student × thesis: 3 days, 1 loans" in out
    listed = run_cli(env, "circ", "policies").stdout
    assert any(line.split()[:3] == ["student", "thesis", "3"] for line in listed.splitlines()), listed
    bad = run_cli(env, "circ", "policy", "--category", "nope", "--loan-days", "3", expect=1)
    assert "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_calendar(app, env):
    assert "Closed on 2026-08-17: Hari Kemerdekaan" in run_cli(env, "calendar", "add-holiday", "2026-08-17",
                                                                 "Hari Kemerdekaan").stdout
    run_cli(env, "calendar", "add-holiday", "2026-08-17", "HUT RI")  # the same day renamed, not doubled
    listed = run_cli(env, "calendar", "list").stdout.strip().splitlines()
    assert listed == ["2026-08-17  HUT RI"]


def test_notify_sends_due_soon_and_overdue_notices(app, env, load_records, make_patron):
    from opac.circulation import rules
    from opac.circulation.models import Loan
    from opac.mail import OutboxEmail

    _ids, _pickup, (_b, borrower, _), (_w, other, _) = _scene(app, load_records, make_patron)
    run_cli(env, "circ", "checkout", "--card", borrower, "--barcode", "LP1")
    run_cli(env, "circ", "checkout", "--card", other, "--barcode", "LP2")
    with app.test_request_context():
        today = rules.today()
        soon = db.session.scalar(select(Loan).where(Loan.item.has(barcode="LP1")))
        late = db.session.scalar(select(Loan).where(Loan.item.has(barcode="LP2")))
        soon.due_date, late.due_date = today + timedelta(days=1), today - timedelta(days=2)
        db.session.commit()
    out = run_cli(env, "notify").stdout
    assert "due soon: 1" in out and "overdue: 1" in out, out
    with app.app_context():
        kinds = {m.to: m.kind for m in db.session.scalars(select(OutboxEmail))}
        assert kinds == {"peminjam@example.org": "due_soon", "menunggu@example.org": "overdue"}
        assert all(BASE_URL in m.body for m in db.session.scalars(select(OutboxEmail)))
    again = run_cli(env, "notify").stdout  # the same notices are not sent twice
    assert "due soon: 0" in again and "overdue: 0" in again, again


def test_push_keys(env):
    first = run_cli(env, "push", "keys").stdout
    key = first.split("VAPID public key: ")[1].strip()
    assert len(key) > 80
    vapid = Path(env["OPAC_INSTANCE_PATH"]) / "vapid.json"
    assert vapid.exists() and oct(vapid.stat().st_mode & 0o777) == "0o600"
    assert run_cli(env, "push", "keys").stdout == first  # kept, not replaced
    assert key not in run_cli(env, "push", "keys", "--force").stdout


def test_reference_purge(app, env):
    from opac.catalog.models import utcnow
    from opac.reference.models import Message, Question

    with app.app_context():
        old = Question(token="t-old", name="Penanya", email="penanya@example.org", status="closed",
                       closed_at=utcnow() - timedelta(days=400))
        old.messages.append(Message(author_kind="patron", body="Pertanyaan lama"))
        recent = Question(token="t-new", name="Baru", email="baru@example.org", status="closed",
                          closed_at=utcnow() - timedelta(days=3))
        db.session.add_all([old, recent])
        db.session.commit()
    assert "Purged 1 closed questions." in run_cli(env, "reference", "purge").stdout
    with app.app_context():
        rows = {q.token: q for q in db.session.scalars(select(Question))}
        assert rows["t-old"].email is None and rows["t-old"].purged_at is not None
        assert rows["t-old"].messages[0].body != "Pertanyaan lama"
        assert rows["t-new"].email == "baru@example.org"
