"""Replay a recorded order-flow (JSONL, one command per line) through an `Exchange`.

Pure domain code: `parse_line` turns one line into a command, or into a `ParseError` (never raises);
`run_stream` pushes lines through an exchange and yields its events; `book_summary` renders the final
state as text. The console front end is `graphs/cli_replay.py`; the format is in docs/replay-format.md.

Line format (keys not listed are ignored, so recorded files may carry extra fields such as timestamps):
  {"op": "limit", "id": "o1", "side": "buy", "symbol": "X", "price": 10025, "qty": 10, "owner": "a", "tif": "gtc"}
  {"op": "market", "id": "o2", "side": "sell", "symbol": "X", "qty": 5, "owner": "b"}
  {"op": "stop", "id": "o3", "side": "sell", "symbol": "X", "stop_price": 9900, "qty": 5, "owner": "a"}
  {"op": "stop_limit", "id": "o4", "side": "sell", "symbol": "X", "stop_price": 9900, "price": 9850, "qty": 5, "owner": "a"}
  {"op": "cancel", "id": "o1", "owner": "a"}
  {"op": "modify", "id": "o1", "qty": 4, "price": 10020, "owner": "a"}
  {"op": "end_cycle"}          {"op": "advance", "ticks": 10}
`owner` defaults to "replay" for new orders and to "no check" for cancel/modify; `tif` defaults to
"gtc" (market orders: "ioc"). Values are passed on as written: a price of 100.5 or "100" reaches the
exchange and is rejected there with its reason, exactly as from any other caller.

Unknown symbols: unless `strict`, the first order for a symbol the exchange does not list creates it
(tick size 1, lot size 1), so researchers can replay any recorded stream; with `strict` such orders are
rejected `unknown_symbol`. Blank lines and lines starting with '#' are skipped. A line that is not
JSON, not an object, or has an unknown or missing op becomes an `OrderRejected` (reason
`invalid_order`) whose message starts with "line N:", and the run goes on.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from market.events import RejectReason
from market.exchange import Exchange
from market.instruments import Instrument
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

DEFAULT_OWNER = "replay"
_SUBMIT_OPS = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "stop": OrderType.STOP,
               "stop_limit": OrderType.STOP_LIMIT}


class EndCycle(NamedTuple):
    """Close the cycle: DAY orders expire and the cycle's bars are closed."""


class Advance(NamedTuple):
    ticks: int


class ParseError(NamedTuple):
    message: str
    order_id: str = ""
    owner: str = ""
    symbol: str = ""
    reason: RejectReason = RejectReason.INVALID_ORDER


Command = SubmitOrder | CancelOrder | ModifyOrder | EndCycle | Advance


def _enum(kind, value):
    """The enum member for a valid string, else the raw value (the exchange rejects it with a reason)."""
    try:
        return kind(value.lower()) if isinstance(value, str) else value
    except ValueError:
        return value


def parse_command(obj: Any) -> Command | ParseError:
    if not isinstance(obj, dict):
        return ParseError(f"expected a JSON object, got {type(obj).__name__}")
    op = obj.get("op")
    oid = obj.get("id", obj.get("order_id"))
    owner = obj.get("owner")
    sym = obj.get("symbol")
    text = [x if isinstance(x, str) else "" for x in (oid, owner, sym)]
    if op in _SUBMIT_OPS:
        otype = _SUBMIT_OPS[op]
        default_tif = TimeInForce.IOC if otype is OrderType.MARKET else TimeInForce.GTC
        return SubmitOrder(
            oid, DEFAULT_OWNER if owner is None else owner, sym, _enum(Side, obj.get("side")), obj.get("qty"),
            otype, obj.get("price"), obj.get("stop_price", obj.get("stop")),
            _enum(TimeInForce, obj.get("tif", default_tif)),
        )
    if op == "cancel":
        return CancelOrder(oid, owner)
    if op == "modify":
        return ModifyOrder(oid, obj.get("qty"), obj.get("price"), owner)
    if op == "end_cycle":
        return EndCycle()
    if op == "advance":
        ticks = obj.get("ticks", 1)
        if type(ticks) is not int or ticks < 0:
            return ParseError(f"advance needs a non-negative integer 'ticks', got {ticks!r}", *text)
        return Advance(ticks)
    return ParseError(f"unknown op {op!r} (expected limit, market, stop, stop_limit, cancel, modify, "
                      f"end_cycle or advance)", *text)


def parse_line(line: str) -> Command | ParseError | None:
    """One JSONL line -> a command, a ParseError, or None for a blank or '#' comment line."""
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    try:
        obj = json.loads(s)
    except ValueError as exc:
        return ParseError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    return parse_command(obj)


def run_stream(lines: Iterable[str], exchange: Exchange, *, strict: bool = False) -> Iterator:
    """Push each line through `exchange`, yielding every resulting event in order."""
    for lineno, line in enumerate(lines, 1):
        cmd = parse_line(line)
        if cmd is None:
            continue
        if isinstance(cmd, ParseError):
            yield exchange.reject(cmd.order_id, cmd.owner, cmd.symbol, cmd.reason, f"line {lineno}: {cmd.message}")
        elif isinstance(cmd, SubmitOrder):
            sym = cmd.symbol
            if not strict and isinstance(sym, str) and sym and sym not in exchange.instruments:
                seed_price = next((p for p in (cmd.price, cmd.stop_price) if type(p) is int and p > 0), 100)
                exchange.add_instrument(Instrument(sym, sym, seed_price))
            yield from exchange.submit(cmd)
        elif isinstance(cmd, CancelOrder):
            yield from exchange.cancel(cmd)
        elif isinstance(cmd, ModifyOrder):
            yield from exchange.modify(cmd)
        elif isinstance(cmd, EndCycle):
            yield from exchange.end_cycle()
        else:
            yield from exchange.advance(cmd.ticks)


def book_summary(exchange: Exchange, levels: int = 5) -> str:
    """A plain-text summary of every symbol that has orders or trades: quotes, volume, depth."""
    out = [f"cycle {exchange.cycle}, tick {exchange.tick}"]
    for sym in exchange.instruments:
        bar = exchange.current_bar(sym)
        bars = exchange.bars(sym)
        depth = exchange.depth(sym, levels)
        if bar is None and not bars and not depth.bids and not depth.asks:
            continue
        volume = sum(b.volume for b in bars) + (bar.volume if bar else 0)
        trades = sum(b.trades for b in bars) + (bar.trades if bar else 0)
        out.append(f"{sym}: bid {exchange.best_bid(sym)} ask {exchange.best_ask(sym)} last {exchange.last_price(sym)} "
                   f"volume {volume} trades {trades}")
        for name, side in (("asks", tuple(reversed(depth.asks))), ("bids", depth.bids)):
            rows = ", ".join(f"{q}@{p} ({n})" for p, q, n in side) or "-"
            out.append(f"  {name}: {rows}")
    return "\n".join(out)
