"""A small, documented trading-floor sentiment lexicon scorer (rule mode). Score in [-1, 1].

How a text is scored (a simplified VADER-style scheme, written for this project):
1. Lower-case, split into word tokens (letters, digits, apostrophes); "@name" mentions and tickers in
   capitals are ordinary tokens and carry no sentiment.
2. Each token found in `LEXICON` contributes its valence (from -3 to +3; e.g. "bullish" +2.5,
   "crash" -3, "buy" +1.5, "sell" -1.5).
3. An intensifier right before (up to two tokens back) multiplies it by its factor ("very", "strongly"
   1.5; "slightly", "somewhat" 0.5).
4. A negation among the three previous tokens ("not", "no", "never", "don't", "isn't", ...) flips and
   damps it: valence * -0.75 ("not bullish" is mildly bearish, not strongly).
5. The sum S is squashed to [-1, 1] with S / sqrt(S^2 + ALPHA), ALPHA = 8, so one strong word gives
   about +-0.66 and agreement between several words approaches +-1. No word from the lexicon gives 0.

Unknown words are neutral; the score is bounded, so no text, however it is phrased, can push a
trader's sentiment input outside [-1, 1].
"""
from __future__ import annotations

import math
import re

ALPHA = 8.0
NEGATION_SCALE = -0.75
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2

LEXICON: dict[str, float] = {
    # bullish
    "bullish": 2.5, "bull": 2.0, "rally": 2.0, "rallying": 2.0, "soar": 2.5, "soaring": 2.5, "surge": 2.0,
    "surging": 2.0, "jump": 1.5, "jumped": 1.5, "gain": 1.5, "gains": 1.5, "gained": 1.5, "up": 0.5,
    "rise": 1.5, "rising": 1.5, "rose": 1.5, "climb": 1.5, "climbing": 1.5, "strong": 1.5, "strength": 1.5,
    "buy": 1.5, "buying": 1.5, "long": 1.0, "accumulate": 1.5, "breakout": 2.0, "uptrend": 2.0,
    "cheap": 1.5, "undervalued": 2.0, "bargain": 2.0, "opportunity": 1.5, "profit": 1.5, "profits": 1.5,
    "profitable": 1.5, "winning": 1.5, "win": 1.5, "good": 1.0, "great": 2.0, "excellent": 2.5,
    "optimistic": 2.0, "confident": 1.5, "positive": 1.5, "upside": 1.5, "recover": 1.0, "rebound": 1.5,
    "outperform": 2.0, "outperforming": 2.0,
    # bearish
    "bearish": -2.5, "bear": -2.0, "crash": -3.0, "crashing": -3.0, "plunge": -2.5, "plunging": -2.5,
    "collapse": -3.0, "tumble": -2.0, "slump": -2.0, "drop": -1.5, "dropped": -1.5, "dropping": -1.5,
    "fall": -1.5, "falling": -1.5, "fell": -1.5, "down": -0.5, "decline": -1.5, "declining": -1.5,
    "weak": -1.5, "weakness": -1.5, "sell": -1.5, "selling": -1.5, "dump": -2.0, "dumping": -2.0,
    "short": -1.0, "downtrend": -2.0, "breakdown": -2.0, "expensive": -1.5, "overvalued": -2.0,
    "rich": -1.0, "loss": -1.5, "losses": -1.5, "losing": -1.5, "bad": -1.0, "terrible": -2.5,
    "fear": -2.0, "panic": -2.5, "worried": -1.5, "risky": -1.0, "pessimistic": -2.0, "negative": -1.5,
    "downside": -1.5, "underperform": -2.0, "underperforming": -2.0, "stop-loss": -1.5, "stopped": -1.0,
}

INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "strongly": 1.5, "extremely": 1.8, "really": 1.3, "hugely": 1.6, "massively": 1.6,
    "super": 1.5, "slightly": 0.5, "somewhat": 0.5, "mildly": 0.5, "a_bit": 0.5, "barely": 0.4,
}

NEGATIONS = frozenset({
    "not", "no", "never", "none", "nothing", "neither", "nor", "without", "hardly",
    "don't", "doesn't", "isn't", "aren't", "wasn't", "won't", "can't", "cannot", "didn't", "shouldn't",
})

_TOKEN = re.compile(r"[a-z0-9@][a-z0-9'_\-]*")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("a bit", "a_bit"))


def raw_score(text: str) -> float:
    """The unsquashed sum of valences (see the module docstring)."""
    toks = tokens(text)
    total = 0.0
    for i, tok in enumerate(toks):
        valence = LEXICON.get(tok)
        if valence is None:
            continue
        for prev in toks[max(0, i - INTENSIFIER_WINDOW):i]:
            valence *= INTENSIFIERS.get(prev, 1.0)
        if any(prev in NEGATIONS for prev in toks[max(0, i - NEGATION_WINDOW):i]):
            valence *= NEGATION_SCALE
        total += valence
    return total


def score(text: str) -> float:
    """Sentiment of `text` in [-1, 1]: positive is bullish, negative bearish, 0 neutral."""
    s = raw_score(text)
    return 0.0 if s == 0 else s / math.sqrt(s * s + ALPHA)
