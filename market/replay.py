"""Replay a recorded order-flow (JSONL, one command per line) through an `Exchange`.

Pure domain code (no printing, no files opened here): `parse_line` turns one line into a command, or
into a `ParseError` (never raises); `run_stream` pushes lines through an exchange and yields its events,
line by line with the stdlib `json` (the reference); `replay_chunks` does the same from a binary stream a
chunk at a time, decoding with msgspec (the fast path, same events); `encode_events` writes events as
JSON Lines; `book_summary` renders the final state as text. The console front end is `cli/replay.py`;
the format is in docs/replay-format.md.

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
- a line must be UTF-8 (`read_lines` and `read_chunks` yield bytes, decoded line by line, so a bad byte
  names its line);
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

import msgspec
from msgspec import UNSET

from market.events import EVENT_KINDS, RejectReason, TradeExecuted, event_to_dict
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


_SIDES = {m.value: m for m in Side}
_TIFS = {m.value: m for m in TimeInForce}
_MARKET, _IOC, _GTC = OrderType.MARKET, TimeInForce.IOC, TimeInForce.GTC
_new_tuple = tuple.__new__  # a NamedTuple built without its Python-level __new__ (the same tuple)


class _Line(msgspec.Struct, gc=False):
    """The keys of a line that the replay reads (any other key is skipped). UNSET: the key is absent where
    that differs from null (`id` falls back to `order_id`, `stop_price` to `stop`, `tif` and `ticks` to
    their defaults); null reaches the exchange as None."""

    op: Any = None
    id: Any = UNSET
    order_id: Any = None
    owner: Any = None
    symbol: Any = None
    side: Any = None
    qty: Any = None
    price: Any = None
    stop_price: Any = UNSET
    stop: Any = None
    tif: Any = UNSET
    ticks: Any = UNSET


_LINE_KEYS = frozenset(_Line.__struct_fields__)


def parse_command(obj: Any) -> Command | ParseError:
    """A decoded JSON value -> a command, or a ParseError."""
    if not isinstance(obj, dict):
        return ParseError(f"expected a JSON object, got {type(obj).__name__}")
    return _command(_Line(**{k: v for k, v in obj.items() if k in _LINE_KEYS}))


def _command(line: _Line) -> Command | ParseError:
    op = line.op
    otype = _SUBMIT_OPS.get(op) if isinstance(op, str) else None  # a list or an object is an unknown op
    oid = line.id
    if oid is UNSET:
        oid = line.order_id
    if otype is not None:
        side = line.side
        if isinstance(side, str):
            side = _SIDES.get(side) or _enum(Side, side)
        tif = line.tif
        if tif is UNSET:
            tif = _IOC if otype is _MARKET else _GTC
        elif isinstance(tif, str):
            tif = _TIFS.get(tif) or _enum(TimeInForce, tif)
        stop = line.stop_price
        if stop is UNSET:
            stop = line.stop
        owner = line.owner
        return _new_tuple(SubmitOrder, (oid, DEFAULT_OWNER if owner is None else owner, line.symbol, side,
                                        line.qty, otype, line.price, stop, tif))
    if op == "cancel":
        return _new_tuple(CancelOrder, (oid, line.owner))
    if op == "modify":
        return _new_tuple(ModifyOrder, (oid, line.qty, line.price, line.owner))
    if op == "end_cycle":
        return EndCycle()
    text = [x if isinstance(x, str) else "" for x in (oid, line.owner, line.symbol)]
    if op == "advance":
        ticks = line.ticks
        if ticks is UNSET:
            ticks = 1
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


def _step(exchange: Exchange, cmd: Command | ParseError, lineno: int, strict: bool) -> list:
    """The events of one parsed line."""
    t = type(cmd)
    if t is SubmitOrder:
        sym = cmd.symbol
        if not strict and isinstance(sym, str) and sym and sym not in exchange.instruments:
            seed_price = next((p for p in (cmd.price, cmd.stop_price) if type(p) is int and p > 0), 100)
            exchange.add_instrument(Instrument(sym, sym, seed_price))
        return exchange.submit(cmd)
    if t is ParseError:
        return [exchange.reject(cmd.order_id, cmd.owner, cmd.symbol, cmd.reason, f"line {lineno}: {cmd.message}")]
    if t is CancelOrder:
        return exchange.cancel(cmd)
    if t is ModifyOrder:
        return exchange.modify(cmd)
    if t is EndCycle:
        return exchange.end_cycle()
    return exchange.advance(cmd.ticks)


def run_stream(lines: Iterable[str | bytes | ParseError], exchange: Exchange, *, strict: bool = False) -> Iterator:
    """Push each line through `exchange`, yielding every resulting event in order. Lines are text, UTF-8
    bytes, or a ParseError already made by the reader (`read_lines`); each counts as one line.

    Line by line with the stdlib parser (`parse_line`): the reference for `replay_chunks`, which gives the
    same events faster from a binary stream."""
    for lineno, line in enumerate(lines, 1):
        cmd = line if isinstance(line, ParseError) else parse_line(line)
        if cmd is not None:
            yield from _step(exchange, cmd, lineno, strict)


# ---------------------------------------------------------------- the fast path: chunks, msgspec, batches
CHUNK_BYTES = 1 << 18  # read 256 KiB at a time: lines are split, replayed and written a chunk at a time
FAST_LINE_BYTES = 1024  # a longer line takes the fast path only with at most FAST_LINE_BRACKETS brackets
FAST_LINE_BRACKETS = 256
_LONG_NUMBER = b"n" * (MAX_NUMBER_DIGITS + 1)
# every byte that can be part of a JSON number -> "n", every other byte -> " "
_NUMBER_BYTES = bytes(b"n"[0] if chr(i) in "0123456789+-.eE" else b" "[0] for i in range(256))
_decode_line = msgspec.json.Decoder(_Line).decode


def read_chunks(stream: IO[bytes], chunk_size: int = CHUNK_BYTES,
                max_bytes: int = MAX_LINE_BYTES) -> Iterator[list[bytes | ParseError]]:
    """The lines of a binary stream (without their newlines), a list per chunk read: the same lines as
    `read_lines`, and the same rules. A line longer than `max_bytes` (without its newline) is read past,
    never held whole (at most `max_bytes` of it plus one chunk are in memory), and comes out as a
    ParseError in its place. A leading UTF-8 byte order mark is skipped."""
    for lines, _ in _chunks(stream, chunk_size, max_bytes):
        yield lines


def _chunks(stream: IO[bytes], chunk_size: int, max_bytes: int) -> Iterator[tuple[list, bool]]:
    """`read_chunks`, each list with a flag: False for the last line of a stream without a final newline,
    which comes alone."""
    read = getattr(stream, "read1", stream.read)  # read1: what a pipe has now, without waiting for a full chunk
    head = b""  # the start of the line the last chunk left unfinished (at most max_bytes)
    skipped = -1  # >= 0 while reading past a line that is too long: its length so far
    block = read(chunk_size)
    while block and len(block) < len(_BOM) and _BOM.startswith(block):  # a BOM split across reads
        more = read(chunk_size)
        if not more:
            break
        block += more
    if block.startswith(_BOM):
        block = block[len(_BOM):] or read(chunk_size)
    while block:
        lines = block.split(b"\n")
        tail = lines.pop()  # the unfinished last line of the chunk (b"" after a newline)
        if lines:
            if skipped >= 0:
                lines[0] = _too_long(skipped + len(lines[0]), max_bytes)
                skipped = -1
            elif head:
                lines[0] = head + lines[0]
                head = b""
            if len(block) + len(lines[0]) > max_bytes:  # a line of this chunk may be too long
                lines = [_too_long(len(x), max_bytes) if type(x) is bytes and len(x) > max_bytes else x
                         for x in lines]
            yield lines, True
        if skipped >= 0:
            skipped += len(tail)
        elif len(head) + len(tail) > max_bytes:
            skipped, head = len(head) + len(tail), b""
        else:
            head += tail
        block = read(chunk_size)
    if skipped >= 0:
        yield [_too_long(skipped, max_bytes)], False
    elif head:
        yield [head], False


def _needs_stdlib(line: bytes) -> bool:
    """A run of bytes that may be a number too long for the digit limit, or bytes that are not UTF-8."""
    if _LONG_NUMBER in line.translate(_NUMBER_BYTES):
        return True
    if line.isascii():
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _too_long(size: int, max_bytes: int) -> ParseError:
    return ParseError(f"a line of {size:,} bytes is longer than the {max_bytes:,} a line may have")


def replay_chunks(stream: IO[bytes], exchange: Exchange, *, strict: bool = False,
                  chunk_size: int = CHUNK_BYTES) -> Iterator[list]:
    """Replay a binary stream through `exchange`: the events of each chunk of lines (`read_chunks`), one
    list per chunk. The same events as `run_stream(read_lines(stream), exchange)`, several times faster.

    msgspec decodes a line straight into `_Line` (the keys the replay reads; other keys are checked as JSON
    and skipped), unless the stdlib parser could see the line differently; then it takes `parse_line`, the
    stdlib path, with the same result or message as ever. That is a line msgspec refuses (blank, '#', not
    JSON or not an object, NaN, a number out of the float range, a lone surrogate, ...), a line that is not
    UTF-8, a line with a run of more than MAX_NUMBER_DIGITS bytes that can make up a number (the digit
    limit), and a line
    longer than FAST_LINE_BYTES with more than FAST_LINE_BRACKETS brackets (so its nesting stays far below
    the stdlib parser's depth limit). Where msgspec accepts a line, its values equal the stdlib's: integers
    of any length, floats correctly rounded (checked in tests/test_replay_fast.py).
    Memory: one chunk of lines and its events at a time, whatever the length of the stream."""
    lineno = 0
    submit = exchange.submit
    instruments = exchange.instruments
    decode, decode_error, command = _decode_line, msgspec.DecodeError, _command
    number_bytes, long_number = _NUMBER_BYTES, _LONG_NUMBER
    fast_bytes, fast_brackets = FAST_LINE_BYTES, FAST_LINE_BRACKETS
    for lines, terminated in _chunks(stream, chunk_size, MAX_LINE_BYTES):
        newline = b"\n" if terminated else b""  # the stdlib path sees a line as `read_lines` gives it
        out: list = []
        # one scan of the whole chunk; only a chunk with a long number-like run or a byte outside ASCII
        # checks each line (msgspec checks UTF-8 only in the values it keeps, not in keys it skips)
        text = b"\n".join([x for x in lines if type(x) is bytes])
        risky = not text.isascii() or long_number in text.translate(number_bytes)
        for line in lines:
            lineno += 1
            if type(line) is not bytes:
                cmd = line  # a ParseError of the reader
            elif ((risky and _needs_stdlib(line)) or
                  (len(line) > fast_bytes and line.count(b"[") + line.count(b"{") > fast_brackets)):
                cmd = parse_line(line + newline)
            else:
                try:
                    cmd = command(decode(line))
                except decode_error:
                    cmd = parse_line(line + newline)
            if type(cmd) is SubmitOrder:  # the common case, inlined
                sym = cmd[2]
                if strict or (type(sym) is str and sym in instruments):
                    out += submit(cmd)
                    continue
            elif cmd is None:
                continue
            out += _step(exchange, cmd, lineno, strict)
        yield out


# one msgspec struct per event type, fields in the event's order after a "kind" tag: encoded, it is
# exactly event_to_dict(event)
_EVENT_STRUCTS = {cls: msgspec.defstruct(f"{cls.__name__}Line", [(f, Any) for f in cls._fields],
                                         tag_field="kind", tag=kind, gc=False)
                  for cls, kind in EVENT_KINDS.items()}
_encode, _encode_lines = msgspec.json.Encoder().encode, msgspec.json.Encoder().encode_lines
_stdlib_encode = json.JSONEncoder(separators=(",", ":")).encode
# printable ASCII without the backslash, and the newline: text both encoders write the same way
_PLAIN = bytes(range(0x20, 0x7F)).replace(b"\\", b"") + b"\n"
_ENCODE_ERRORS = (msgspec.EncodeError, UnicodeEncodeError, TypeError, OverflowError, ValueError)


def encode_events(events: list, *, trades_only: bool = False) -> bytes:
    """JSON Lines, one `event_to_dict(event)` per line (every event, or only the trades): byte for byte what
    the stdlib encoder writes with `separators=(",", ":")` (ASCII, with \\u escapes), encoded by msgspec.

    msgspec encodes the whole list at once; its text is used as it is when it is plain printable ASCII
    without a backslash, where both encoders write the same bytes. Otherwise each event is encoded on its
    own, and an event msgspec writes differently (non-ASCII or escaped text) or cannot write (a lone
    surrogate) is written by the stdlib encoder."""
    if trades_only:
        events = [e for e in events if type(e) is TradeExecuted]
    if not events:
        return b""
    structs = _EVENT_STRUCTS
    try:
        text = _encode_lines([structs[type(e)](*e) for e in events])
    except _ENCODE_ERRORS:
        text = None
    if text is not None and not text.translate(None, _PLAIN):
        return text
    return b"".join([_encode_one(e) for e in events])


def _encode_one(event) -> bytes:
    try:
        text = _encode(_EVENT_STRUCTS[type(event)](*event)) + b"\n"
    except _ENCODE_ERRORS:
        text = None
    if text is not None and not text.translate(None, _PLAIN):
        return text
    return (_stdlib_encode(event_to_dict(event)) + "\n").encode("ascii")


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
