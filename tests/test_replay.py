"""The replay format: line parsing, streaming through an exchange, and the `trading-floor replay` command."""
from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from cli import replay as cli_replay
from market.events import OrderRejected, RejectReason, TradeExecuted
from market.exchange import Exchange
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce
from market.replay import Advance, EndCycle, ParseError, book_summary, parse_line, run_stream

FLOW = [
    '{"op":"limit","id":"o1","side":"buy","symbol":"X","price":10025,"qty":10,"owner":"a"}',
    '{"op":"limit","id":"o2","side":"sell","symbol":"X","price":10030,"qty":5,"owner":"b","tif":"day"}',
    "this is not json",
    '{"op":"market","id":"o3","side":"sell","symbol":"X","qty":4,"owner":"c"}',
    '{"op":"limit","id":"o4","side":"buy","symbol":"X","price":100.5,"qty":1,"owner":"c"}',
    "",
    "# a comment",
    '{"op":"modify","id":"o1","qty":3}',
    '{"op":"cancel","id":"o2","owner":"zz"}',
    '{"op":"end_cycle"}',
]


def test_parse_each_op():
    assert parse_line('{"op":"limit","id":"o1","side":"buy","symbol":"X","price":10,"qty":2,"owner":"a"}') == \
        SubmitOrder("o1", "a", "X", Side.BUY, 2, OrderType.LIMIT, 10, None, TimeInForce.GTC)
    m = parse_line('{"op":"market","id":"m","side":"SELL","symbol":"X","qty":2}')
    assert m == SubmitOrder("m", "replay", "X", Side.SELL, 2, OrderType.MARKET, None, None, TimeInForce.IOC)
    s = parse_line('{"op":"stop","id":"s","side":"sell","symbol":"X","stop_price":90,"qty":2,"tif":"day"}')
    assert (s.order_type, s.stop_price, s.tif) == (OrderType.STOP, 90, TimeInForce.DAY)
    sl = parse_line('{"op":"stop_limit","id":"s","side":"buy","symbol":"X","stop_price":90,"price":91,"qty":2}')
    assert (sl.order_type, sl.price, sl.stop_price) == (OrderType.STOP_LIMIT, 91, 90)
    assert parse_line('{"op":"cancel","id":"o1","owner":"a"}') == CancelOrder("o1", "a")
    assert parse_line('{"op":"modify","id":"o1","price":12}') == ModifyOrder("o1", None, 12, None)
    assert parse_line('{"op":"end_cycle"}') == EndCycle()
    assert parse_line('{"op":"advance","ticks":3}') == Advance(3)
    assert parse_line("   ") is None and parse_line("# note") is None


def test_parse_errors_never_raise():
    for bad in ("{not json", "[1,2]", '"text"', '{"op":"explode","id":"x"}', '{"id":"x"}',
                '{"op":"advance","ticks":-1}'):
        out = parse_line(bad)
        assert isinstance(out, ParseError) and out.reason is RejectReason.INVALID_ORDER and out.message
    # bad values are passed through, for the exchange to reject with its own reason
    raw = parse_line('{"op":"limit","id":"o","side":"up","symbol":"X","price":"100","qty":1,"tif":"never"}')
    assert (raw.side, raw.price, raw.tif) == ("up", "100", "never")


def test_run_stream_continues_after_bad_lines_and_creates_symbols():
    ex = Exchange()
    events = list(run_stream(FLOW, ex))
    rejections = [e for e in events if isinstance(e, OrderRejected)]
    assert [r.reason for r in rejections] == [RejectReason.INVALID_ORDER, RejectReason.INVALID_PRICE,
                                              RejectReason.NOT_OWNER]
    assert rejections[0].message.startswith("line 3:")
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    assert [(t.buy_order_id, t.sell_order_id, t.price, t.qty) for t in trades] == [("o1", "o3", 10025, 4)]
    assert "X" in ex.instruments and ex.cycle == 1
    assert ex.order("o2") is None  # DAY order expired at end_cycle
    assert ex.order("o1").qty == 3
    summary = book_summary(ex)
    assert "X: bid 10025 ask None last 10025 volume 4 trades 1" in summary


def test_strict_rejects_unknown_symbols():
    ex = Exchange()
    events = list(run_stream(FLOW[:1] + ['{"op":"limit","id":"ok","side":"buy","symbol":"AAPL","price":100,"qty":1}'],
                             ex, strict=True))
    assert events[0].reason is RejectReason.UNKNOWN_SYMBOL
    assert events[1].symbol == "AAPL" and "X" not in ex.instruments


def test_replay_is_deterministic():
    a = list(run_stream(FLOW, Exchange()))
    b = list(run_stream(FLOW, Exchange()))
    assert a == b


def test_cli_replay_writes_jsonl_and_summary(tmp_path):
    path = tmp_path / "flow.jsonl"
    path.write_text("\n".join(FLOW) + "\n")
    app = typer.Typer()
    cli_replay.register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer in multi-command mode, like the real app
        pass

    result = CliRunner().invoke(app, ["replay", str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["kind"] for x in lines].count("trade_executed") == 1
    assert lines[2]["kind"] == "order_rejected" and lines[2]["message"].startswith("line 3:")
    assert [x["seq"] for x in lines] == sorted(x["seq"] for x in lines)
    assert "X: bid 10025" in result.stderr and "trade_executed 1" in result.stderr

    missing = CliRunner().invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
