"""Ids coded as a prefix and a number: the rule the lot chunks (lots.py) and the packed fills
(background_fills.py) share.

An id is its prefix (the id without its trailing ASCII digits) and a canonical decimal number when those
digits are one: not empty, at most `MAX_DIGITS` long, and without a leading zero ("0" itself is one).
Otherwise the id stays a string of its own. ("T0012" is not canonical here; fillids.py's id ranges split
ids by a rule of their own.)
"""
from __future__ import annotations

DIGITS = "0123456789"
MAX_DIGITS = 18  # every such number fits a signed 64-bit integer, and its deltas too


def split(ident: str) -> tuple[str, int]:
    """(prefix, number) of an id whose trailing digits are canonical, else (the id, -1)."""
    head = ident.rstrip(DIGITS)
    tail = ident[len(head):]
    if not tail or len(tail) > MAX_DIGITS or (tail[0] == "0" and tail != "0"):
        return ident, -1
    return head, int(tail)


def canonical(tails: list[str]) -> bool:
    """Whether every one of `tails` (ASCII digit strings, what `str.rstrip(DIGITS)` cut off) is a canonical
    number: `split`'s rule for a whole column at once, in C-level passes (a column where some tail starts
    with "0" is then looked at tail by tail, since "0" alone is canonical)."""
    return bool(tails) and all(tails) and max(map(len, tails)) <= MAX_DIGITS and (
        "\n0" not in "\n" + "\n".join(tails) or all(t[0] != "0" or t == "0" for t in tails))


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
