"""Background-only warm-up: the market's history before the floor's first cycle.

The theories read per-cycle closes (the trend follower's 20-cycle average, risk parity's 30 returns); on a
fresh market they would sit idle until that history exists. `warm_up` lets only the background market
trade for `cycles` cycles numbered `1 - cycles` .. `0`, closing a bar per symbol each cycle, so that cycle
1 starts with a history. It is deterministic: the background market's own seeded streams drive it.
"""
from __future__ import annotations

from market.events import TradeExecuted
from market.exchange import Exchange


def warm_up(exchange: Exchange, cycles: int, ticks_per_cycle: int) -> list[TradeExecuted]:
    """Run `cycles` background-only cycles ending at cycle 0; return their trades in order.

    The exchange must stand at the start of cycle 1 with nothing traded yet; afterwards it stands at the
    start of cycle 1 again, with the warm-up's bars, tape and resting background orders."""
    if cycles < 0:
        raise ValueError(f"warm-up needs a non-negative number of cycles, got {cycles}")
    if exchange.cycle != 1 or exchange.tick != 0:
        raise ValueError(f"warm-up must start at cycle 1, tick 0 (the exchange is at cycle {exchange.cycle}, "
                         f"tick {exchange.tick})")
    trades: list[TradeExecuted] = []
    exchange.cycle = 1 - cycles
    for _ in range(cycles):
        events = exchange.advance(ticks_per_cycle)
        events += exchange.end_cycle()
        trades += [e for e in events if type(e) is TradeExecuted]
    return trades
