"""What only admins may do, checked over the whole app: every staff route's required action
(``view.requires``) is looked up in the one permission table; librarians get 403 on every
admin-only route and admins reach them. Plus the admins' staff-accounts page."""

from __future__ import annotations

from sqlalchemy import select

from opac.accounts.models import AuthSession, StaffUser
from opac.accounts.permissions import ACTIONS
from opac.extensions import db
from tests.conftest import csrf_token, staff_login

PASSWORD = "correct-horse-battery-staple"


def _staff_routes(app):
    """(rule, method, action) for every route behind ``staff_required``."""
    for rule in app.url_map.iter_rules():
        requires = getattr(app.view_functions[rule.endpoint], "requires", "")
        if requires.startswith("staff:"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, requires.removeprefix("staff:")


def _url(rule, values):
    return rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]


def test_every_staff_action_is_in_the_permission_table(app):
    actions = {action for _r, _m, action in _staff_routes(app)}
    assert actions and actions <= set(ACTIONS)
    for must in ("staff_accounts", "catalog_import", "patron_import", "policies", "patron_categories", "settings",
                 "delete_records"):
        assert ACTIONS[must] == {"admin"}, must
    for shared in ("desk", "holds_shelf", "patrons", "reference", "own_account"):
        assert "librarian" in ACTIONS[shared]


def test_librarians_get_403_on_every_admin_only_route_and_admins_reach_them(app, make_staff, make_admin):
    make_staff("lib", PASSWORD)
    admin, admin_password, secret = make_admin()
    with app.app_context():
        lib_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "lib"))
    values = {"staff_id": lib_id, "session_id": "none", "faq_id": 1, "post_id": 1, "record_id": 999999}
    admin_only = [(r, m) for r, m, action in _staff_routes(app) if ACTIONS[action] == {"admin"}]
    endpoints = {r.endpoint for r, _m in admin_only}
    assert {"staff.catalog_import", "staff.staff_accounts", "staff.staff_account_disable"} <= endpoints

    librarian = app.test_client()
    staff_login(librarian, app, "lib", PASSWORD)
    for rule, method in admin_only:
        url = _url(rule, values)
        r = librarian.open(url, method=method, data={"csrf_token": csrf_token(librarian)})
        assert r.status_code == 403, (rule.endpoint, method, r.status_code)
    assert librarian.get("/staff/desk").status_code == 200  # still a librarian with a working session

    boss = app.test_client()
    staff_login(boss, app, admin, admin_password, secret)
    for rule, method in sorted(admin_only, key=lambda x: x[1]):  # GETs first, then POSTs
        url = _url(rule, values)
        r = boss.open(url, method=method, data={"csrf_token": csrf_token(boss)})
        assert r.status_code != 403, (rule.endpoint, method)
        assert r.status_code < 500, (rule.endpoint, method, r.status_code)
        if r.status_code in (302, 303):
            assert "/login" not in r.headers["Location"] and "/2fa" not in r.headers["Location"], rule.endpoint


def test_admin_creates_and_disables_staff_accounts(app, make_admin, make_staff):
    admin, password, secret = make_admin()
    boss = app.test_client()
    staff_login(boss, app, admin, password, secret)
    page = boss.get("/staff/accounts?hl=en").get_data(as_text=True)
    assert "New staff account" in page and admin in page

    def create(**form):
        return boss.post("/staff/accounts", data={"csrf_token": csrf_token(boss), "role": "librarian", **form})

    r = create(username="bad name!", name="X", password=PASSWORD)
    assert r.status_code == 400 and "2 to 64 letters" in r.get_data(as_text=True)
    r = create(username="sari", name="Sari", password="x")
    assert r.status_code == 400  # the password rules apply
    assert create(username="sari", name="Sari", password=PASSWORD, email="sari@example.org").status_code == 303
    r = create(username="sari", name="Sari again", password=PASSWORD)
    assert r.status_code == 400 and "already taken" in r.get_data(as_text=True)

    sari = app.test_client()
    staff_login(sari, app, "sari", PASSWORD)
    assert sari.get("/staff/desk").status_code == 200
    with app.app_context():
        sari_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "sari"))
        boss_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == admin))
    r = boss.post(f"/staff/accounts/{sari_id}/disable", data={"csrf_token": csrf_token(boss)})
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(StaffUser, sari_id).active is False
        assert db.session.scalar(select(AuthSession).where(AuthSession.kind == "staff",
                                                           AuthSession.user_id == sari_id)) is None
    assert sari.get("/staff/desk").status_code == 302  # signed out everywhere
    r = sari.post("/staff/login", data={"username": "sari", "password": PASSWORD, "csrf_token": csrf_token(sari)})
    assert r.status_code == 400
    # an admin cannot lock themself out
    boss.post(f"/staff/accounts/{boss_id}/disable", data={"csrf_token": csrf_token(boss)})
    with app.app_context():
        assert db.session.get(StaffUser, boss_id).active is True


def test_the_import_link_is_shown_to_admins_only(app, make_staff, make_admin):
    make_staff("lib", PASSWORD)
    lib = app.test_client()
    staff_login(lib, app, "lib", PASSWORD)
    assert 'href="/staff/import"' not in lib.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/accounts"' not in lib.get("/staff/").get_data(as_text=True)
    admin, password, secret = make_admin()
    boss = app.test_client()
    staff_login(boss, app, admin, password, secret)
    page = boss.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/import"' in page and 'href="/staff/accounts"' in page
