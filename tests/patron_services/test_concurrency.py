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


def test_simultaneous_check_ins_count_each_patron_once(app, live_server, make_patron):
    from opac.patron_services import visits
    from opac.patron_services.models import PatronVisit, VisitCount

    with app.app_context():
        code = visits.daily_code()
    _, card, pin = make_patron()
    devices = [HttpUser(live_server).login_patron(card, pin) for _ in range(4)]
    devices += [HttpUser(live_server).login_patron(*make_patron()[1:]) for _ in range(4)]
    results = run_at_once([lambda d=d: d.post("/api/v1/visits", json={"code": code}) for d in devices])
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sum(r.json()["counted"] for r in results) == 5  # the patron's four phones count once
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PatronVisit)) == 5
        assert db.session.scalar(select(func.sum(VisitCount.visits))) == 5
