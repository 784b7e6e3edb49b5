"""Agents see scenario events: the discussion's topic, the sentiment trader's score, headlines as data."""
from __future__ import annotations

from floor.config import load_config
from market.instruments import DEFAULT_UNIVERSE
from traders.chat.topic import choose_topic
from traders.headline_tone import tone
from traders.registry import get_theory
from traders.snapshot import Headline, MarketSnapshot, Quote, TraderView, instrument_specs


def _snapshot(headlines=(), up=True) -> MarketSnapshot:
    quotes = {i.symbol: Quote(bid=i.initial_price - 5, ask=i.initial_price + 5, last=i.initial_price)
              for i in DEFAULT_UNIVERSE}
    history = {i.symbol: tuple(float(i.initial_price) * (1 + 0.001 * k * (1 if up else -1)) for k in range(25))
               for i in DEFAULT_UNIVERSE}
    return MarketSnapshot(cycle=7, instruments=instrument_specs(DEFAULT_UNIVERSE), quotes=quotes, history=history,
                          headlines=tuple(headlines))


RUMOUR = Headline(cycle=7, kind="rumour", symbol="AMZN", headline="Rumour: AMZN to miss", source="a blog", tone=-0.9)
CRASH = Headline(cycle=7, kind="flash_crash", symbol="NVDA", headline="Flash crash in NVDA")
RESUME = Headline(cycle=7, kind="resume", symbol="AAPL", headline="Trading in AAPL resumes")


def test_a_headline_becomes_the_discussion_topic_and_a_rumour_names_its_source():
    assert choose_topic(_snapshot()).kind != "news"
    topic = choose_topic(_snapshot([RESUME, RUMOUR]))
    assert topic.kind == "news" and topic.symbol == "AMZN"
    assert topic.headline == "Rumour: AMZN to miss (source: a blog)"
    assert choose_topic(_snapshot([RUMOUR, CRASH])).symbol == "NVDA"  # a crash is bigger news than a rumour
    assert choose_topic(_snapshot([RESUME])).kind != "news"  # a resume is not news


def test_headline_tones():
    assert tone(RUMOUR, "AMZN") == -0.9 and tone(RUMOUR, "MSFT") is None
    assert tone(CRASH, "NVDA") == -1.0 and tone(CRASH, "FLOR", is_etf=True) == -0.2
    up = Headline(cycle=1, kind="news", symbol=None, headline="good", move_pct=5.0)
    assert 0.76 < tone(up, "MSFT") < 0.77


def _sentiment_decision(snap):
    cfg = load_config()
    trader = next(t for t in cfg.traders if t.theory == "sentiment")
    view = TraderView(trader=trader.name, market=snap, cash=trader.initial_cash, available_cash=trader.initial_cash,
                      initial_cash=trader.initial_cash, positions={}, open_orders=())
    return get_theory("sentiment").decide(view, trader)


def test_the_sentiment_trader_reads_the_headlines():
    good = Headline(cycle=7, kind="news", symbol="MSFT", headline="MSFT beats", move_pct=10.0)
    calm = _sentiment_decision(_snapshot())
    news = _sentiment_decision(_snapshot([good]))
    assert "MSFT.news" in news.signals and "MSFT.news" not in calm.signals
    assert news.signals["MSFT.score"] > calm.signals["MSFT.score"] + 0.4
    assert any(o.symbol == "MSFT" and o.side == "buy" for o in news.orders)
