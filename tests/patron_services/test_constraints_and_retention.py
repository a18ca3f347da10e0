"""Rules the database keeps (one clearance letter in force per patron, one sign-up in progress per
e-mail address) and how long suggestions and clearance letters are kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from opac.accounts.models import Registration
from opac.catalog.models import utcnow
from opac.extensions import db
from opac.patron_services.models import ClearanceLetter, PurchaseSuggestion
from tests.conftest import csrf_token


@pytest.fixture
def app_config():
    return {"SELF_REGISTRATION": True}


def test_one_clearance_letter_in_force_per_patron(app, client, make_patron, login):
    pid, card, pin = make_patron()
    login(card, pin)
    first = client.post("/account/clearance", data={"csrf_token": csrf_token(client)}).headers["Location"]
    again = client.post("/account/clearance", data={"csrf_token": csrf_token(client)}).headers["Location"]
    assert first == again  # a double tap shows the same letter
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ClearanceLetter)) == 1
        db.session.add(ClearanceLetter(patron_id=pid, patron_name="x", card_number=card, token="second-letter"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        letter = db.session.scalar(select(ClearanceLetter))
        letter.revoked_at = utcnow()  # once revoked, a new letter may be issued
        db.session.add(ClearanceLetter(patron_id=pid, patron_name="x", card_number=card, token="second-letter"))
        db.session.commit()


def test_simultaneous_sign_ups_with_one_address(app, client, monkeypatch):
    from opac.accounts import registration

    with app.app_context():
        db.session.add(Registration(name="A", email="Rina@Example.id", pin_hash="x", token_hash="t1",
                                    status="pending", expires_at=utcnow() + timedelta(days=1)))
        db.session.commit()
    # the other request's check ran before this row was committed
    monkeypatch.setattr(registration, "_email_taken", lambda email: False)
    r = client.post("/register", data={"name": "Rina", "email": "rina@example.id", "pin": "5827", "confirm": "5827",
                                       "consent": "1", "csrf_token": csrf_token(client)})
    assert r.status_code == 400 and "sedang diproses" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1


def test_answered_suggestions_and_old_letters_are_deleted(app, make_patron):
    from opac.retention import purge_expired_personal_data

    pid, card, _pin = make_patron()
    now = utcnow()
    with app.app_context():
        old = now - timedelta(days=181)
        db.session.add_all([
            PurchaseSuggestion(patron_id=pid, title="Ditolak lama", status="rejected", created_at=old, updated_at=old),
            PurchaseSuggestion(patron_id=pid, title="Tiba lama", status="arrived", created_at=old, updated_at=old),
            PurchaseSuggestion(patron_id=pid, title="Dipesan lama", status="ordered", created_at=old, updated_at=old),
            PurchaseSuggestion(patron_id=pid, title="Ditolak baru", status="rejected", created_at=now, updated_at=now),
            ClearanceLetter(patron_id=None, patron_name="Lulus 2020", card_number="C1", token="t-old",
                            issued_at=now - timedelta(days=1827)),
            ClearanceLetter(patron_id=pid, patron_name="Lulus 2026", card_number=card, token="t-new", issued_at=now),
        ])
        db.session.commit()
        counts = purge_expired_personal_data()
        db.session.commit()
        assert counts["suggestions_deleted"] == 2 and counts["clearance_letters_deleted"] == 1
        # suggestions still being worked on stay, whatever their age
        assert sorted(db.session.scalars(select(PurchaseSuggestion.title))) == ["Dipesan lama", "Ditolak baru"]
        assert list(db.session.scalars(select(ClearanceLetter.token))) == ["t-new"]
