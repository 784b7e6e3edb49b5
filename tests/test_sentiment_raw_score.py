"""raw_score without its no-op multiplications by 1.0 and generator: the same sums, bit for bit."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from traders.chat.sentiment_lexicon import (
    INTENSIFIER_WINDOW,
    INTENSIFIERS,
    LEXICON,
    NEGATION_SCALE,
    NEGATION_WINDOW,
    NEGATIONS,
    raw_score,
    tokens,
)


def former_raw_score(text: str) -> float:
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


vocab = sorted(LEXICON) + sorted(INTENSIFIERS) + sorted(NEGATIONS) + ["a bit", "NVDA", "the", "on", "12.5%", "@x"]
texts = st.lists(st.sampled_from(vocab), max_size=40).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_raw_score_as_before(text):
    got, want = raw_score.__wrapped__(text), former_raw_score(text)
    assert got == want and repr(got) == repr(want)
    assert raw_score(text) == want
