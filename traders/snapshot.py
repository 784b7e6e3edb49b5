"""What a trader sees when it decides: a plain, read-only, frozen snapshot that the graph fills in.

Traders never touch the exchange or the ledger. The cycle graph copies the numbers they need into a
`MarketSnapshot` (shared by every trader this cycle) and one `TraderView` per trader (its own cash,
positions and open orders on top of the shared snapshot). Both are frozen pydantic models, so they
serialise cleanly into graph state or traces, and a theory cannot change them by accident.

Units follow the project conventions: bid/ask/last, cash and order prices are integer cents; quantities
are whole shares. The mid (half-way between bid and ask) and the history of mids are floats, because a
mid can fall on a half cent and statistics want floats anyway. History is one value per cycle, newest
last, the current cycle included, trimmed to `HISTORY_LIMIT` entries.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

HISTORY_LIMIT = 256  # cycles of per-symbol history a snapshot may carry (bounded lookback)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Quote(BaseModel):
    """Top of book for one symbol. A missing side is None (empty book side)."""

    model_config = _FROZEN

    bid: int | None = None
    ask: int | None = None
    last: int | None = None

    @property
    def mid(self) -> float | None:
        """Half-way between bid and ask; falls back to the one side present, then to the last trade."""
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        for px in (self.bid, self.ask, self.last):
            if px is not None:
                return float(px)
        return None

    @property
    def spread(self) -> int | None:
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid

    @property
    def relative_spread(self) -> float | None:
        mid = self.mid
        if self.spread is None or not mid:
            return None
        return self.spread / mid


class InstrumentSpec(BaseModel):
    """The trading rules of a symbol a theory needs: tick (cents) and lot (shares)."""

    model_config = _FROZEN

    symbol: str
    tick_size: int = 1
    lot_size: int = 1
    is_etf: bool = False

    def round_to_tick(self, price: float, direction: str = "nearest") -> int:
        """A valid price near `price`: 'nearest', 'down' (floor) or 'up' (ceil), never below one tick."""
        steps = price / self.tick_size
        if direction == "down":
            n = math.floor(steps + 1e-9)
        elif direction == "up":
            n = math.ceil(steps - 1e-9)
        else:
            n = round(steps)
        return max(self.tick_size, int(n) * self.tick_size)

    def round_lot(self, qty: float) -> int:
        """Whole lots not above `qty` (never negative)."""
        if qty <= 0:
            return 0
        return int(qty // self.lot_size) * self.lot_size


class EtfBasket(BaseModel):
    """An ETF's definition: `units` ETF shares are worth the component shares; NAV per ETF share."""

    model_config = _FROZEN

    symbol: str
    components: tuple[tuple[str, int], ...]
    units: int = 1
    nav: float | None = None  # cents per ETF share from component mids; None when a mid is missing

    def nav_from(self, prices: Mapping[str, float | None]) -> float | None:
        total = 0.0
        for sym, shares in self.components:
            px = prices.get(sym)
            if px is None:
                return None
            total += shares * px
        return total / self.units


class ChatMessage(BaseModel):
    """One group-chat message. `recipients` empty means broadcast to the whole floor."""

    model_config = _FROZEN

    cycle: int
    round: int
    sender: str
    recipients: tuple[str, ...] = ()
    text: str
    sentiment: float = Field(default=0.0, ge=-1.0, le=1.0)
    topic: str = ""
    symbols: tuple[str, ...] = ()  # symbols the message talks about

    @property
    def is_broadcast(self) -> bool:
        return not self.recipients


class FillNote(BaseModel):
    """A recent trade worth talking about (e.g. a big floor fill), as the graph reports it."""

    model_config = _FROZEN

    symbol: str
    price: int
    qty: int
    buyer: str = ""
    seller: str = ""


class Headline(BaseModel):
    """A scenario event of this cycle as traders see it (market/scenarios): news, a rumour with its source,
    a halt or resume, a drought, a flash crash, a circuit breaker. Data, never instructions."""

    model_config = _FROZEN

    cycle: int
    kind: str  # news, rumour, halt, resume, breaker, drought, drought_end, flash_crash
    symbol: str | None = None  # None: the whole market
    headline: str = Field(max_length=500)
    source: str | None = None  # a rumour's source
    move_pct: float | None = None  # a news shock's size, percent of the fundamental
    tone: float | None = Field(default=None, ge=-1.0, le=1.0)  # a rumour's tone when the scenario gives one


class MarketSnapshot(BaseModel):
    """Everything market-wide a trader may look at in one cycle. Built once per cycle by the graph."""

    model_config = _FROZEN

    cycle: int
    instruments: dict[str, InstrumentSpec]
    quotes: dict[str, Quote]
    history: dict[str, tuple[float, ...]] = Field(default_factory=dict)  # mids per cycle, newest last
    etfs: tuple[EtfBasket, ...] = ()
    chat_sentiment: float = Field(default=0.0, ge=-1.0, le=1.0)  # mean over this cycle's messages
    chat_sentiment_by_symbol: dict[str, float] = Field(default_factory=dict)
    chat_messages: tuple[ChatMessage, ...] = ()
    recent_fills: tuple[FillNote, ...] = ()
    headlines: tuple[Headline, ...] = ()  # this cycle's scenario events (none without a scenario)
    halted: tuple[str, ...] = ()  # symbols whose trading is halted now: orders in them are refused

    @field_validator("history")
    @classmethod
    def _bounded(cls, value: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
        return {sym: tuple(series[-HISTORY_LIMIT:]) for sym, series in value.items()}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.instruments)

    def mid(self, symbol: str) -> float | None:
        q = self.quotes.get(symbol)
        return q.mid if q is not None else None

    def mids(self) -> dict[str, float | None]:
        return {sym: q.mid for sym, q in self.quotes.items()}

    def series(self, symbol: str, n: int | None = None) -> tuple[float, ...]:
        """The last `n` (all when None) per-cycle mids of `symbol`, newest last."""
        s = self.history.get(symbol, ())
        return s if n is None else s[-n:]

    def etf(self, symbol: str) -> EtfBasket | None:
        return next((e for e in self.etfs if e.symbol == symbol), None)


class Position(BaseModel):
    model_config = _FROZEN

    qty: int
    avg_cost: float  # cents per share


class OpenOrder(BaseModel):
    """A resting order of this trader; `qty` is what is left to fill."""

    model_config = _FROZEN

    order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    price: int | None = None
    order_type: str = "limit"


class TraderView(BaseModel):
    """The shared snapshot plus this trader's own account, as read from the ledger by the graph.

    `available_cash` is cash minus what open buy orders already reserve; the risk check spends from it.
    """

    model_config = _FROZEN

    trader: str
    market: MarketSnapshot
    cash: int
    available_cash: int
    initial_cash: int | None = None
    positions: dict[str, Position] = Field(default_factory=dict)
    open_orders: tuple[OpenOrder, ...] = ()

    @property
    def cycle(self) -> int:
        return self.market.cycle

    def qty(self, symbol: str) -> int:
        p = self.positions.get(symbol)
        return p.qty if p is not None else 0

    def open_qty(self, symbol: str, side: str) -> int:
        if not self.open_orders:  # the usual case at the start of a cycle: no generator for nothing
            return 0
        return sum([o.qty for o in self.open_orders if o.symbol == symbol and o.side == side])

    def market_value(self) -> float:
        """Positions marked at mid (at average cost when no mid exists), in cents."""
        total = 0.0
        for sym, p in self.positions.items():
            mid = self.market.mid(sym)
            total += p.qty * (mid if mid is not None else p.avg_cost)
        return total

    def equity(self) -> float:
        return self.cash + self.market_value()

    def pnl_pct(self) -> float | None:
        if not self.initial_cash:
            return None
        return self.equity() / self.initial_cash - 1.0


def etf_baskets(instruments: Iterable[object], quotes: Mapping[str, Quote]) -> tuple[EtfBasket, ...]:
    """EtfBasket records (with NAV from `quotes`) for the ETFs among `instruments`.

    Accepts `market.instruments.Instrument` objects (anything with kind/basket/units) without importing
    the market package's engine.
    """
    return with_navs(etf_listing(instruments), quotes)


def etf_listing(instruments: Iterable[object]) -> tuple[EtfBasket, ...]:
    """The EtfBasket records of the ETFs among `instruments`, without NAV (fixed for the instruments)."""
    return tuple(EtfBasket(symbol=inst.symbol, components=tuple(inst.basket), units=getattr(inst, "units", 1))
                 for inst in instruments if getattr(inst, "basket", ()))


def with_navs(baskets: tuple[EtfBasket, ...], quotes: Mapping[str, Quote]) -> tuple[EtfBasket, ...]:
    """The baskets with their NAV from the mids in `quotes`."""
    if not baskets:
        return ()
    mids = {sym: q.mid for sym, q in quotes.items()}
    return tuple(etf.model_copy(update={"nav": etf.nav_from(mids)}) for etf in baskets)


def instrument_specs(instruments: Iterable[object]) -> dict[str, InstrumentSpec]:
    """InstrumentSpec per symbol from `market.instruments.Instrument`-like objects."""
    return {
        inst.symbol: InstrumentSpec(
            symbol=inst.symbol,
            tick_size=getattr(inst, "tick_size", 1),
            lot_size=getattr(inst, "lot_size", 1),
            is_etf=bool(getattr(inst, "basket", ())),
        )
        for inst in instruments
    }


def synthetic_snapshot(
    history: Mapping[str, Iterable[float]],
    *,
    spread: int = 2,
    instruments: Iterable[object] | None = None,
    cycle: int | None = None,
    **fields: object,
) -> MarketSnapshot:
    """A snapshot from mid paths alone (tests, demos, backtests): quotes `spread` cents wide around each
    path's last value, ETF NAVs from them; `instruments` defaults to the market's DEFAULT_UNIVERSE.
    Extra keyword arguments set other MarketSnapshot fields (chat_sentiment, recent_fills, ...)."""
    if instruments is None:
        from market.instruments import DEFAULT_UNIVERSE

        instruments = DEFAULT_UNIVERSE
    insts = [i for i in instruments if i.symbol in history]
    hist = {sym: tuple(float(x) for x in history[sym]) for sym in history}
    quotes = {}
    for sym, series in hist.items():
        last = round(series[-1])
        bid = last - spread // 2
        quotes[sym] = Quote(bid=bid, ask=bid + spread, last=last)
    return MarketSnapshot(
        cycle=cycle if cycle is not None else max((len(s) for s in hist.values()), default=1) - 1,
        instruments=instrument_specs(insts),
        quotes=quotes,
        history=hist,
        etfs=etf_baskets(insts, quotes),
        **fields,
    )
