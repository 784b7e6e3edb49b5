"""Nothing silently ignored, nothing that hangs: limits on replay input, config sizes and seeds, each
refused with a sentence that names the value and the limit."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from floor_helpers import fast_config
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.app import app
from cli.errors import SEED_MAX, config_sentence
from floor.config import load_config
from market.background.config import MAX_NOISE_TRADERS, BackgroundConfig
from market.events import OrderRejected
from market.exchange import Exchange
from market.replay import (
    MAX_ADVANCE_TICKS,
    MAX_LINE_BYTES,
    MAX_NUMBER_DIGITS,
    Advance,
    ParseError,
    parse_line,
    read_lines,
    run_stream,
)

TRADING_FLOOR = str(Path(sys.executable).with_name("trading-floor"))
ENV = os.environ | {"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
HUGE = "1" + "0" * 4999  # 5,000 digits: past Python's int-conversion limit (4,300), and slow below it


# ---- replay input -------------------------------------------------------------------------------------------

def test_numbers_with_thousands_of_digits_are_refused_quickly():
    start = time.perf_counter()
    for digits in (41, 4000, 5000, 100_000):
        for number in ("9" * digits, "-" + "9" * digits, "1." + "5" * digits):
            out = parse_line(f'{{"op":"limit","id":"a","side":"buy","symbol":"X","price":{number},"qty":1}}')
            digits = sum(c.isdigit() for c in number)
            assert out == ParseError(f"a number with {digits:,} digits is too long (at most {MAX_NUMBER_DIGITS} "
                                     "digits)"), number[:20]
    assert time.perf_counter() - start < 5
    ok = parse_line('{"op":"limit","id":"a","side":"buy","symbol":"X","price":%s,"qty":1}' % ("9" * 40))
    assert ok.price == int("9" * 40)  # 40 digits still reach the exchange, which rejects them itself


def test_advance_is_capped_per_line():
    assert parse_line(f'{{"op":"advance","ticks":{MAX_ADVANCE_TICKS}}}') == Advance(MAX_ADVANCE_TICKS)
    assert parse_line('{"op":"advance","ticks":1000000000000}') == ParseError(
        "advance of 1,000,000,000,000 ticks is more than the 1,000,000 one line may move "
        "(split it into several advance lines)")
    ex = Exchange()
    start = time.perf_counter()
    events = list(run_stream(['{"op":"advance","ticks":1000000000000}', '{"op":"advance","ticks":5}'], ex))
    assert time.perf_counter() - start < 5 and ex.tick == 5
    assert [e.message for e in events] == ["line 1: advance of 1,000,000,000,000 ticks is more than the 1,000,000 "
                                           "one line may move (split it into several advance lines)"]


def test_invalid_utf8_long_lines_and_deep_nesting_are_rejected_by_line_number():
    long_line = b'{"op":"end_cycle","pad":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    raw = b"".join([
        b'\xef\xbb\xbf{"op":"limit","id":"o1","side":"buy","symbol":"X","price":100,"qty":1}\n',  # a BOM: fine
        b'{"op":"limit","id":"caf\xe9","side":"buy","symbol":"X","price":100,"qty":1}\n',  # Latin-1, not UTF-8
        long_line + b"\n",
        b"[" * 200_000 + b"\n",
        '{"op":"limit","id":"o2","side":"buy","symbol":"X","price":101,"qty":1,"note":"caf\u00e9"}'.encode(),
    ])
    ex = Exchange()
    events = list(run_stream(read_lines(io.BytesIO(raw)), ex))
    rejected = [e.message for e in events if isinstance(e, OrderRejected)]
    assert rejected == [
        "line 2: not valid UTF-8 (byte 0xe9 at byte 24 of the line: invalid continuation byte)",
        f"line 3: a line of {len(long_line):,} bytes is longer than the 1,048,576 a line may have",
        "line 4: not valid JSON (nested too deeply)",
    ]
    assert ex.order("o1") is not None and ex.order("o2") is not None and ex.cycle == 0


def test_read_lines_never_holds_a_long_line_whole():
    class Counting(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            assert size is not None and 0 < size <= MAX_LINE_BYTES + 1
            line = super().readline(size)
            Counting.largest = max(Counting.largest, len(line))
            return line

    lines = list(read_lines(Counting(b"a" * (10 * MAX_LINE_BYTES) + b"\nok\n")))
    assert isinstance(lines[0], ParseError) and lines[1] == b"ok\n" and len(lines) == 2
    assert Counting.largest <= MAX_LINE_BYTES + 1


def test_the_replay_command_reports_each_bad_line_and_goes_on(tmp_path):
    flow = tmp_path / "flow.jsonl"
    flow.write_bytes(b"\n".join([
        b'{"op":"limit","id":"a","side":"buy","symbol":"X","price":' + HUGE.encode() + b',"qty":1}',
        b'{"op":"limit","id":"b","side":"buy","symbol":"X","price":100,"qty":1,"owner":"\xff"}',
        b'{"op":"advance","ticks":1000000000000}',
        b'{"op":"limit","id":"c","side":"sell","symbol":"X","price":100,"qty":1}',
    ]) + b"\n")
    res = subprocess.run([TRADING_FLOOR, "replay", str(flow)], capture_output=True, text=True, timeout=120, env=ENV)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert [e["message"] for e in events if e["kind"] == "order_rejected"] == [
        "line 1: a number with 5,000 digits is too long (at most 40 digits)",
        "line 2: not valid UTF-8 (byte 0xff at byte 79 of the line: invalid start byte)",
        "line 3: advance of 1,000,000,000,000 ticks is more than the 1,000,000 one line may move "
        "(split it into several advance lines)",
    ]
    assert [e["kind"] for e in events][-1] == "order_accepted" and "events: order_accepted 1, order_rejected 3" in \
        res.stderr


def test_an_unreadable_replay_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.jsonl"
    res = subprocess.run([TRADING_FLOOR, "replay", str(missing)], capture_output=True, text=True, timeout=120, env=ENV)
    assert res.returncode == 2 and res.stderr.splitlines() == [f"error: cannot read {missing}: No such file or directory"]


# ---- config sizes -------------------------------------------------------------------------------------------

CAPS = {
    "FLOOR_MARKET__NOISE__COUNT": ("100000000", "market.noise.count", "less than or equal to 1000000"),
    "FLOOR_MARKET__VALUE__COUNT": ("100000000", "market.value.count", "less than or equal to 100000"),
    "FLOOR_MARKET__MARKET_MAKERS__COUNT": ("1000000", "market.market_makers.count", "less than or equal to 1000"),
    "FLOOR_MARKET__MARKET_MAKERS__LEVELS": ("100000", "market.market_makers.levels", "less than or equal to 50"),
    "FLOOR_MARKET__NOISE__RATE_PER_TICK": ("50", "market.noise.rate_per_tick", "less than or equal to 1"),
    "FLOOR_MARKET__TICKS_PER_CYCLE": ("1000000000", "market.ticks_per_cycle", "less than or equal to 10000"),
    "FLOOR_CHAT__ROUNDS": ("1000", "chat.rounds", "less than or equal to 10"),
    "FLOOR_CHAT__MAX_MESSAGE_CHARS": ("100000000", "chat.max_message_chars", "less than or equal to 10000"),
    "FLOOR_HISTORY_LOOKBACK": ("100000", "history_lookback", "less than or equal to 256"),
    "FLOOR_TOPIC__MOVER_LOOKBACK": ("100000", "topic.mover_lookback", "less than or equal to 256"),
    "FLOOR_SEED": (str(2**63), "seed", f"less than or equal to {SEED_MAX}"),
}


@pytest.mark.parametrize("var", sorted(CAPS))
def test_sizes_beyond_their_cap_are_refused_with_the_cap(var, monkeypatch):
    value, loc, cap = CAPS[var]
    monkeypatch.setenv(var, value)
    start = time.perf_counter()
    with pytest.raises(ValidationError) as info:
        load_config()
    assert time.perf_counter() - start < 5
    assert config_sentence(info.value) == f"{loc} ({var}={value}): Input should be {cap}"


def test_the_expected_background_orders_per_cycle_are_capped():
    with pytest.raises(ValidationError) as info:
        BackgroundConfig(noise={"count": MAX_NOISE_TRADERS, "rate_per_tick": 0.1})
    assert config_sentence(info.value) == (
        "the background market would send about 2,000,020 orders per cycle ((noise.count x noise.rate_per_tick + "
        "value.count x value.rate_per_tick) x ticks_per_cycle); at most 1,000,000 are allowed: lower a count, a "
        "rate or ticks_per_cycle")


def test_a_floor_without_traders_is_refused(monkeypatch):
    monkeypatch.setenv("FLOOR_TRADERS", "[]")
    with pytest.raises(ValidationError) as info:
        load_config()
    assert config_sentence(info.value) == ("the floor has no traders: list at least one under `traders:` in the "
                                           "config (or in FLOOR_TRADERS)")
    monkeypatch.delenv("FLOOR_TRADERS")
    many = [{"name": f"t{i}", "theory": "momentum"} for i in range(1001)]
    with pytest.raises(ValidationError, match="at most 1000 items"):
        load_config(traders=many)


def test_the_defaults_and_the_test_configs_stay_within_the_caps():
    assert load_config().market == BackgroundConfig()
    fast_config()
    BackgroundConfig(noise={"count": 300, "rate_per_tick": 0.05}, market_makers={"quote_interval_ticks": 1})


def test_a_config_past_a_cap_is_refused_before_anything_runs(tmp_path):
    db = tmp_path / "floor.db"
    res = subprocess.run([TRADING_FLOOR, "run", "--cycles", "1", "--db", str(db)], capture_output=True, text=True,
                         timeout=120, env=ENV | {"FLOOR_MARKET__NOISE__COUNT": "100000000"})
    out = res.stdout + res.stderr
    assert res.returncode == 2 and "Traceback" not in out, out
    assert "market.noise.count" in out and "less than or equal to 1000000" in out


# ---- seeds --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("demo", "--seed", str(2**63)),
    ("demo", "--seed", "-1"),
    ("backtest", "--prices", "x.csv", "--seed", str(2**63)),
    ("realism", "--first-seed", str(2**63)),
    ("realism", "--first-seed", str(SEED_MAX), "--runs", "2"),
    ("sweep", "--seeds", f"1,{2**63}"),
    ("sweep", "--seeds", "1,-2"),
])
def test_seeds_outside_0_to_2_63_minus_1_are_usage_errors(args):
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--seed" in res.output or "Invalid value for '--first-seed'" in res.output, res.output
