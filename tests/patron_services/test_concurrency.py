"""The monthly suggestion limit holds when one patron sends many at once from several devices."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from opac.extensions import db
from opac.patron_services.models import PurchaseSuggestion
from tests.conftest import HttpUser, run_at_once

pytestmark = pytest.mark.slow


def test_simultaneous_suggestions_stop_at_the_monthly_limit(app, live_server, make_patron):
    _, card, pin = make_patron()
    devices = [HttpUser(live_server).login_patron(card, pin) for _ in range(8)]
    results = run_at_once([lambda d=d, i=i: d.post("/api/v1/suggestions", json={"title": f"Judul {i}"})
                           for i, d in enumerate(devices)])
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 5 + [409] * 3, codes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PurchaseSuggestion)) == 5
