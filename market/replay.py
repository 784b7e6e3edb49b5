"""Replay a recorded order-flow (JSONL, one command per line) through an `Exchange`.

Pure domain code: `parse_line` turns one line into a command, or into a `ParseError` (never raises);
`run_stream` pushes lines through an exchange and yields its events; `book_summary` renders the final
state as text. The console front end is `cli/replay.py`; the format is in docs/replay-format.md.

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

Limits, so that no input line can crash, hang or exhaust memory (each refused line is such a rejection):
- a line is at most `MAX_LINE_BYTES` bytes (1 MiB); a longer one is skipped without being held in memory;
- a line must be UTF-8 (`read_lines` yields bytes, decoded line by line, so a bad byte names its line);
- a number has at most `MAX_NUMBER_DIGITS` digits (40: far beyond any price or quantity the exchange
  takes, and far below Python's own limit on converting long digit strings, which is slow before it);
- JSON nested too deeply for the parser is refused, not raised;
- `advance` moves at most `MAX_ADVANCE_TICKS` ticks (1,000,000) per line; the exchange steps its clock
  one tick at a time, so 10**12 ticks would never end.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any, NamedTuple

from market.events import RejectReason
from market.exchange import Exchange
from market.instruments import Instrument
from market.orders import CancelOrder, ModifyOrder, OrderType, Side, SubmitOrder, TimeInForce

DEFAULT_OWNER = "replay"
MAX_LINE_BYTES = 1 << 20  # 1 MiB
MAX_NUMBER_DIGITS = 40
MAX_ADVANCE_TICKS = 1_000_000
_BOM = b"\xef\xbb\xbf"
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
            return ParseError(f"advance needs a non-negative integer 'ticks', got {_short(ticks)}", *text)
        if ticks > MAX_ADVANCE_TICKS:
            return ParseError(f"advance of {ticks:,} ticks is more than the {MAX_ADVANCE_TICKS:,} one line "
                              f"may move (split it into several advance lines)", *text)
        return Advance(ticks)
    return ParseError(f"unknown op {_short(op)} (expected limit, market, stop, stop_limit, cancel, modify, "
                      f"end_cycle or advance)", *text)


def _short(value: Any, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters, for a rejection message (a line may hold a huge value)."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


class _NumberTooLong(ValueError):
    def __init__(self, digits: int):
        super().__init__(digits)
        self.digits = digits


def _bounded(convert):
    def parse(text: str):
        if len(text) > MAX_NUMBER_DIGITS:  # a cheap first test; the exact one counts digits only
            digits = sum(c.isdigit() for c in text)
            if digits > MAX_NUMBER_DIGITS:
                raise _NumberTooLong(digits)
        return convert(text)
    return parse


_decode = json.JSONDecoder(parse_int=_bounded(int), parse_float=_bounded(float)).decode


def parse_line(line: str | bytes) -> Command | ParseError | None:
    """One JSONL line (text, or UTF-8 bytes) -> a command, a ParseError, or None for a blank or '#' line."""
    if isinstance(line, bytes | bytearray):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ParseError(f"not valid UTF-8 (byte 0x{line[exc.start]:02x} at byte {exc.start + 1} of the "
                              f"line: {exc.reason})")
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    try:
        obj = _decode(s)
    except _NumberTooLong as exc:
        return ParseError(f"a number with {exc.digits:,} digits is too long (at most {MAX_NUMBER_DIGITS} digits)")
    except json.JSONDecodeError as exc:
        return ParseError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return ParseError("not valid JSON (nested too deeply)")
    return parse_command(obj)


def read_lines(stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes | ParseError]:
    """The lines of a binary stream, each at most `max_bytes` bytes long (without its newline); a longer
    line is read past in chunks, never held whole, and comes out as a ParseError in its place."""
    first = True
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if first and line.startswith(_BOM):  # a UTF-8 byte order mark some editors write
            line = line[len(_BOM):]
        first = False
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while not line.endswith(b"\n"):
            line = stream.readline(1 << 16)
            size += len(line)
            if not line:
                break
        if line.endswith(b"\n"):
            size -= 1
        yield ParseError(f"a line of {size:,} bytes is longer than the {max_bytes:,} a line may have")


def run_stream(lines: Iterable[str | bytes | ParseError], exchange: Exchange, *, strict: bool = False) -> Iterator:
    """Push each line through `exchange`, yielding every resulting event in order. Lines are text, UTF-8
    bytes, or a ParseError already made by the reader (`read_lines`); each counts as one line."""
    for lineno, line in enumerate(lines, 1):
        cmd = line if isinstance(line, ParseError) else parse_line(line)
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
