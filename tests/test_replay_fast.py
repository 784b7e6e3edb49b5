"""The fast replay path (`read_chunks`, `replay_chunks`, `encode_events`) against the reference path
(`read_lines`, `run_stream` with the stdlib parser, `event_to_dict` with the stdlib encoder): the same
events, the same messages, the same bytes, on edge cases, at every chunk boundary, and on random lines."""
from __future__ import annotations

import io
import json
import random

import pytest
import typer
from typer.testing import CliRunner

from cli import replay as cli_replay
from market.events import (
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    OrderModified,
    OrderRejected,
    RejectReason,
    TradeExecuted,
    event_to_dict,
)
from market.exchange import Exchange
from market.orders import OrderType, Side, TimeInForce
from market.replay import (
    FAST_LINE_BRACKETS,
    MAX_LINE_BYTES,
    ParseError,
    encode_events,
    read_chunks,
    read_lines,
    replay_chunks,
    run_stream,
)

_stdlib = json.JSONEncoder(separators=(",", ":")).encode

EDGE_LINES = [
    b'{"op":"limit","id":"a1","side":"buy","symbol":"X","price":100,"qty":5,"owner":"a"}',
    b'{"op":"limit","id":"a2","side":"SELL","symbol":"X","price":100,"qty":2,"owner":"b","tif":"DAY"}',
    b'{"op":"market","id":"a3","side":"sell","symbol":"X","qty":1,"owner":"c","tif":null}',
    b'{"op":"market","id":"a4","side":"sell","symbol":"X","qty":1,"owner":"c"}',
    b'{"op":"stop","order_id":"a5","side":"sell","symbol":"X","stop":90,"qty":1}',
    b'{"op":"stop_limit","id":"a6","side":"buy","symbol":"X","stop_price":null,"stop":120,"price":121,"qty":1}',
    b'{"op":"limit","id":null,"order_id":"a7","side":"buy","symbol":"X","price":99,"qty":1}',
    b'{"op":"limit","id":"a8","side":"up","symbol":"X","price":"100","qty":1,"tif":"never"}',
    b'{"op":"limit","id":"a9","side":"buy","symbol":"X","price":100.5,"qty":1}',
    b'{"op":"limit","id":"a10","side":"buy","symbol":"X","price":1e2,"qty":-0}',
    b'{"op":"limit","id":"a11","side":"buy","symbol":"X","price":18446744073709551616,"qty":1}',
    b'{"op":"limit","id":"a12","side":"buy","symbol":"X","price":-9223372036854775809,"qty":1}',
    b'{"op":"limit","id":"a13","side":"buy","symbol":"X","price":' + b"9" * 40 + b',"qty":1}',
    b'{"op":"limit","id":"a14","side":"buy","symbol":"X","price":' + b"9" * 41 + b',"qty":1}',
    b'{"op":"limit","id":"a15","side":"buy","symbol":"X","price":1.' + b"5" * 39 + b',"qty":1}',
    b'{"op":"limit","id":"a16","side":"buy","symbol":"X","price":100,"qty":1,"ts":1' + b"0" * 45 + b"}",
    b'{"op":"limit","id":"a17","side":"buy","symbol":"X","price":100,"qty":1,"ts":1718000000000000000}',
    b'{"op":"limit","id":"a18","side":"buy","symbol":"X","price":1e400,"qty":1}',
    b'{"op":"limit","id":"a19","side":"buy","symbol":"X","price":NaN,"qty":1}',
    b'{"op":"limit","id":"a20","side":"buy","symbol":"X","price":Infinity,"qty":1}',
    b'{"op":"limit","id":"\\ud800","side":"buy","symbol":"X","price":100,"qty":1}',
    b'{"op":"limit","id":"caf\\u00e9 \\"q\\" \\\\ \\n\\u007f },{","side":"buy","symbol":"X","price":100,"qty":1,"owner":"z"}',
    b'{"op":"limit","id":"caf\xc3\xa9","side":"sell","symbol":"X","price":100,"qty":1,"owner":"\xe2\x82\xac"}',
    b'{"op":"limit","id":"bad\xe9","side":"buy","symbol":"X","price":100,"qty":1}',
    b'{"op":"end_cycle"} \xe4',  # cut short by the newline (or by the end of the file)
    b'{"op":"end_cycle","skipped key \xff":1}',  # msgspec checks UTF-8 only where it keeps the value
    b'{"o\\u0070":"limit","id":"a21","id":"a22","side":"buy","symbol":"X","price":100,"qty":1}',
    b'{"op":"limit","id":"a23","side":"buy","symbol":"\\u0059","price":100,"qty":1}',
    b'{"op":"limit","id":"a24","side":"buy","symbol":"","price":100,"qty":1}',
    b'{"op":"limit","id":"a25","side":"buy","symbol":["X"],"price":100,"qty":1}',
    b'{"op":[1],"id":"x"}',
    b'{"op":{"a":1},"id":"x"}',
    b'{"id":"x"}',
    b'{"op":"explode","id":"x","owner":"o","symbol":"X"}',
    b'{"op":"cancel","id":"a1","owner":"zz"}',
    b'{"op":"cancel","id":"a1"}',
    b'{"op":"cancel","id":"nope"}',
    b'{"op":"modify","id":"a9","qty":1,"price":101}',
    b'{"op":"modify","order_id":"a7","qty":1}',
    b'{"op":"advance"}',
    b'{"op":"advance","ticks":3}',
    b'{"op":"advance","ticks":null}',
    b'{"op":"advance","ticks":1000000000000}',
    b'{"op":"advance","ticks":-1}',
    b'{"op":"end_cycle"}',
    b"",
    b"   ",
    b"\r",
    b"# a comment",
    b"  # an indented comment",
    b"\x0c{\"op\":\"end_cycle\"}\x0c",
    b'{"op":"end_cycle"}\r',
    b'  {"op":"end_cycle"}  ',
    b"[1,2]",
    b'"text"',
    b"5",
    b"12345678901234567890123456789012345678901234567890",
    b"{not json",
    b'{"op":"end_cycle"} trailing',
    b"[" * 600 + b"]" * 600,
    b'{"op":"limit","id":"deep","side":"buy","symbol":"X","price":1,"qty":1,"pad":' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"op":"limit","id":"deepid","side":"buy","symbol":"X","price":1,"qty":1,"owner":' + b"[" * 500 + b"]" * 500 + b"}",
    b"[" * 200_000,
    b'{"op":"limit","id":"wide","side":"buy","symbol":"X","price":100,"qty":1,"pad":"' + b"x" * 5000 + b'"}',
    b'{"op":"market","id":"m9","side":"buy","symbol":"X","qty":50,"owner":"q"}',
]


def reference(raw: bytes, strict: bool = False) -> list:
    return list(run_stream(read_lines(io.BytesIO(raw)), Exchange(), strict=strict))


def fast(raw: bytes, chunk_size: int | None = None, strict: bool = False) -> list:
    kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
    return [e for batch in replay_chunks(io.BytesIO(raw), Exchange(), strict=strict, **kwargs) for e in batch]


def test_edge_lines_give_the_reference_events():
    raw = b"\n".join(EDGE_LINES) + b"\n"
    ref = reference(raw)
    assert len(ref) > 50 and any(isinstance(e, TradeExecuted) for e in ref)
    assert fast(raw) == ref
    assert fast(raw, strict=True) == reference(raw, strict=True)
    messages = [e.message for e in ref if isinstance(e, OrderRejected)]
    assert any("a number with 41 digits is too long" in m for m in messages)
    assert any("a number with 46 digits is too long" in m for m in messages)  # in a key the replay ignores
    assert any("not valid UTF-8" in m for m in messages)
    assert any("nested too deeply" in m for m in messages)
    assert any("unknown op [1]" in m for m in messages)  # an unhashable op no longer crashes the replay


def test_each_edge_line_alone_and_after_a_bom():
    for line in EDGE_LINES:
        for raw in (line, line + b"\n", b"\xef\xbb\xbf" + line + b"\n\n"):
            assert fast(raw) == reference(raw), raw[:80]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1000])
def test_every_chunk_boundary(chunk_size):
    raw = b"\xef\xbb\xbf" + b"\n".join(EDGE_LINES[:30] + EDGE_LINES[40:58]) + b"\n" + EDGE_LINES[0].replace(b"a1", b"z")
    assert fast(raw, chunk_size) == reference(raw)


def test_long_lines_anywhere():
    long_line = b'{"op":"end_cycle","pad":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    exact = b'{"op":"end_cycle","pad":"' + b"y" * (MAX_LINE_BYTES - 27) + b'"}'
    assert len(exact) == MAX_LINE_BYTES
    ok = EDGE_LINES[0]
    for raw in (long_line, long_line + b"\n", ok + b"\n" + long_line, ok + b"\n" + long_line + b"\n" + ok,
                exact + b"\n" + exact + b"x\n" + ok, b"\n" * 3 + long_line + b"\n" + long_line):
        for chunk_size in (1000, 1 << 16, 1 << 18, 3 << 20):
            assert fast(raw, chunk_size) == reference(raw), (len(raw), chunk_size)


def test_read_chunks_gives_the_lines_of_read_lines():
    raw = b"\xef\xbb\xbfa\r\nb\n\nc" + b"d" * 100 + b"\n" + b"e" * 30 + b"\nf"
    ref = [x.rstrip(b"\n") if isinstance(x, bytes) else x for x in read_lines(io.BytesIO(raw), max_bytes=25)]
    for chunk_size in (1, 2, 5, 26, 1000):
        got = [x for batch in read_chunks(io.BytesIO(raw), chunk_size, max_bytes=25) for x in batch]
        assert got == ref, chunk_size
    assert [x for b in read_chunks(io.BytesIO(b"")) for x in b] == []
    assert [x for b in read_chunks(io.BytesIO(b"\xef\xbb")) for x in b] == [b"\xef\xbb"]


def test_read_chunks_never_holds_a_long_line_whole():
    class Counting(io.BytesIO):
        largest = 0

        def read1(self, size=-1):
            assert 0 < size <= 1 << 16
            return super().read1(size)

    lines = [x for batch in read_chunks(Counting(b"a" * (10 * MAX_LINE_BYTES) + b"\nok\n"), 1 << 16) for x in batch]
    assert lines == [ParseError(f"a line of {10 * MAX_LINE_BYTES:,} bytes is longer than the {MAX_LINE_BYTES:,} a line "
                                "may have"), b"ok"]


def random_line(rng: random.Random) -> bytes:
    """A mostly valid order line, sometimes damaged by a random edit."""
    fields = {"op": rng.choice(["limit", "limit", "market", "cancel", "modify", "stop", "end_cycle", "advance", "x"]),
              "id": f"o{rng.randrange(60)}", "side": rng.choice(["buy", "sell", "Buy", "x"]), "symbol": "X",
              "price": rng.choice([100, 101, 99, 102, 100.0, "100", None, 10**20]), "qty": rng.randint(-1, 9),
              "owner": rng.choice(["a", "b", "c", None]), "tif": rng.choice(["gtc", "day", "ioc", "fok", None]),
              "stop_price": rng.choice([98, 103, None]), "ticks": rng.choice([0, 1, 5, -1, 2.5])}
    keys = rng.sample(list(fields), rng.randint(1, len(fields)))
    line = json.dumps({k: fields[k] for k in keys}, separators=(",", ":")).encode()
    r = rng.random()
    if r < 0.05:
        i = rng.randrange(len(line) + 1)
        line = line[:i] + bytes([rng.randrange(256)]) + line[i:]
    elif r < 0.08:
        i = rng.randrange(len(line))
        line = line[:i] + line[i + 1:]
    elif r < 0.10:
        line = line.replace(b'"X"', b'"\\u00c9"')
    return line


def test_random_lines_give_the_reference_events():
    rng = random.Random(7)
    for _ in range(20):
        raw = b"\n".join(random_line(rng) for _ in range(300))
        assert fast(raw, rng.choice([64, 1000, 1 << 18])) == reference(raw)


def events_of_every_kind() -> list:
    return [
        OrderAccepted(1, 0, 0, "o1", "a", "X", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 5, 100, None),
        OrderAccepted(2, 0, 0, "o2", "a", "X", Side.SELL, OrderType.STOP, TimeInForce.DAY, 5, None, 90),
        OrderRejected(3, 0, 1, "", "", "", RejectReason.INVALID_ORDER, "line 3: not valid JSON"),
        TradeExecuted(4, 0, 1, "T4", "X", 100, 2, "o1", "o3", "a", "b", Side.SELL),
        OrderCancelled(5, 1, 0, "o1", "a", "X", 3, CancelReason.SELF_TRADE),
        OrderModified(6, 1, 0, "o2", "a", "X", 4, None, True),
        OrderModified(7, 1, 0, "o2", "a", "X", 4, 101, False),
    ]


def test_encode_events_writes_the_stdlib_bytes():
    events = events_of_every_kind()
    expected = "".join(_stdlib(event_to_dict(e)) + "\n" for e in events).encode()
    assert encode_events(events) == expected
    assert encode_events(events, trades_only=True) == (_stdlib(event_to_dict(events[3])) + "\n").encode()
    assert encode_events([]) == b"" and encode_events(events[:3], trades_only=True) == b""
    for text in ("café", 'q"uote', "back\\slash", "new\nline", "\x7f", "},{", "\ud800", "€", "\x00"):
        odd = events[:2] + [TradeExecuted(4, 0, 1, "T4", "X", 100, 2, text, "o3", "a", text, Side.SELL),
                            OrderRejected(5, 0, 1, text, "", "", RejectReason.INVALID_ORDER, f"line 5: {text}")]
        assert encode_events(odd) == "".join(_stdlib(event_to_dict(e)) + "\n" for e in odd).encode("ascii"), text


def test_replay_output_is_the_reference_output_byte_for_byte():
    raw = b"\n".join(EDGE_LINES) + b"\n"
    ref = "".join(_stdlib(event_to_dict(e)) + "\n" for e in reference(raw)).encode("ascii")
    ex = Exchange()
    assert b"".join(encode_events(batch) for batch in replay_chunks(io.BytesIO(raw), ex, chunk_size=100)) == ref


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_replay.register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer in multi-command mode, like the real app
        pass

    return app


def test_cli_events_option(tmp_path):
    path = tmp_path / "flow.jsonl"
    path.write_bytes(b"\n".join(EDGE_LINES[:12]) + b"\n")
    everything = CliRunner().invoke(_app(), ["replay", str(path)])
    trades = CliRunner().invoke(_app(), ["replay", "--events", "trades", str(path)])
    assert everything.exit_code == 0 and trades.exit_code == 0, everything.output + trades.output
    kinds = [json.loads(x)["kind"] for x in everything.stdout.splitlines()]
    assert {"order_accepted", "order_rejected", "trade_executed"} <= set(kinds)
    assert trades.stdout.splitlines() == [x for x in everything.stdout.splitlines() if '"trade_executed"' in x]
    assert trades.stdout and everything.stderr == trades.stderr  # the same counts of every kind
    from_stdin = CliRunner().invoke(_app(), ["replay", "--events", "trades", "-"], input=path.read_bytes())
    assert from_stdin.exit_code == 0 and from_stdin.stdout == trades.stdout
    bad = CliRunner().invoke(_app(), ["replay", "--events", "some", str(path)])
    assert bad.exit_code == 2 and "'some' is not one of all, trades" in bad.output


def test_many_brackets_in_a_long_line_take_the_stdlib_path():
    for depth in (FAST_LINE_BRACKETS + 1, 600, 1000):  # 1000: too deep for the stdlib parser, not for msgspec
        pad = b"[" * depth + b"]" * depth
        line = b'{"op":"limit","id":"p","side":"buy","symbol":"X","price":1,"qty":1,"pad":' + pad + b"}"
        assert fast(line) == reference(line)
    assert len(line) > 1024
    assert reference(line)[0].message == "line 1: not valid JSON (nested too deeply)"
