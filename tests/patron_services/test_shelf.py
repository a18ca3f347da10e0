"""Nearby on the shelf: the call-number sort key, and browsing left and right of a record."""

from __future__ import annotations

import doctest
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from opac.catalog.models import Item
from opac.extensions import db
from opac.patron_services import callnumber
from opac.patron_services.callnumber import call_number_key


def test_doctests():
    assert doctest.testmod(callnumber).failed == 0


def test_dewey_examples_in_shelf_order():
    shelf = ["004 ABC", "005.133 PYT", "595.7 ABC", "595.78 A", "596 B", "899.221 HIR l", "899.221 TOE b"]
    assert sorted(shelf[::-1], key=call_number_key) == shelf


dewey = st.tuples(st.integers(0, 999), st.text("0123456789", max_size=5),
                  st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=4))


def _call(d) -> str:
    whole, decimals, cutter = d
    return f"{whole:03d}{'.' + decimals if decimals else ''} {cutter}"


def _order(d):
    whole, decimals, cutter = d
    return Decimal(f"{whole}.{decimals or '0'}"), cutter


@given(dewey, dewey)
def test_key_order_is_the_numeric_shelf_order(a, b):
    """Class numbers compare as decimal numbers, then cutters alphabetically."""
    ka, kb = call_number_key(_call(a)), call_number_key(_call(b))
    if _order(a) < _order(b):
        assert ka < kb
    elif _order(a) > _order(b):
        assert ka > kb
    else:
        assert ka == kb


@given(st.text(max_size=200))
def test_key_never_fails_and_is_bounded(s):
    key = call_number_key(s)
    assert key is None or 0 < len(key) <= callnumber.KEY_LENGTH


def _shelf(make_record, calls):
    return [make_record(title=f"Buku {c}", items=[{"barcode": f"B{i}", "call_number": c}])
            for i, c in enumerate(calls)]


def test_record_page_shows_neighbours_and_browses_both_ways(app, client, make_record):
    calls = [f"{n:03d} X" for n in range(100, 130)]  # 30 records, one shelf
    ids = _shelf(make_record, calls[::-1])[::-1]  # made in reverse: order comes from the key, not the id
    page = client.get(f"/record/{ids[15]}").get_data(as_text=True)
    assert "Di dekatnya di rak" in page
    shown = [c for c in calls if f"Buku {c}<" in page]
    assert shown == calls[10:21]  # five left, itself, five right
    r = client.get(f"/api/v1/records/{ids[15]}/shelf").get_json()
    assert [x["call_number"] for x in r["left"]] == calls[10:15]
    assert [x["call_number"] for x in r["right"]] == calls[16:21]
    nxt = client.get(f"/api/v1/records/{ids[15]}/shelf?dir=next&from={r['next_from']}").get_json()
    assert [x["call_number"] for x in nxt["right"]] == calls[21:30]
    prev = client.get(f"/api/v1/records/{ids[15]}/shelf?dir=prev&from={r['prev_from']}").get_json()
    assert [x["call_number"] for x in prev["left"]] == calls[0:10]
    html = client.get(f"/record/{ids[15]}/shelf?dir=next&from={r['next_from']}")
    assert html.status_code == 200 and "Buku 121 X" in html.get_data(as_text=True)
    assert client.get(f"/record/{ids[15]}/shelf?dir=next&from=999999").status_code == 404


def test_shelf_key_follows_changes_of_the_call_number(app, make_record):
    from opac.catalog.models import Record

    rid = make_record(title="Tanpa nomor item", call_number="300 A", items=[{"barcode": "K1"}])
    with app.app_context():
        item = db.session.scalar(select(Item).where(Item.record_id == rid))
        assert item.shelf_key == call_number_key("300 A")  # the record's call number, when the item has none
        db.session.get(Record, rid).call_number = "301 B"
        db.session.commit()
        assert db.session.get(Item, item.id).shelf_key == call_number_key("301 B")
        item.call_number = "302 C"
        db.session.commit()
        assert db.session.get(Item, item.id).shelf_key == call_number_key("302 C")


def test_a_shelf_page_is_an_index_range_scan(app, make_record):
    _shelf(make_record, ["100 A", "200 B"])
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        plan = " ".join(str(r[-1]) for r in db.session.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM item WHERE shelf_key IS NOT NULL AND (shelf_key, id) > ('1', 1) "
            "ORDER BY shelf_key, id LIMIT 20")))
        assert "ix_item_shelf_key" in plan and "TEMP B-TREE" not in plan
