"""Group chat (rule mode): bounded rounds, @mention routing, lexicon sentiment, topic choice."""
from __future__ import annotations

import random

import pytest

from floor.config import ChatSettings, TopicSettings, load_config
from market.instruments import DEFAULT_UNIVERSE
from traders.base import rule_decision
from traders.chat import (
    aggregate,
    choose_topic,
    parse_mentions,
    run_group_chat,
    sentiment_score,
    view_with_chat,
)
from traders.snapshot import ChatMessage, FillNote, Position, TraderView, synthetic_snapshot
from traders.trader_config import TraderConfig

BASE = {i.symbol: float(i.initial_price) for i in DEFAULT_UNIVERSE}
N = 40


def history(**override) -> dict[str, list[float]]:
    out = {s: [BASE[s] + (3 if k % 2 else -3) for k in range(N)] for s in BASE if s != "FLOR"}
    out.update(override)
    out["FLOR"] = [sum(out[s][k] for s in out if s != "FLOR") / 10 for k in range(N)]
    return out


def spiking_nvda() -> list[float]:
    """A steady climb that ends in a spike: momentum buys it, mean reversion sells into it."""
    path = [12000 * 1.002 ** k for k in range(N)]
    path[-1] = path[-2] * 1.04
    return path


def floor_views(hist, traders, positions=None) -> dict[str, TraderView]:
    snap = synthetic_snapshot(hist)
    return {
        t.name: TraderView(
            trader=t.name, market=snap, cash=10_000_000, available_cash=10_000_000, initial_cash=10_000_000,
            positions={s: Position(qty=q, avg_cost=c) for s, (q, c) in (positions or {}).get(t.name, {}).items()},
        )
        for t in traders
    }


TRADERS = load_config().traders


def chat(rounds=2, routing="mention", hist=None, positions=None, rng=None):
    hist = hist or history(NVDA=spiking_nvda())
    views = floor_views(hist, TRADERS, positions)
    topic = choose_topic(next(iter(views.values())).market)
    return run_group_chat(views, TRADERS, ChatSettings(rounds=rounds, routing=routing), topic, rng=rng), views


HELD = {"mean_reversion": {"NVDA": (200, 11000.0)}}


def test_topic_picks_the_biggest_mover():
    hist = history(AMZN=[18000.0] * (N - 1) + [18000 * 1.03], GOOG=[16500.0] * (N - 1) + [16500 * 0.98])
    t = choose_topic(synthetic_snapshot(hist))
    assert t.kind == "biggest_mover" and t.symbol == "AMZN"
    assert t.magnitude == pytest.approx(0.03, abs=1e-4) and "AMZN" in t.headline


def test_topic_finds_etf_dislocation_big_fill_and_quiet_markets():
    hist = history()
    hist["FLOR"] = hist["FLOR"][:-1] + [hist["FLOR"][-1] * 1.01]
    t = choose_topic(synthetic_snapshot(hist))
    assert t.kind == "etf_dislocation" and t.symbol == "FLOR" and t.magnitude > 0.009
    fill = FillNote(symbol="MSFT", price=41000, qty=5000, buyer="momentum", seller="mm_1")
    t = choose_topic(synthetic_snapshot(history(), recent_fills=(fill,)), TopicSettings(big_fill_qty=200))
    assert t.kind == "big_fill" and t.symbol == "MSFT" and "5000 MSFT" in t.headline
    quiet = choose_topic(synthetic_snapshot(history()))
    assert quiet.kind == "quiet" and quiet.symbol in BASE


def test_round_zero_is_a_broadcast_from_every_trader():
    transcript, views = chat(rounds=1, positions=HELD)
    msgs = transcript.messages
    assert [m.sender for m in msgs] == [t.name for t in TRADERS]
    assert all(m.round == 0 and m.is_broadcast and m.topic == transcript.topic.headline for m in msgs)
    by = {m.sender: m for m in msgs}
    # Each message carries its trader's own reasoning (signals), strategy and performance.
    for t in TRADERS:
        assert rule_decision(views[t.name], t).rationale[:60] in by[t.name].text
        assert len(by[t.name].text) <= ChatSettings().max_message_chars
        assert "Performance so far" in by[t.name].text and "My approach is" in by[t.name].text
    assert by["momentum"].sentiment > 0.3 and "bullish on NVDA" in by["momentum"].text
    assert by["mean_reversion"].sentiment < -0.3 and "bearish on NVDA" in by["mean_reversion"].text


def test_rounds_are_bounded_and_disagreement_routes_by_mention():
    transcript, _ = chat(rounds=3, positions=HELD)
    msgs = transcript.messages
    assert max(m.round for m in msgs) <= 2
    assert len(msgs) <= 3 * len(TRADERS)
    for r in range(3):
        senders = [m.sender for m in msgs if m.round == r]
        assert len(senders) == len(set(senders))  # one message per trader per round
    replies = [m for m in msgs if m.round == 1]
    assert replies, "opposite stances on NVDA must start a debate"
    mr = next(m for m in replies if m.sender == "mean_reversion")
    assert mr.text.startswith("@") and mr.recipients and "mean_reversion" not in mr.recipients
    assert all(stance_sender in ("momentum", "trend_following", "sentiment") for stance_sender in mr.recipients)
    # Whoever was mentioned answers the mentioner in the next round.
    second = [m for m in msgs if m.round == 2]
    assert second
    for m in second:
        assert any(m.sender in p.recipients and p.sender in m.recipients for p in replies)
    assert len(chat(rounds=0)[0].messages) == 0


def test_broadcast_routing_has_no_recipients_and_seeded_order_is_reproducible():
    transcript, _ = chat(rounds=2, routing="broadcast", positions=HELD)
    assert transcript.messages and all(m.is_broadcast and "@" not in m.text for m in transcript.messages)
    a, _ = chat(rng=random.Random(42), positions=HELD)
    b, _ = chat(rng=random.Random(42), positions=HELD)
    assert a == b
    orders = {tuple(m.sender for m in chat(rng=random.Random(s), rounds=1)[0].messages) for s in range(6)}
    assert len(orders) > 1  # the seed really shuffles who speaks first


def test_no_disagreement_ends_the_chat_after_one_round():
    transcript, _ = chat(rounds=5, hist=history())
    assert {m.round for m in transcript.messages} == {0}


def test_parse_mentions():
    names = ["momentum", "arbitrage", "sentiment"]
    assert parse_mentions("@Momentum and @arbitrage, not @nobody", names, "sentiment") == ("momentum", "arbitrage")
    assert parse_mentions("email me@momentum? @sentiment", names, "sentiment") == ("momentum",)
    assert parse_mentions("no mentions here", names) == ()


@pytest.mark.parametrize(("text", "sign"), [
    ("NVDA is soaring, I'm strongly bullish and buying more", 1),
    ("Great breakout, huge upside, buy", 1),
    ("AAPL is crashing, very bearish, selling everything in a panic", -1),
    ("Terrible losses, the market will collapse", -1),
    ("I am not bullish on MSFT", -1),
    ("I don't see any crash coming", 1),
    ("The spread is two cents and the book has depth", 0),
])
def test_lexicon_scores_obvious_sentences(text, sign):
    s = sentiment_score(text)
    assert -1.0 <= s <= 1.0
    if sign == 0:
        assert s == 0.0
    else:
        assert s * sign > 0.2


def test_lexicon_intensity_and_bounds():
    assert sentiment_score("very bullish") > sentiment_score("bullish") > sentiment_score("slightly bullish") > 0
    assert sentiment_score("bullish " * 500) <= 1.0 and sentiment_score("crash " * 500) >= -1.0


def test_aggregate_and_chat_feed_the_sentiment_trader():
    msgs = (
        ChatMessage(cycle=1, round=0, sender="a", text="NVDA looks very bullish, strong rally. AAPL is weak."),
        ChatMessage(cycle=1, round=0, sender="b", text="Buying NVDA on this breakout."),
    )
    msgs = tuple(m.model_copy(update={"sentiment": sentiment_score(m.text)}) for m in msgs)
    agg = aggregate(msgs, list(BASE))
    assert agg.n_messages == 2 and agg.overall > 0
    assert agg.by_symbol["NVDA"] > 0.5 and agg.by_symbol["AAPL"] < 0
    transcript, views = chat(positions=HELD)
    v = view_with_chat(views["sentiment"], transcript)
    assert v.market.chat_messages == transcript.messages
    assert v.market.chat_sentiment == pytest.approx(transcript.sentiment.overall)
    assert v.market.chat_sentiment_by_symbol == transcript.sentiment.by_symbol


def test_disabled_chat_is_silent():
    views = floor_views(history(), TRADERS)
    t = choose_topic(next(iter(views.values())).market)
    assert run_group_chat(views, TRADERS, ChatSettings(enabled=False), t).messages == ()
    one = [TraderConfig(name="solo", theory="momentum")]
    assert len(run_group_chat(floor_views(history(), one), one, ChatSettings(rounds=3), t).messages) == 1
