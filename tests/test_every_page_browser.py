"""Every page a person opens, patron and staff, in a real browser at 390 px and 1280 px, light and dark:
axe finds no WCAG 2 A/AA violation, nothing scrolls sideways, and no word is split across two lines.

The list of pages is checked against ``app.url_map``: a new GET page fails this test until it is
added to ``PAGES`` (one line) or, if it is not an HTML page for people, to ``NOT_PAGES``."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from opac.extensions import db
from tests.conftest import enrol_two_factor, totp_code

pytestmark = [pytest.mark.browser]

#: endpoint -> (who opens it, path); ``{name}`` is filled from the world below. "anon" pages are
#: walked before logging in, then the patron's, then (in a second context) an admin's. A page that
#: redirects (``/share``, ``/staff/2fa/enrol`` once enrolled) is checked where it lands.
PAGES = {
    "catalog.home": ("anon", "/"),
    "search.results": ("anon", "/search?q=perpustakaan"),
    "catalog.record": ("anon", "/record/{record}"),
    "patron_services.record_shelf": ("anon", "/record/{record}/shelf"),
    "news.new_arrivals": ("anon", "/new"),
    "news.news_list": ("anon", "/news"),
    "news.news_post": ("anon", "/news/{post}"),
    "reference.faq": ("anon", "/faq"),
    "reference.info": ("anon", "/info"),
    "reference.ask": ("anon", "/ask"),
    "reference.thread": ("anon", "/ask/t/{thread}"),
    "patron_services.reading_lists": ("anon", "/reading-lists"),
    "patron_services.reading_list": ("anon", "/reading-lists/{course_list}"),
    "patron_services.shared_list": ("anon", "/lists/shared/{shared_list}"),
    "patron_services.verify_clearance": ("anon", "/clearance/{letter_token}"),
    "pwa.offline": ("anon", "/offline"),
    "pwa.saved": ("anon", "/saved"),
    "pwa.scan": ("anon", "/scan"),
    "pwa.share_target": ("anon", "/share?text=Laskar+Pelangi"),
    "registration.register": ("anon", "/register"),
    "registration.verify": ("anon", "/register/verify/{registration_token}"),
    "accounts.request_reset": ("anon", "/password-reset"),
    "accounts.reset_password": ("anon", "/password-reset/not-a-valid-token"),
    "selfcheck.page": ("anon", "/selfcheck"),
    "staff.login": ("anon", "/staff/login"),
    "accounts.login": ("anon", "/login"),
    "accounts.account": ("patron", "/account"),
    "circulation.my_loans": ("patron", "/account/loans"),
    "circulation.my_holds": ("patron", "/account/holds"),
    "circulation.place_hold": ("patron", "/record/{record2}/hold"),
    "accounts.history": ("patron", "/account/history"),
    "accounts.notifications": ("patron", "/account/notifications"),
    "accounts.devices": ("patron", "/account/devices"),
    "accounts.card": ("patron", "/card"),
    "reference.my_questions": ("patron", "/account/questions"),
    "reference.my_question": ("patron", "/account/questions/{question}"),
    "patron_services.my_lists": ("patron", "/lists"),
    "patron_services.my_list": ("patron", "/lists/{list}"),
    "patron_services.record_lists": ("patron", "/record/{record}/lists"),
    "patron_services.my_suggestions": ("patron", "/suggestions"),
    "patron_services.my_clearance": ("patron", "/account/clearance"),
    "patron_services.clearance_letter": ("patron", "/account/clearance/{letter}"),
    "saved_searches.page": ("patron", "/saved-searches"),
    "saved_searches.new": ("patron", "/saved-searches/new?q=masyarakat"),
    "visits.checkin_page": ("patron", "/visit?code=PINTU-DEPAN"),
    "visits.my_visits": ("patron", "/account/visits"),
    "staff.login_code": ("staff", "/staff/login/code"),  # checked during the login itself
    "staff.dashboard": ("staff", "/staff/"),
    "staff.desk": ("staff", "/staff/desk"),
    "staff.holds_shelf": ("staff", "/staff/holds"),
    "staff.overdue": ("staff", "/staff/overdue"),
    "staff.patrons": ("staff", "/staff/patrons?q=Siti"),
    "staff.statistics": ("staff", "/staff/statistics"),
    "staff.outbox": ("staff", "/staff/outbox"),
    "staff.dead_letters": ("staff", "/staff/dead-letters"),
    "staff.catalog_import": ("staff", "/staff/import"),
    "staff.records": ("staff", "/staff/records"),
    "staff.record_edit": ("staff", "/staff/records/{record}"),
    "staff.staff_accounts": ("staff", "/staff/accounts"),
    "staff.devices": ("staff", "/staff/devices"),
    "staff.twofa_setup": ("staff", "/staff/2fa"),
    "staff.twofa_enrol": ("staff", "/staff/2fa/enrol"),
    "reference.queue": ("staff", "/staff/questions"),
    "reference.staff_thread": ("staff", "/staff/questions/{question}"),
    "reference.reference_stats": ("staff", "/staff/reference/stats"),
    "reference.canned": ("staff", "/staff/canned"),
    "reference.faq_admin": ("staff", "/staff/faq"),
    "reference.faq_edit": ("staff", "/staff/faq/{faq}"),
    "registration.pending": ("staff", "/staff/registrations"),
    "selfcheck.staff_list": ("staff", "/staff/selfcheck"),
    "selfcheck.staff_desk_code": ("staff", "/staff/selfcheck/desk-code"),
    "patron_services.staff_suggestions": ("staff", "/staff/suggestions"),
    "patron_services.staff_reading_lists": ("staff", "/staff/reading-lists"),
    "patron_services.staff_clearances": ("staff", "/staff/clearances"),
    "news.news_admin": ("staff", "/staff/news"),
    "news.promote": ("staff", "/staff/promote"),
    "visits.entrance": ("staff", "/staff/visits/entrance"),
}

#: GET endpoints that are not HTML pages for people (every ``/api/`` route is left out as well).
NOT_PAGES = {
    "static", "hashed_asset", "pwa.manifest", "pwa.service_worker", "pwa.robots", "catalog.opensearch", "catalog.cover",
    "catalog.record_bibtex", "catalog.record_ris", "catalog.record_marcxml", "news.new_arrivals_feed", "news.news_feed",
    "accounts.history_download", "staff.statistics_csv", "staff.statistics_visits_csv", "staff.statistics_search_misses_csv", "oai.endpoint", "health.healthz", "health.readyz",
}

WIDTHS = (390, 1280)

#: A word broken across lines: a run of letters or digits whose pieces sit on different lines. Long
#: URLs, e-mail addresses, tokens and ISBNs may wrap anywhere; ordinary words never.
SPLIT_WORDS = r"""() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const unbreakable = /[\p{L}\p{N}]+/gu;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue;
    if (!text.trim() || !node.parentElement || node.parentElement.closest("script,style,template,noscript,option")) continue;
    for (const token of text.matchAll(/\S+/g)) {
      if (/:\/\/|@|^www\.|^[\w-]{24,}$|^[\d-]{10,}$/.test(token[0])) continue;
      for (const m of token[0].matchAll(unbreakable)) {
        if (m[0].length < 2) continue;
        const start = token.index + m.index;
        range.setStart(node, start);
        range.setEnd(node, start + m[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.right > 0);  // off-screen: not read
        const tops = rects.map(r => r.top);
        if (tops.length > 1 && Math.max(...tops) - Math.min(...tops) > 4) out.push(m[0]);
      }
    }
  }
  return out;
}"""

#: Table cells too narrow for their content, and (on a phone) staff tables still drawn as tables, not cards
SQUEEZED_TABLES = """(phone) => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null).flatMap(t =>
  (phone && t.matches('.rtable') && getComputedStyle(t.querySelector('tr') || t).display !== 'block' ? ['not cards'] : [])
  .concat([...t.querySelectorAll('th, td')].filter(c => c.offsetParent !== null && c.scrollWidth > c.clientWidth + 1)
    .map(c => c.textContent.trim().slice(0, 30))))"""

SIDEWAYS = "(() => { const s = document.scrollingElement; return s.scrollWidth > s.clientWidth ? " \
           "[s.scrollWidth, s.clientWidth] : null; })()"


def test_every_get_page_is_walked_or_explicitly_not_a_page(app):
    get_endpoints = {r.endpoint for r in app.url_map.iter_rules()
                     if "GET" in r.methods and not r.rule.startswith("/api/")}
    missing = get_endpoints - set(PAGES) - NOT_PAGES
    assert not missing, f"add these GET pages to PAGES (or to NOT_PAGES if they are not HTML): {sorted(missing)}"
    assert not (set(PAGES) - get_endpoints), "PAGES names endpoints that no longer exist"


@pytest.fixture
def app_config():
    """Self-registration and the desk's self-checkout code are on, so that their pages exist."""
    on = {"SELF_REGISTRATION": True, "SELFCHECK_MODE": "desk_code"}
    return {**on, "LIVE_SERVER_ENV": {"SELF_REGISTRATION": "true", "SELFCHECK_MODE": "desk_code"}}


@pytest.fixture
def world(app, load_records, make_patron, make_staff):
    """A library with something on every page: loans, holds, a question answered, lists, news, FAQ."""
    ids = load_records([
        dict(title="Perpustakaan dan Masyarakat: Pengantar Ilmu Perpustakaan dan Informasi untuk Mahasiswa",
             authors=["Sulistyo-Basuki"], year=1991, subjects=["Ilmu perpustakaan", "Perpustakaan -- Indonesia"],
             isbns=["9789794033001"], publisher="Gramedia Pustaka Utama",
             links=[{"url": "https://repository.example.ac.id/handle/123456789/perpustakaan-dan-masyarakat", "label": ""}],
             items=[{"barcode": "W1", "location": "PUSAT", "call_number": "020.9598 SUL p"},
                    {"barcode": "W2", "location": "PUSAT"}]),
        dict(title="Bumi Manusia", authors=["Toer, Pramoedya Ananta"], year=1980,
             items=[{"barcode": "W3", "location": "PUSAT"}]),
        dict(title="Ronggeng Dukuh Paruk", authors=["Tohari, Ahmad"], year=1982, items=[{"barcode": "W4", "location": "PUSAT"}]),
    ])
    pid, card, pin = make_patron(name="Siti Aminah Rahmawati", email="siti@example.org")
    other, other_card, _ = make_patron(name="Budi Santoso")
    user, password = make_staff("admin", "correct-horse-battery-staple", "admin")
    secret = enrol_two_factor(app, user)
    from opac.accounts import registration
    from opac.accounts.models import Patron, StaffUser
    from opac.catalog.models import Location
    from opac.circulation import actions
    from opac.circulation.models import Loan
    from opac.circulation.rules import today
    from opac.news.models import NewsPost
    from opac.patron_services import services as ps
    from opac.reference import services as ref
    from opac.reference.models import FaqEntry

    with app.test_request_context():
        pickup = db.session.scalar(select(Location))
        pickup.is_pickup = True
        patron = db.session.get(Patron, pid)
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == user))
        letter = ps.issue_clearance(patron)  # before any loan
        db.session.commit()
        assert actions.checkout(card, "W1")["ok"]
        assert actions.checkout(other_card, "W3")["ok"]
        db.session.scalar(select(Loan).where(Loan.patron_id == other)).due_date = today() - timedelta(days=4)
        db.session.commit()
        assert actions.place_hold(pid, ids[2], pickup.id)["ok"]
        patron = db.session.get(Patron, pid)
        q = ref.ask("Apakah perpustakaan buka pada hari Sabtu dan Minggu selama libur semester?", category="other",
                    name=None, email=None, whatsapp=None, channel="app", patron=patron, ip="10.0.0.9")
        ref.reply(q, staff, f"<p>Ya, buka pukul 09.00–14.00. Lihat juga /record/{ids[0]}</p>")
        rl = ps.create_list(name="Bacaan skripsi", patron=patron, description="Untuk bab dua")
        ps.add_entry(rl, ids[0], note="Bab 2")
        ps.set_sharing(rl, True)
        course = ps.create_list(name="Pengantar Ilmu Perpustakaan", staff=staff, kind="course",
                                course_code="IP101", course_name="Pengantar Ilmu Perpustakaan")
        ps.add_entry(course, ids[0])
        from werkzeug.datastructures import MultiDict

        from opac.patron_services import alerts

        alerts.save_search(patron, MultiDict({"q": "perpustakaan"}), name="Ilmu perpustakaan")
        ps.suggest_purchase(patron, title="Atlas Sejarah Indonesia dan Dunia", author="Gramedia", reason="Untuk tugas")
        post = NewsPost(title="Jam buka selama libur semester", body="<p>Perpustakaan buka Senin–Jumat.</p>", published=True)
        faq = FaqEntry(question="Berapa lama saya boleh meminjam buku?", answer="<p>Dua minggu, bisa diperpanjang.</p>",
                       published=True, keywords="pinjam lama")
        db.session.add_all([post, faq])
        db.session.commit()
        reg_token = registration.register("Dewi Lestari", "dewi@example.org", None, "739215",
                                          "739215", True, ip="10.0.0.8")
        db.session.commit()
        values = {"record": ids[0], "record2": ids[1], "post": post.id, "thread": q.token, "question": q.id,
                  "course_list": course.id, "list": rl.id, "shared_list": rl.share_token, "letter": letter.id,
                  "letter_token": letter.token, "faq": faq.id, "registration_token": reg_token}
    return {"card": card, "pin": pin, "user": user, "password": password, "secret": secret, "values": values}


#: axe's WCAG 2 A and AA rules; in the dark scheme only the rules about colour, as nothing else changes
AXE_ALL = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}, resultTypes: ['violations']}"
AXE_COLOUR = "{runOnly: {type: 'rule', values: ['color-contrast', 'link-in-text-block']}, resultTypes: ['violations']}"


def check_page(page, axe_script: str, label: str) -> list:
    """Every width and colour scheme of the page that is open: what is wrong, as readable tuples."""
    problems = []
    for d in page.locator("details").all():  # menus, filter drawers and data tables: check them open
        d.evaluate("el => el.open = true")
    page.evaluate(axe_script)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844 if width < 900 else 800})
        for scheme, rules in (("light", AXE_ALL), ("dark", AXE_COLOUR)):
            page.emulate_media(color_scheme=scheme)
            where = (label, width, scheme)
            sideways = page.evaluate(SIDEWAYS)
            if sideways:
                problems.append((*where, "scrolls sideways", sideways))
            squeezed = page.evaluate(SQUEEZED_TABLES, width < 700)
            if squeezed:
                problems.append((*where, "tables squeezed", squeezed[:8]))
            split = page.evaluate(SPLIT_WORDS)
            if split:
                problems.append((*where, "words split across lines", split[:8]))
            for v in page.evaluate(f"axe.run(document, {rules})")["violations"]:
                problems.append((*where, "axe " + v["id"], [n["target"] for n in v["nodes"]][:4]))
    return problems


def walk(page, site, world, who: str, axe_script: str, problems: list, seen: set):
    for endpoint, (owner, path) in PAGES.items():
        if owner != who or endpoint in seen:
            continue
        url = site + path.format(**world["values"])
        response = page.goto(url)
        seen.add(endpoint)
        if response is None or response.status >= 400:
            problems.append((endpoint, url, "status", response and response.status))
            continue
        problems.extend(check_page(page, axe_script, endpoint))


def reach(page, url_pattern: str, step: str) -> None:
    """Wait for the staff login to arrive at ``step``; if it does not, say where the page was (each step
    has failed once in a full browser pass, never alone)."""
    try:
        page.wait_for_url(re.compile(url_pattern))
    except Exception as exc:
        raise AssertionError(f"staff login did not reach {step}: at {page.url}: "
                             f"{page.inner_text('body')[:500]!r}") from exc


def test_every_page_is_accessible_fits_and_keeps_words_whole(browser, app, world, live_server):
    from axe_playwright_python.sync_playwright import Axe

    axe_script = Axe().axe_script
    site, problems, seen = live_server, [], set()
    ctx = browser.new_context(locale="id-ID", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    try:
        # the detectors themselves: a word broken by break-all and a too-wide box are caught; a URL may wrap
        page.set_content('<p style="width:60px;word-break:break-all">Perpustakaan https://example.org/a/b/c</p>'
                         '<div style="width:2000px">wide</div>')
        assert page.evaluate(SPLIT_WORDS) == ["Perpustakaan"] and page.evaluate(SIDEWAYS)
        walk(page, site, world, "anon", axe_script, problems, seen)
        page.goto(site + "/search")  # the walk opens it with a query; with nothing asked it offers facets to browse
        problems.extend(check_page(page, axe_script, "search.results, nothing asked"))
        page.goto(site + "/login")
        page.fill("#card", world["card"])
        page.fill("#pin", world["pin"])
        page.press("#pin", "Enter")
        page.wait_for_url(re.compile(r".*/account/loans"))
        walk(page, site, world, "patron", axe_script, problems, seen)
    finally:
        ctx.close()
    ctx = browser.new_context(locale="id-ID", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    try:
        page.goto(site + "/staff/login")
        page.fill("#username", world["user"])
        page.fill("#password", world["password"])
        page.press("#password", "Enter")
        reach(page, r".*/staff/login/code", "the code step")
        problems.extend(check_page(page, axe_script, "staff.login_code"))
        seen.add("staff.login_code")
        page.fill("#code", totp_code(world["secret"]))
        page.press("#code", "Enter")
        reach(page, r".*/staff/$", "the dashboard")
        walk(page, site, world, "staff", axe_script, problems, seen)
    finally:
        ctx.close()
    assert seen == set(PAGES)
    assert not problems, "\n".join(map(repr, problems))
