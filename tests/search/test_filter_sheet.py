"""Filters on the first screen of results: a "Saring" button with the number of active filters
opening a details-based sheet (no script needed); no empty filter heading on zero results."""

from __future__ import annotations

import re

from tests.search.test_search import catalog  # noqa: F401 - the shared test catalogue fixture


def test_filter_button_comes_before_the_results_and_counts_active_filters(catalog, client):  # noqa: F811
    page = client.get("/search?q=hirata").get_data(as_text=True)
    sheet = page.index('<details class="filter-sheet"')
    assert sheet < page.index('<ol class="hits"')  # on the first screen, not after all the results
    summary = re.search(r"<summary.*?</summary>", page[sheet:], re.S).group(0)
    assert "Saring" in summary and "filter-count" not in summary  # no filter on: no number
    assert "Saring hasil" in page[sheet:page.index("</details>", sheet)] and 'class="facet"' in page
    assert page.count('class="filter-sheet"') == 1 and "facet-drawer" not in page

    on = client.get("/search?q=hirata&type=book&language=ind").get_data(as_text=True)
    summary = re.search(r'<details class="filter-sheet".*?</summary>', on, re.S).group(0)
    assert re.search(r'class="filter-count"[^>]*>2<', summary) and "2 filter aktif" in summary
    english = client.get("/search?q=hirata&type=book&hl=en").get_data(as_text=True)
    assert "1 filter on" in english and ">Filter<" in english


def test_zero_results_have_no_empty_filter_heading(catalog, client):  # noqa: F811
    zero = client.get("/search?q=zzzqqq&type=book").get_data(as_text=True)
    assert 'class="zero-results"' in zero
    assert "Saring hasil" not in zero and "filter-sheet" not in zero and 'class="facet"' not in zero
