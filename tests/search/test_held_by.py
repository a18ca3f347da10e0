"""The "also at" list: the libraries holding a hit's book are found by a lookup in the sorted ``dup_key``
column, not by comparing the whole column once per hit."""

from __future__ import annotations

import numpy as np

from opac.search.documents import LOCAL
from opac.search.services import _held_by


class NoScanColumn(np.ndarray):
    """A key column that may be indexed but never compared as a whole."""

    def __eq__(self, other):
        raise AssertionError("the whole dup_key column was compared")

    __ne__ = __eq__
    __hash__ = None


class FakeSnapshot:
    """The public snapshot methods ``_held_by`` may use, over a small made-up collection."""

    def __init__(self, keys, live, libraries):
        self._keys = np.asarray(keys, dtype=np.int64).view(NoScanColumn)
        self.live = np.asarray(live, dtype=bool)
        self._libraries = libraries
        self.lookups = 0

    def column(self, name):
        assert name == "dup_key"
        return self._keys

    def docs_with_key(self, column, key):
        assert column == "dup_key"
        self.lookups += 1
        plain = self._keys.view(np.ndarray)
        order = np.argsort(plain, kind="stable")
        keys = plain[order]
        return order[np.searchsorted(keys, key, "left"):np.searchsorted(keys, key, "right")]

    def hit(self, d):
        return {"library": self._libraries[d]}


def test_holders_by_lookup_ours_first_then_partners_by_name_deleted_left_out():
    #          0      1      2      3      4      5
    keys = [7, 9, 7, 7, 0, 7]
    live = [True, True, True, False, True, True]
    libs = [None, None, "Perpustakaan Kampus 2", "Perpustakaan Tutup", None, "Perpustakaan SMAN 1"]
    local = np.array([True, True, False, False, True, False])
    snap = FakeSnapshot(keys, live, libs)
    # a partner's hit: its own library first, then ours, then the other partners by name (the deleted one left out)
    assert _held_by(snap, 2, {"library": libs[2]}, local) == ["Perpustakaan Kampus 2", LOCAL, "Perpustakaan SMAN 1"]
    assert _held_by(snap, 0, {}, local) == [LOCAL, "Perpustakaan Kampus 2", "Perpustakaan SMAN 1"]
    assert _held_by(snap, 1, {}, local) == [LOCAL]  # nobody else has key 9
    assert _held_by(snap, 4, {}, local) == [LOCAL]  # no key: no lookup at all
    assert snap.lookups == 3
    assert _held_by(snap, 0, {}, None) == [LOCAL]  # no partner records in the index: nothing to name


def test_a_key_shared_by_very_many_names_fifty_at_most():
    n = 500
    libs = [None] + [f"Perpustakaan {i:03d}" for i in range(1, n)]
    snap = FakeSnapshot([3] * n, [True] * n, libs)
    local = np.zeros(n, dtype=bool)
    local[0] = True
    held = _held_by(snap, 0, {}, local)
    assert held[0] == LOCAL and held[1:] == [f"Perpustakaan {i:03d}" for i in range(1, 50)]
