"""How good or bad a scenario headline is for a symbol, in [-1, 1]: what the sentiment trader reads.

- a news shock: tanh(move_pct / 5), so a 5% jump is about +0.76 (its symbol, or every symbol when it is
  market-wide);
- a flash crash or a circuit breaker: -1 for the symbol it names (every symbol for the breaker);
- a rumour (and any other headline): its `tone` when the scenario file gives one, else the chat lexicon's
  score of its text (traders/chat/sentiment_lexicon.py);
- halts, resumes and the end of a drought carry no tone of their own (0).
Headlines are data: only this number reaches a rule trader, so no text can make it trade beyond its risk.
"""
from __future__ import annotations

import math

from traders.chat.sentiment_lexicon import score
from traders.snapshot import Headline

_NEUTRAL = {"halt", "resume", "drought", "drought_end"}


def tone(headline: Headline, symbol: str, *, is_etf: bool = False) -> float | None:
    """The headline's tone for `symbol`, or None when it does not concern the symbol. A market-wide
    headline concerns every symbol; one about any stock also concerns the ETF (the market)."""
    if headline.symbol is not None and headline.symbol != symbol and not is_etf:
        return None
    if headline.kind == "news" and headline.move_pct is not None:
        t = math.tanh(headline.move_pct / 5.0)
        return t if headline.symbol in (None, symbol) else t / 5.0  # one component moves the ETF a fifth as much
    if headline.kind in ("flash_crash", "breaker"):
        return -1.0 if headline.symbol in (None, symbol) else -0.2
    if headline.kind in _NEUTRAL:
        return 0.0
    return headline.tone if headline.tone is not None else score(headline.headline)


def news_score(headlines, symbol: str, *, is_etf: bool = False) -> float | None:
    """The mean tone of the headlines that concern `symbol` (None when none does)."""
    tones = [t for h in headlines if (t := tone(h, symbol, is_etf=is_etf)) is not None]
    return sum(tones) / len(tones) if tones else None
