"""Background-market throughput: orders per second for ~1,000 noise, 100 value and 2 market-maker agents.

Measured end to end: agent logic plus the exchange's validation and matching, over six instruments and
several hundred cycles. The baseline, measured in the same run, is the raw cost of pushing the very same
command stream (recorded from an identical, seeded run) straight into a fresh exchange with no agent
logic; the ratio shows what the agents themselves cost. The replay must reproduce the same number of
trades, which doubles as a determinism check. Target: >= 40,000 orders/s (ABIDES manages ~3.7k/s).

Run: `.venv/bin/python -m bench background`.
"""
from __future__ import annotations

import json
import os
import pickle
import statistics
import subprocess
import sys
import time
from pathlib import Path

from market.background import BackgroundConfig, BackgroundMarket
from market.events import TradeExecuted
from market.orders import CancelOrder, ModifyOrder, SubmitOrder

TARGET_ORDERS_PER_S = 40_000
CYCLES = 400
SEED = 7
TWIN_ROUNDS = 3
ROOT = Path(__file__).resolve().parents[1]
# a child process: CPU seconds of CYCLES cycles of the default background market, and which code ran
_BARE = """
import json, sys, time
from floor.config import load_config
from market import compiled_twin
from market.background import BackgroundMarket
from market.exchange import Exchange
cfg = load_config()
ex = Exchange(background=BackgroundMarket(cfg.market, seed=cfg.seed))
start = time.process_time()
for _ in range(int(sys.argv[1])):
    ex.advance(cfg.market.ticks_per_cycle)
    ex.end_cycle()
print(json.dumps({"cpu": time.process_time() - start, "trades": ex.clock.seq,
                  "compiled": sorted(set(compiled_twin.status().values())) == ["compiled"]}))
"""


def _twins_against_plain() -> None:
    """The compiled twins (market/compiled_twin.py) against the plain modules, fresh processes taking turns."""
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(TWIN_ROUNDS):
        for pure in (True, False):
            env = {**os.environ, "TRADING_FLOOR_PURE_TWINS": "1" if pure else "", "OPENBLAS_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, "-c", _BARE, str(CYCLES)], cwd=ROOT, env=env, check=True,
                                 capture_output=True, text=True)
            runs[pure].append(json.loads(out.stdout.strip().splitlines()[-1]))
    if not runs[False][0]["compiled"]:
        print("compiled twins: not built here (no Cython or C compiler at install), plain Python runs")
        return
    plain, twins = (statistics.median(r["cpu"] for r in runs[k]) for k in (True, False))
    same = len({r["trades"] for v in runs.values() for r in v}) == 1
    print(f"compiled twins against the plain modules, default market, {CYCLES} cycles, {TWIN_ROUNDS} alternating "
          f"runs each: CPU {twins:.2f}s vs {plain:.2f}s -> {twins / plain:.2f}x; the same sequence numbers: "
          f"{'yes' if same else 'NO'}")


class _Recorder:
    """Forwards everything to the exchange and logs the commands the agents send, tick by tick."""

    def __init__(self, exchange, log: list) -> None:
        self._ex = exchange
        self._log = log

    def submit(self, cmd: SubmitOrder):
        self._log.append(cmd)
        return self._ex.submit(cmd)

    def cancel(self, cmd: CancelOrder):
        self._log.append(cmd)
        return self._ex.cancel(cmd)

    def modify(self, cmd: ModifyOrder):
        self._log.append(cmd)
        return self._ex.modify(cmd)

    def __getattr__(self, name):
        return getattr(self._ex, name)


class _RecordingBackground:
    def __init__(self, inner: BackgroundMarket) -> None:
        self.inner = inner
        self.ticks: list[list] = []

    def on_tick(self, exchange):
        log: list = []
        self.ticks.append(log)
        return self.inner.on_tick(_Recorder(exchange, log))


def _config() -> BackgroundConfig:
    cfg = BackgroundConfig(seed=SEED)
    assert (cfg.noise.count, cfg.value.count, cfg.market_makers.count) == (1000, 100, 2)
    return cfg


def _timed_run(cycles: int) -> tuple[float, BackgroundMarket, int, object, list[float], float]:
    from market.exchange import Exchange

    background = BackgroundMarket(_config())
    exchange = Exchange(background=background)
    trades = 0
    marks = []
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(cycles):
        trades += sum(1 for e in exchange.advance(background.ticks_per_cycle) if type(e) is TradeExecuted)
        exchange.end_cycle()
        marks.append(time.perf_counter())
    return marks[-1] - start, background, trades, exchange, marks, time.process_time() - cpu


def _replay(cycles: int) -> tuple[float, int, int]:
    """Record the identical command stream, then time it pushed straight into a bare exchange."""
    from market.exchange import Exchange

    recording = _RecordingBackground(BackgroundMarket(_config()))
    exchange = Exchange(background=recording)
    ticks_per_cycle = recording.inner.ticks_per_cycle
    for _ in range(cycles):
        exchange.advance(ticks_per_cycle)
        exchange.end_cycle()
    bare = Exchange()
    methods = {SubmitOrder: bare.submit, CancelOrder: bare.cancel, ModifyOrder: bare.modify}
    stream = recording.ticks
    trades = 0
    start = time.perf_counter()
    t = 0
    for _ in range(cycles):
        for _ in range(ticks_per_cycle):
            bare.advance(1)
            for cmd in stream[t]:
                trades += sum(1 for e in methods[type(cmd)](cmd) if type(e) is TradeExecuted)
            t += 1
        bare.end_cycle()
    elapsed = time.perf_counter() - start
    return elapsed, trades, sum(1 for tick in stream for c in tick if type(c) is SubmitOrder)


def main() -> bool:
    _timed_run(20)  # warm-up (imports, allocator)
    elapsed, background, trades, exchange, marks, cpu = _timed_run(CYCLES)
    stats = background.stats()
    orders_per_s = stats["orders"] / elapsed
    raw_elapsed, raw_trades, raw_orders = _replay(CYCLES)
    raw_rate = raw_orders / raw_elapsed
    bg_bytes = len(pickle.dumps(background, protocol=pickle.HIGHEST_PROTOCOL))
    snap_bytes = len(exchange.snapshot())
    cfg = background.config
    print(
        f"population: {cfg.noise.count} noise, {cfg.value.count} value, {cfg.market_makers.count} market makers; "
        f"{len(background.instruments)} instruments; {CYCLES} cycles x {cfg.ticks_per_cycle} ticks"
    )
    print(
        f"background market : {stats['orders']:>9,} orders ({stats['messages']:,} messages incl. cancels), "
        f"{trades:,} trades in {elapsed:.2f}s -> {orders_per_s:>9,.0f} orders/s "
        f"({stats['messages'] / elapsed:,.0f} messages/s)"
    )
    print(
        f"baseline (same stream straight into the exchange, no agent logic): {raw_orders:,} orders, "
        f"{raw_trades:,} trades in {raw_elapsed:.2f}s -> {raw_rate:>9,.0f} orders/s"
    )
    print(f"agent overhead: background run takes {elapsed / raw_elapsed:.2f}x the raw exchange time")
    print(f"per cycle: {stats['orders'] / CYCLES:.0f} orders, {trades / CYCLES:.0f} trades, {1000 * elapsed / CYCLES:.2f} ms "
          f"({1000 * cpu / CYCLES:.2f} ms CPU time, which other load on the machine inflates less)")
    early = (marks[99] - marks[0]) / 99
    late = (marks[-1] - marks[-100]) / 99
    print(f"cost per cycle: cycles 1-100 {1000 * early:.2f} ms, last 100 {1000 * late:.2f} ms ({late / early:.2f}x)")
    print(f"pickled BackgroundMarket: {bg_bytes:,} bytes; Exchange.snapshot(): {snap_bytes:,} bytes")
    print(f"target: >= {TARGET_ORDERS_PER_S:,} orders/s -> {'met' if orders_per_s >= TARGET_ORDERS_PER_S else 'NOT met'}")
    _twins_against_plain()
    if raw_trades != trades or raw_orders != stats["orders"]:
        print("replay mismatch: the recorded stream did not reproduce the run")
        return False
    return orders_per_s >= TARGET_ORDERS_PER_S


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
