"""The clauses of a chat message and what each says about the symbols, for `group_chat.aggregate`.

`aggregate` averages, per symbol, the sentiment of the clauses (sentences) that name it. The floor's messages
are new every cycle (their numbers move), but their clauses recur: a stance, a holding line, a clause about
one symbol. `clause_sentiments` splits a message and looks each clause up in a bounded memo keyed on
everything the answer depends on: the clause's text, the symbols looked for and whether the whole message
is plainly not an instruction (which chooses `score_of_part` over `score`, see sentiment_lexicon). Both
scorers and `symbols_in` are pure, so the memo returns exactly what computing the clause again would.
"""
from __future__ import annotations

import functools
import re

from traders.chat.sentiment_lexicon import MEMO_SIZE, score, score_of_part

CLAUSE = re.compile(r"[.;!?]\s+|\n")
# An upper-case word: (?<![A-Za-z0-9_])[A-Z][A-Z0-9]*(?:\.[A-Z]+)?(?![A-Za-z0-9_]), with the look behind
# moved after the first capital (it then checks the character before that capital, as before): a pattern
# that starts with a character class lets the engine skip to the next capital, two to three times faster.
_TICKER = re.compile(r"[A-Z](?<![A-Za-z0-9_][A-Z])[A-Z0-9]*(?:\.[A-Z]+)?(?![A-Za-z0-9_])")


@functools.lru_cache(maxsize=MEMO_SIZE)  # messages and their clauses recur from cycle to cycle
def tickers(text: str) -> frozenset[str]:
    """The upper-case whole words of `text` that could be symbols."""
    return frozenset(_TICKER.findall(text))


@functools.lru_cache(maxsize=MEMO_SIZE)
def clause_sentiment(clause: str, symbols: tuple[str, ...], plain: bool) -> tuple[tuple[str, ...], float] | None:
    """The symbols (in `symbols` order) that `clause` names and its score; None when it names none.
    `plain`: the message the clause comes from is plainly not an instruction (`plainly_not_instruction`)."""
    named = tuple(filter(tickers(clause).__contains__, symbols))  # in `symbols` order, without a Python step each
    if not named:
        return None
    return named, score_of_part(clause) if plain else score(clause)


def clause_sentiments(text: str, symbols: tuple[str, ...], plain: bool) -> list[tuple[tuple[str, ...], float]]:
    """(symbols named, score) of each clause of `text` that names one of `symbols`, in text order."""
    out = []
    for clause in CLAUSE.split(text):
        hit = clause_sentiment(clause, symbols, plain)
        if hit is not None:
            out.append(hit)
    return out
