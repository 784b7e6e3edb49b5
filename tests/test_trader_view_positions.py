"""trader_view's memo of validated positions returns what validating again returns."""
from __future__ import annotations

from traders.snapshot import Position
from traders.views import _position


def test_position_memo():
    for qty, avg in ((5, 123.5), (5, 123.5), (-3, 0.0), (7, 100), (7, 100.0), (2, 1 / 3)):
        got = _position(qty, avg)
        want = Position(qty=qty, avg_cost=avg)
        assert got == want and type(got.avg_cost) is float and got.model_dump() == want.model_dump()
    assert _position(5, 123.5) is _position(5, 123.5)
