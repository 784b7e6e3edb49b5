"""ScenarioDriver: applies a scenario's events to an exchange, tick by tick, from inside the background market.

The driver rides inside the exchange (as `BackgroundMarket.scenario`), so it is part of every exchange
snapshot and its effects are replayed by the market journals exactly like the background market's own
moves: a rollback and re-run of a scenario reproduces it, event for event. Everything it does is a
function of the exchange's state and the run's seed: no wall clock, no randomness of its own (a drought
that brings makers back draws their estimate errors from a stream derived from the seed and the tick).

Order of play in a tick (see `BackgroundMarket.on_tick`): `before_tick` (the first tick of a cycle ends
halts and droughts that are over and fires the events timed for this cycle; any tick fires the
conditional events whose condition held at the end of the previous tick and sends this tick's share of a
flash crash), then the background agents act, then `after_tick` (checks the conditions and the circuit
breaker). What happened is kept in `fired` (bounded by the scenario's size) for the floor to show.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from market.orders import OrderType, Side, SubmitOrder, TimeInForce
from market.scenarios.spec import Drought, FeeChange, FlashCrash, Halt, NewsShock, Rumour, Scenario

FLASH_OWNER = "scenario:flash"  # the flash-crash seller (the floor settles it to the `bg:scenario` account)
_RESTORE_STREAM = 0x5343454E  # names the stream makers coming back after a drought draw their errors from


class EventFired(NamedTuple):
    """One scenario event as it happened: when, what, and the headline people and traders see."""

    cycle: int
    tick: int
    kind: str  # news, drought, drought_end, flash_crash, halt, resume, breaker, rumour, fee_change
    symbol: str | None
    headline: str
    source: str | None = None  # a rumour's source
    move_pct: float | None = None  # a news shock's size (percent of the fundamental)
    tone: float | None = None  # a rumour's tone in [-1, 1] when the file gives one
    fee_bps: int | None = None  # a fee change's new fee (basis points per side)

    def as_dict(self) -> dict:
        d = self._asdict()
        if d["fee_bps"] is None:  # only a fee change has it (the other events' records stay as they were)
            del d["fee_bps"]
        return d


class ScenarioDriver:
    def __init__(self, scenario: Scenario, *, start_cycle: int) -> None:
        self.scenario = scenario
        self.start_cycle = start_cycle  # the scenario's events are after this cycle
        self.pending = list(range(len(scenario.events)))  # indices not fired yet, in file order
        self.armed: list[int] = []  # conditional events whose condition held: fired at the next tick
        self.open_prices: dict[str, int] | None = None  # each symbol's price when the scenario started
        self.index_open: float | None = None
        self.breaker_level = 0  # index of the next breaker level that can trip
        self.halt_until: dict[str, int] = {}  # symbol -> the cycle its trading resumes in
        self.drought: tuple[int, object] | None = None  # (cycle it ends in, the makers' normal config)
        self.selling: list[list] = []  # flash crashes in progress: [symbol, slices still to send]
        self.next_id = 0
        self.fired: list[EventFired] = []

    # -- reading ------------------------------------------------------------------------------------
    def fired_in(self, cycle: int) -> list[EventFired]:
        return [e for e in self.fired if e.cycle == cycle]

    def halted(self) -> dict[str, int]:
        return dict(self.halt_until)

    def fee_change_due(self, cycle: int) -> int | None:
        """The fee (bps) a fee change not fired yet sets at `cycle`, else None. The floor asks before the
        cycle's first tick, so the ledger charges it to every fill of the cycle."""
        due = [self.scenario.events[i] for i in self.pending
               if isinstance(self.scenario.events[i], FeeChange) and self.scenario.events[i].at <= cycle]
        return due[-1].fee_bps if due else None

    # -- the tick -------------------------------------------------------------------------------------
    def before_tick(self, bg, ex) -> list:
        events: list = []
        if self.open_prices is None:
            self._mark_open(bg, ex)
        cycle, tick = ex.cycle, ex.tick
        if tick == 1:
            over = [s for s, until in self.halt_until.items() if until <= cycle]
            for sym in over:
                del self.halt_until[sym]
                ex.resume(sym)
            if over:
                self._note(cycle, tick, "resume", over[0] if len(over) == 1 else None,
                           f"Trading in {', '.join(over)} resumes (continuous trading, resting orders kept)")
            if self.drought is not None and self.drought[0] <= cycle:
                events += self._end_drought(bg, ex)
            due = [i for i in self.pending if self.scenario.events[i].when is None and self.scenario.events[i].at <= cycle]
            for i in due:
                self.pending.remove(i)
                events += self._fire(i, bg, ex)
        if self.armed:
            armed, self.armed = self.armed, []
            for i in armed:
                events += self._fire(i, bg, ex)
        if self.selling:
            events += self._sell(ex)
        return events

    def after_tick(self, bg, ex) -> list:
        cycle = ex.cycle
        for i in list(self.pending):
            e = self.scenario.events[i]
            if e.when is not None and (e.at is None or e.at <= cycle) and self._holds(e.when, ex):
                self.pending.remove(i)
                self.armed.append(i)
        br = self.scenario.breaker
        if br is not None and self.breaker_level < len(br.levels_pct):
            dd = self.drawdown_pct(bg, ex)
            level = br.levels_pct[self.breaker_level]
            if dd >= level:
                while self.breaker_level < len(br.levels_pct) and dd >= br.levels_pct[self.breaker_level]:
                    self.breaker_level += 1  # a gap through several levels trips them as one
                until = cycle + br.halt_cycles
                for sym in ex.instruments:
                    self._halt(ex, sym, until, f"market-wide circuit breaker at -{level:g}%")
                self._note(cycle, ex.tick, "breaker", None,
                           f"Circuit breaker: the market fell {dd:.1f}% (level {level:g}%); every symbol halted "
                           f"until cycle {until}")
        return []

    # -- measures -----------------------------------------------------------------------------------------
    def _price(self, ex, sym: str) -> float | None:
        last = ex.last_price(sym)
        return float(last) if last is not None else ex.mid(sym)

    def _mark_open(self, bg, ex) -> None:
        self.open_prices = {}
        for sym, inst in ex.instruments.items():
            p = self._price(ex, sym)
            self.open_prices[sym] = int(p) if p is not None else inst.initial_price
        self.index_open = self._index(bg, ex)

    def _index(self, bg, ex) -> float:
        """Equally weighted index of the stocks: the mean of price / price at the scenario's open."""
        stocks = [s for s in bg.fundamentals.symbols if s in ex.instruments]
        ratios = []
        for sym in stocks:
            p = self._price(ex, sym)
            ratios.append((p if p is not None else self.open_prices[sym]) / self.open_prices[sym])
        return sum(ratios) / len(ratios) if ratios else 1.0

    def drawdown_pct(self, bg, ex) -> float:
        """How far (percent) the index stands below its level at the scenario's open (negative: above)."""
        if self.open_prices is None:
            return 0.0
        return (1.0 - self._index(bg, ex) / self.index_open) * 100.0

    def _holds(self, cond, ex) -> bool:
        p, ref = self._price(ex, cond.symbol), self.open_prices.get(cond.symbol)
        if p is None or not ref:
            return False
        move = (p / ref - 1.0) * 100.0
        return move <= -cond.falls_pct if cond.falls_pct is not None else move >= cond.rises_pct

    # -- effects -------------------------------------------------------------------------------------------
    def _note(self, cycle: int, tick: int, kind: str, symbol, headline: str, source=None, move_pct=None,
              tone=None, fee_bps=None) -> None:
        self.fired.append(EventFired(cycle, tick, kind, symbol, headline, source, move_pct, tone, fee_bps))

    def _fire(self, i: int, bg, ex) -> list:
        e = self.scenario.events[i]
        cycle, tick = ex.cycle, ex.tick
        headline = e.headline or e.default_headline()
        events: list = []
        if isinstance(e, NewsShock):
            fund = bg.fundamentals
            jump = math.log1p(e.move_pct / 100.0)
            delta = np.array([jump if e.symbol in (None, s) else 0.0 for s in fund.symbols])
            fund._log = fund._log + delta
        elif isinstance(e, Drought):
            events += self._start_drought(e, bg, ex)
        elif isinstance(e, FlashCrash):
            lot = ex.instruments[e.symbol].lot_size
            per, extra = divmod(e.qty // lot, e.ticks)
            slices = [(per + (k < extra)) * lot for k in range(e.ticks)]
            self.selling.append([e.symbol, [q for q in slices if q > 0]])
        elif isinstance(e, Halt):
            self._halt(ex, e.symbol, cycle + e.cycles, e.reason)
        elif isinstance(e, Rumour | FeeChange):
            pass  # a message for the group chat, or the ledger's fee (the floor applies it): not the books
        self._note(cycle, tick, e.kind, getattr(e, "symbol", None), headline, getattr(e, "source", None),
                   getattr(e, "move_pct", None), getattr(e, "tone", None), getattr(e, "fee_bps", None))
        return events

    def _halt(self, ex, sym: str, until: int, reason: str) -> None:
        self.halt_until[sym] = max(until, self.halt_until.get(sym, until))
        ex.halt(sym, reason)

    def _start_drought(self, e: Drought, bg, ex) -> list:
        makers = bg.market_makers
        normal = makers.config if self.drought is None else self.drought[1]
        dry = normal.model_copy(update={
            "half_spread_bps": normal.half_spread_bps * e.widen,
            "level_spacing_bps": normal.level_spacing_bps * e.widen,
            "min_half_spread_ticks": max(1, round(normal.min_half_spread_ticks * e.widen)),
            "min_level_spacing_ticks": max(1, round(normal.min_level_spacing_ticks * e.widen)),
            "count": max(0, normal.count - e.withdraw),
        })
        self.drought = (ex.cycle + e.cycles, normal)
        return makers.reconfigure(dry, self._stream(bg), ex)

    def _end_drought(self, bg, ex) -> list:
        _, normal = self.drought
        self.drought = None
        self._note(ex.cycle, ex.tick, "drought_end", None, "The liquidity drought is over: market makers quote normally again")
        return bg.market_makers.reconfigure(normal, self._stream(bg), ex)

    def _stream(self, bg) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([bg.config.seed, bg.ticks, _RESTORE_STREAM])))

    def _sell(self, ex) -> list:
        events: list = []
        still = []
        for sym, slices in self.selling:
            qty = slices.pop(0)
            oid = f"scn-{self.next_id}"
            self.next_id += 1
            events += ex.submit(SubmitOrder(oid, FLASH_OWNER, sym, Side.SELL, qty, OrderType.MARKET, None, None,
                                            TimeInForce.IOC))
            if slices:
                still.append([sym, slices])
        self.selling = still
        return events
