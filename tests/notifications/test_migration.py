"""The notices migration keeps what the old outbox and loan columns knew (SQLite; PostgreSQL runs
the same migration when the test database is built)."""

from __future__ import annotations

import sqlalchemy as sa


def test_upgrade_keeps_sent_mail_sent_and_old_notices_sent(tmp_path):
    from flask_migrate import downgrade, upgrade

    from opac import create_app
    from opac.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}",
                      "INDEX_DIR": str(tmp_path / "index")})
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="ca6441ca5e81")
        with db.engine.begin() as conn:
            run = lambda sql: conn.execute(sa.text(sql))  # noqa: E731
            run("INSERT INTO outbox_email (id, \"to\", subject, body, kind, created_at, sent_at, error) VALUES "
                "(1, 'a@x.org', 's', 'b', 'notice', '2026-01-01', '2026-01-01', NULL), "
                "(2, 'b@x.org', 's', 'b', 'notice', '2026-01-01', NULL, 'refused'), "
                "(3, 'c@x.org', 's', 'b', 'notice', '2026-01-01', NULL, NULL)")
            run("INSERT INTO patron_category (id, code, name, card_years) VALUES (1, 'student', 'S', 1)")
            run("INSERT INTO patron (id, card_number, name, password_hash, category_id, language, blocked, "
                "notify_email, notify_whatsapp, notify_days_before, keep_history, created_at) "
                "VALUES (1, 'C1', 'P', '-', 1, 'id', 0, 1, 0, 2, 0, '2026-01-01')")
            run("INSERT INTO record (id, control_number, title, material_type, authors, subjects, languages, isbns, "
                "issns, series, notes, links, created_at, updated_at) VALUES "
                "(1, 'R1', 'T', 'book', '[]', '[]', '[]', '[]', '[]', '[]', '[]', '[]', '2026-01-01', '2026-01-01')")
            run("INSERT INTO item (id, record_id, barcode, status, created_at, updated_at) VALUES "
                "(1, 1, 'I1', 'on_loan', '2026-01-01', '2026-01-01'), (2, 1, 'I2', 'on_loan', '2026-01-01', '2026-01-01')")
            run("INSERT INTO loan (id, item_id, patron_id, checked_out_at, due_date, renewals, due_notice_for, "
                "overdue_notices) VALUES (1, 1, 1, '2026-01-01', '2026-01-10', 0, '2026-01-10', 0), "
                "(2, 2, 1, '2026-01-01', '2026-01-05', 0, '2026-01-05', 2)")
        upgrade(directory=directory)
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id, status FROM outbox_email ORDER BY id")).all() == [
                (1, "sent"), (2, "dead"), (3, "pending")]
            assert sorted(conn.execute(sa.text("SELECT loan_id, kind FROM loan_notice")).all()) == [
                (1, "due_soon"), (2, "due_soon"), (2, "overdue_1"), (2, "overdue_7")]
        downgrade(directory=directory, revision="ca6441ca5e81")  # and back
        with db.engine.connect() as conn:
            assert "loan_notice" not in sa.inspect(conn).get_table_names()
        db.engine.dispose()
