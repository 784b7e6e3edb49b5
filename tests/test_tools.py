"""The trader tools over a real exchange (with background liquidity) and a real ledger: every tool
through `.invoke`, argument validation, staging without side effects, the lock, and the LLM tool loop."""
from __future__ import annotations

import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage
from support.fake_chat import ScriptedChatModel, ai_tool_calls

from ledger.store import Ledger
from ledger.types import Fill
from market.background import BackgroundMarket
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE, universe_by_symbol
from market.orders import OrderType, Side, SubmitOrder, TimeInForce
from tools.desk import TraderDesk
from tools.market_tools import marks as exchange_marks
from tools.toolset import make_trader_tools
from traders.decision import Decision, ProposedOrder
from traders.llm.settings import LLMConfig, RetryPolicy
from traders.llm.trader import llm_decide_detailed

SYMBOLS = [i.symbol for i in DEFAULT_UNIVERSE]
READ = {"quote", "depth", "recent_trades", "price_history", "etf_nav", "instruments", "my_portfolio", "my_cash",
        "my_open_orders", "my_transactions_and_pnl", "leaderboard", "cycle_chat"}
WRITE = {"place_order", "cancel_order", "post_message"}


@pytest.fixture
def floor():
    bg = BackgroundMarket(seed=11)
    ex = Exchange(DEFAULT_UNIVERSE, background=bg)
    for _ in range(3):
        ex.advance(bg.ticks_per_cycle)
        ex.end_cycle()
    ex.advance(5)
    lg = Ledger.open(":memory:")
    lg.start_run(config={}, seed=1, symbols=SYMBOLS)
    lg.open_account("alice", theory="momentum", cash=10_000_000, holdings={"AAPL": 100, "MSFT": 50})
    lg.open_account("bob", theory="arbitrage", cash=5_000_000, holdings={"FLOR": 200})
    res = lg.settle(1, [Fill("F1", 1, 2, "AAPL", 19000, 10, buyer="bob", seller="alice"),
                        Fill("F2", 1, 3, "MSFT", 41000, 5, buyer="bob", seller="alice")])
    assert res.ok and res.settled == 2
    lg.record_message(ex.cycle, "bob", "FLOR trades below its NAV, I am buying", sentiment=0.4)
    lg.record_message(ex.cycle - 1, "alice", "AAPL momentum is fading", sentiment=-0.2)
    ex.submit(SubmitOrder("alice-1", "alice", "AAPL", Side.BUY, 5, OrderType.LIMIT, 100, None, TimeInForce.GTC))
    ex.submit(SubmitOrder("bob-1", "bob", "NVDA", Side.SELL, 5, OrderType.LIMIT, 9_999_900, None, TimeInForce.GTC))
    yield ex, lg
    lg.close()


@pytest.fixture
def desk(floor):
    ex, lg = floor
    return TraderDesk(trader="alice", exchange=ex, ledger=lg, cycle=ex.cycle, lock=threading.Lock(),
                      staged_orders=[], staged_cancels=[], staged_messages=[])


def tools_of(desk, **kw):
    return {t.name: t for t in make_trader_tools(desk, **kw)}


def is_error(result) -> bool:
    return (isinstance(result, str) and result.startswith("error")) or (isinstance(result, dict) and "error" in result)


def test_tool_set_and_read_only(desk):
    full = tools_of(desk)
    assert set(full) == READ | WRITE
    assert set(tools_of(desk, read_only=True)) == READ
    for t in full.values():
        assert t.description and "account" not in t.args  # the account is never an argument


def test_quote_depth_trades_history_match_the_exchange(desk):
    ex, tools = desk.exchange, tools_of(desk)
    for sym in SYMBOLS:
        q = tools["quote"].invoke({"symbol": sym.lower()})
        bid, ask = ex.best_bid(sym), ex.best_ask(sym)
        assert bid is not None and ask is not None
        assert (q["symbol"], q["bid_cents"], q["ask_cents"]) == (sym, bid, ask)
        assert q["bid"] == round(bid / 100, 2) and q["ask"] == round(ask / 100, 2)
        assert q["last_cents"] == ex.last_price(sym) and q["spread"] == round((ask - bid) / 100, 2)
        assert q["bid_size"] == ex.depth(sym, 1).bids[0][1]
    d = tools["depth"].invoke({"symbol": "MSFT", "levels": 3})
    want = ex.depth("MSFT", 3)
    assert [(lv["price_cents"], lv["qty"], lv["orders"]) for lv in d["bids"]] == list(want.bids)
    assert [(lv["price_cents"], lv["qty"], lv["orders"]) for lv in d["asks"]] == list(want.asks)
    t = tools["recent_trades"].invoke({"symbol": "NVDA", "limit": 7})
    tape = ex.trades("NVDA", 7)
    assert t["count"] == len(tape) > 0
    assert [(r["cycle"], r["tick"], r["price_cents"], r["qty"]) for r in t["trades"]] == [
        (x.cycle, x.tick, x.price, x.qty) for x in tape]
    assert "buyer" not in t["trades"][0]  # the tape is anonymous
    h = tools["price_history"].invoke({"symbol": "AAPL", "cycles": 2})
    bars = ex.bars("AAPL")[-2:]
    assert [row[0] for row in h["bars"]] == [b.cycle for b in bars]
    assert [row[4] for row in h["bars"]] == [round(b.close / 100, 2) for b in bars]
    assert h["current_cycle_so_far"][0] == ex.cycle


def test_etf_nav_and_instruments(desk):
    ex, tools = desk.exchange, tools_of(desk)
    out = tools["etf_nav"].invoke({})
    (etf,) = out["etfs"]
    flor = universe_by_symbol()["FLOR"]
    nav = flor.nav({s: ex.mid(s) for s, _ in flor.basket})
    assert etf["symbol"] == "FLOR" and etf["nav"] == round(nav / 100, 3)
    assert etf["premium_bps"] == round(1e4 * (ex.mid("FLOR") - nav) / nav, 1)
    assert etf["buy_etf_edge"] == round((nav - ex.best_ask("FLOR")) / 100, 3)
    inst = tools["instruments"].invoke({})["instruments"]
    assert [r["symbol"] for r in inst] == sorted(SYMBOLS)
    assert next(r for r in inst if r["symbol"] == "FLOR")["basket"] == dict(flor.basket)


def test_account_tools_match_the_ledger(desk):
    ex, lg, tools = desk.exchange, desk.ledger, tools_of(desk)
    marks = exchange_marks(ex)
    # the floor's one mark definition (ledger snapshots, leaderboard, tools): the last trade, else the mid
    for sym in marks:
        last, mid = ex.last_price(sym), ex.mid(sym)
        assert marks[sym] == (last if last is not None else round(mid) if mid is not None else marks[sym])
    assert any(ex.last_price(sym) is not None and ex.mid(sym) is not None and ex.last_price(sym) != round(ex.mid(sym))
               for sym in marks), "the fixture should have a symbol whose last trade differs from its mid"
    p = tools["my_portfolio"].invoke({})
    assert p["holdings"] == lg.holdings("alice") == {"AAPL": 90, "MSFT": 45}
    assert p["total_value_cents"] == lg.cash("alice") + 90 * marks["AAPL"] + 45 * marks["MSFT"]
    assert {r["symbol"]: r["mark_cents"] for r in p["positions"]} == {"AAPL": marks["AAPL"], "MSFT": marks["MSFT"]}
    c = tools["my_cash"].invoke({})
    assert c["cash_cents"] == lg.cash("alice") == 10_000_000 + 10 * 19000 + 5 * 41000
    assert c["available_cents"] == lg.available_cash("alice")
    o = tools["my_open_orders"].invoke({})
    assert [r["order_id"] for r in o["orders"]] == ["alice-1"]  # never bob's
    assert o["orders"][0]["limit_price"] == 1.0 and o["orders"][0]["qty_open"] == 5
    pnl = tools["my_transactions_and_pnl"].invoke({"limit": 10})
    assert pnl["realized_pnl_cents"] == lg.realized_pnl("alice")
    assert pnl["unrealized_pnl_cents"] == lg.unrealized_pnl("alice", marks)
    assert [(f["symbol"], f["side"], f["qty"], f["price_cents"]) for f in pnl["recent_fills"]] == [
        ("AAPL", "sell", 10, 19000), ("MSFT", "sell", 5, 41000)]
    board = tools["leaderboard"].invoke({})["leaderboard"]
    want = lg.leaderboard(marks)
    assert [(r["rank"], r["account"]) for r in board] == [(r["rank"], r["account"]) for r in want]
    assert {r["account"] for r in board} == {"alice", "bob"}
    chat = tools["cycle_chat"].invoke({})
    assert [(m["sender"], m["text"]) for m in chat["messages"]] == [("bob", "FLOR trades below its NAV, I am buying")]
    earlier = tools["cycle_chat"].invoke({"cycle": desk.cycle - 1})
    assert [m["sender"] for m in earlier["messages"]] == ["alice"]
    assert is_error(tools["cycle_chat"].invoke({"cycle": desk.cycle + 5}))


def _world(desk):
    ex, lg = desk.exchange, desk.ledger
    return (ex.clock.seq, ex.tick, ex.open_orders("alice"), ex.open_orders("bob"), lg.dump_state(),
            lg.orders(), lg.messages())


def test_place_order_stages_cents_and_touches_nothing(desk):
    tools, before = tools_of(desk), _world(desk)
    out = tools["place_order"].invoke({"symbol": "aapl", "side": "BUY", "qty": 7, "limit_price": 190.25,
                                       "tif": "gtc"})
    assert out["staged"] is True and out["order"]["limit_price_cents"] == 19025
    stop = tools["place_order"].invoke({"symbol": "NVDA", "side": "sell", "qty": 3, "order_type": "stop_limit",
                                        "limit_price": 118.1, "stop_price": 118.3})
    mkt = tools["place_order"].invoke({"symbol": "FLOR", "side": "buy", "qty": 2, "order_type": "market",
                                       "limit_price": 99.0})
    assert stop["staged"] and mkt["staged"] and "ignored" in mkt
    assert desk.staged_orders == [
        ProposedOrder(symbol="AAPL", side="buy", qty=7, limit_price=19025, tif="gtc"),
        ProposedOrder(symbol="NVDA", side="sell", qty=3, order_type="stop_limit", limit_price=11810, stop_price=11830),
        ProposedOrder(symbol="FLOR", side="buy", qty=2, order_type="market"),
    ]
    assert _world(desk) == before


@pytest.mark.parametrize("args, phrase", [
    ({"symbol": "AAPL", "side": "buy", "qty": -5, "limit_price": 190.0}, "greater than 0"),
    ({"symbol": "AAPL", "side": "buy", "qty": 0, "limit_price": 190.0}, "greater than 0"),
    ({"symbol": "AAPL", "side": "buy", "qty": "ten", "limit_price": 190.0}, "valid integer"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5, "limit_price": math.nan}, "finite number"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5, "limit_price": "190.00"}, "valid number"),
    ({"symbol": "AAPL", "side": "hold", "qty": 5, "limit_price": 190.0}, "side"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5, "limit_price": 190.0, "account": "bob"}, "account"),
    ({"symbol": "ZZZZ", "side": "buy", "qty": 5, "limit_price": 190.0}, "unknown symbol"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5, "limit_price": 190.123}, "finer than one cent"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5}, "needs limit_price"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5, "order_type": "stop"}, "needs stop_price"),
    ({"symbol": "AAPL", "side": "buy", "qty": 5_000_000, "limit_price": 190.0}, "sanity limit"),
])
def test_bad_orders_answer_a_clear_error_and_stage_nothing(desk, args, phrase):
    before = _world(desk)
    out = tools_of(desk)["place_order"].invoke(args)
    assert is_error(out)
    text = out if isinstance(out, str) else out["error"]
    assert phrase in text
    assert text.startswith(("error: invalid arguments for place_order", "order not staged"))
    assert desk.staged_orders == [] and _world(desk) == before


def test_errors_come_back_as_tool_messages_in_a_tool_call(desk):
    call = {"name": "place_order", "args": {"symbol": "AAPL", "side": "buy", "qty": "ten"}, "id": "c1",
            "type": "tool_call"}
    msg = tools_of(desk)["place_order"].invoke(call)
    assert isinstance(msg, ToolMessage) and msg.status == "error" and "qty" in msg.content
    ok = tools_of(desk)["quote"].invoke({**call, "name": "quote", "args": {"symbol": "MSFT"}})
    assert json.loads(ok.content)["ask_cents"] == desk.exchange.best_ask("MSFT")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(min_value=1, max_value=10_000_000), qty=st.integers(min_value=1, max_value=10_000))
def test_any_two_decimal_dollar_price_stages_its_exact_cents(desk, cents, qty):
    desk.staged_orders.clear()
    out = tools_of(desk)["place_order"].invoke({"symbol": "GOOG", "side": "sell", "qty": qty,
                                                "limit_price": cents / 100})
    assert out["staged"] is True
    assert desk.staged_orders == [ProposedOrder(symbol="GOOG", side="sell", qty=qty, limit_price=cents)]


def test_max_staged_orders_is_enforced(desk):
    desk.max_staged_orders = 3
    place = tools_of(desk)["place_order"]
    results = [place.invoke({"symbol": "AAPL", "side": "buy", "qty": 1, "limit_price": 100.0 + i}) for i in range(4)]
    assert [r.get("staged", False) for r in results] == [True, True, True, False]
    assert "limit is 3" in results[3]["error"] and len(desk.staged_orders) == 3


def test_cancel_and_message_are_staged_only_for_own_orders(desk):
    tools, before = tools_of(desk), _world(desk)
    assert tools["cancel_order"].invoke({"order_id": "alice-1"})["staged"] is True
    assert "already" in tools["cancel_order"].invoke({"order_id": "alice-1"})["note"]
    assert "not yours" in tools["cancel_order"].invoke({"order_id": "bob-1"})["error"]
    assert "no open order" in tools["cancel_order"].invoke({"order_id": "nope"})["error"]
    assert is_error(tools["cancel_order"].invoke({"order_id": ""}))
    assert desk.staged_cancels == ["alice-1"]
    assert tools["post_message"].invoke({"text": "  AAPL   looks strong  "})["text"] == "AAPL looks strong"
    assert is_error(tools["post_message"].invoke({"text": ""}))
    assert is_error(tools["post_message"].invoke({"text": "x" * 600}))
    for i in range(2):
        tools["post_message"].invoke({"text": f"note {i}"})
    assert "limit is 3" in tools["post_message"].invoke({"text": "one too many"})["error"]
    assert desk.staged_messages == ["AAPL looks strong", "note 0", "note 1"]
    assert _world(desk) == before  # still live on the exchange, nothing in the ledger


def test_failures_inside_tools_are_answered_not_raised(desk, monkeypatch):
    ghost = TraderDesk(trader="nobody", exchange=desk.exchange, ledger=desk.ledger, cycle=desk.cycle)
    out = tools_of(ghost)["my_cash"].invoke({})
    assert "unknown account" in out["error"]

    def down(symbol):
        raise RuntimeError("book unavailable")

    monkeypatch.setattr(desk.exchange, "best_bid", down)
    out = tools_of(desk)["quote"].invoke({"symbol": "AAPL"})
    assert out == {"error": "quote failed: RuntimeError: book unavailable"}
    assert not desk.lock.locked()  # released after the failure


class _LockChecked:
    """A proxy that records whether the desk lock was held on every attribute access."""

    def __init__(self, target, lock, seen):
        self._target, self._lock, self._seen = target, lock, seen

    def __getattr__(self, name):
        self._seen.append(self._lock.locked())
        return getattr(self._target, name)


def test_parallel_traders_share_one_lock(floor):
    ex, lg = floor
    lock, seen = threading.Lock(), []
    pex, plg = _LockChecked(ex, lock, seen), _LockChecked(lg, lock, seen)
    desks = [TraderDesk(trader=n, exchange=pex, ledger=plg, cycle=ex.cycle, lock=lock) for n in ("alice", "bob")]
    calls = [("quote", {"symbol": "AAPL"}), ("my_portfolio", {}), ("leaderboard", {}), ("depth", {"symbol": "FLOR"}),
             ("my_transactions_and_pnl", {}), ("etf_nav", {}), ("cycle_chat", {}), ("my_open_orders", {})]
    sequential = [[tools_of(d)[n].invoke(a) for n, a in calls] for d in desks]
    seen.clear()

    def work(i):
        d = desks[i % 2]
        tools = tools_of(d)
        tools["place_order"].invoke({"symbol": "MSFT", "side": "buy", "qty": 1, "limit_price": 400.0 + i % 5})
        return i % 2, [tools[n].invoke(a) for n, a in calls]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(16)))
    for who, got in results:
        assert got == sequential[who]
    assert seen and all(seen)  # every exchange/ledger access happened under the lock
    assert len(desks[0].staged_orders) == len(desks[1].staged_orders) == 8


def test_tools_inside_the_llm_tool_loop(desk):
    ex = desk.exchange
    model = ScriptedChatModel(responses=[
        ai_tool_calls(("quote", {"symbol": "AAPL"}), ("my_cash", {}),
                      ("place_order", {"symbol": "AAPL", "side": "buy", "qty": 3, "limit_price": 1.5}),
                      ("place_order", {"symbol": "AAPL", "side": "buy", "qty": -1, "limit_price": 1.5})),
        ai_tool_calls(("submit_decision", {"orders": [], "rationale": "staged one AAPL bid"}), id_prefix="s"),
    ])
    cfg = LLMConfig(name="fake", model="fake-model", base_url="http://127.0.0.1:9/v1", max_retries=1)
    res = llm_decide_detailed("cycle view", make_trader_tools(desk), cfg, None, None,
                              lambda: Decision(trader="alice", cycle=desk.cycle, rationale="rule"), "alice",
                              desk.cycle, model=model, theory_description="momentum", symbols=SYMBOLS,
                              retry=RetryPolicy(max_retries=1, base_delay_s=0.0, max_delay_s=0.0),
                              sleep=lambda s: None)
    assert res.decision.mode == "llm"
    records = res.loop.tool_calls
    assert [r.name for r in records] == ["quote", "my_cash", "place_order", "place_order"]
    quote = json.loads(records[0].output)
    assert (quote["bid_cents"], quote["ask_cents"]) == (ex.best_bid("AAPL"), ex.best_ask("AAPL"))
    assert json.loads(records[1].output)["cash_cents"] == desk.ledger.cash("alice")
    assert json.loads(records[2].output)["order"]["limit_price_cents"] == 150
    assert "greater than 0" in records[3].output
    seen = [m for m in model.calls[1] if isinstance(m, ToolMessage)]
    assert [m.content for m in seen] == [r.output for r in records]  # the model read the tool results
    assert desk.staged_orders == [ProposedOrder(symbol="AAPL", side="buy", qty=3, limit_price=150)]
    bound = [getattr(t, "name", None) or t["function"]["name"] for t in model.bound_tools]
    assert set(bound) == READ | WRITE | {"submit_decision"}
