"""Read-only views for the traders, copied out of the exchange and the ledger.

Traders never touch the exchange or the ledger: the graph fills a `MarketSnapshot` shared by all traders
this cycle, and one `TraderView` per trader with its own cash, positions and open orders.
"""
from __future__ import annotations

import functools
from operator import attrgetter

from ledger.store import Ledger
from market.events import TradeExecuted
from market.exchange import Exchange
from market.instruments import Instrument
from traders.snapshot import (
    EtfBasket,
    FillNote,
    Headline,
    InstrumentSpec,
    MarketSnapshot,
    OpenOrder,
    Position,
    Quote,
    TraderView,
    etf_baskets,
    etf_listing,
    instrument_specs,
    with_navs,
)

_close = attrgetter("close")
_seq = attrgetter("seq")
_qty = attrgetter("qty")


@functools.lru_cache(maxsize=16)
def _listing(instruments: tuple[Instrument, ...]) -> tuple[dict[str, InstrumentSpec], tuple[EtfBasket, ...]]:
    """The specs of a floor's instruments and its ETF baskets without NAV: fixed for the instruments, so
    built once per instruments tuple, not every cycle (the snapshot copies the dict; the models are frozen)."""
    return instrument_specs(instruments), etf_listing(instruments)


def _etfs(instruments, quotes: dict[str, Quote]) -> tuple[dict[str, InstrumentSpec], tuple[EtfBasket, ...]]:
    """instrument_specs(instruments) and etf_baskets(instruments, quotes), from `_listing` for a tuple."""
    if type(instruments) is not tuple:
        return instrument_specs(instruments), etf_baskets(instruments, quotes)
    specs, baskets = _listing(instruments)
    return specs, with_navs(baskets, quotes)


def market_snapshot(
    exchange: Exchange,
    instruments: tuple[Instrument, ...],
    *,
    cycle: int,
    lookback: int,
    fills: list[TradeExecuted] = (),
    big_fills: int = 5,
    headlines: tuple[Headline, ...] = (),
) -> MarketSnapshot:
    """Quotes now, per-cycle close history (completed cycles, then the current mid), biggest recent fills."""
    quotes: dict[str, Quote] = {}
    history: dict[str, tuple[float, ...]] = {}
    for inst in instruments:
        sym = inst.symbol
        quotes[sym] = q = Quote(bid=exchange.best_bid(sym), ask=exchange.best_ask(sym), last=exchange.last_price(sym))
        closes = map(float, map(_close, exchange.recent_bars(sym, lookback - 1)))  # no Python frame per bar
        mid = q.mid
        history[sym] = (*closes, mid if mid is not None else float(inst.initial_price))
    # the first `big_fills` by (-qty, seq): two stable sorts with C key functions (by seq, then by qty
    # descending, which keeps seq order among equal quantities) cost half of a Python key per fill; the
    # fills come in seq order, so the first sort only checks it
    biggest = sorted(sorted(fills, key=_seq), key=_qty, reverse=True)[:big_fills]
    specs, etfs = _etfs(instruments, quotes)
    return MarketSnapshot(
        cycle=cycle,
        instruments=specs,
        quotes=quotes,
        history=history,
        etfs=etfs,
        recent_fills=tuple(
            FillNote(symbol=t.symbol, price=t.price, qty=t.qty, buyer=t.buyer, seller=t.seller) for t in biggest
        ),
        headlines=tuple(headlines),
        halted=tuple(sorted(exchange.halts)),
    )


_POSITIONS: dict[tuple[int, float], Position] = {}


def _position(qty: int, avg_cost: float) -> Position:
    """Position(qty=qty, avg_cost=avg_cost): a holding mostly stays as it was from one cycle to the next, and
    the frozen model validated for it then serves again (a bounded memo keyed on the two values)."""
    key = (qty, avg_cost)
    pos = _POSITIONS.get(key)
    if pos is None:
        if len(_POSITIONS) >= 4096:
            _POSITIONS.clear()
        pos = _POSITIONS[key] = Position(qty=qty, avg_cost=avg_cost)
    return pos


def trader_view(
    trader: str, market: MarketSnapshot, ledger: Ledger, exchange: Exchange, initial_cash: int
) -> TraderView:
    # the ledger's lean read of the holdings with shares: (symbol, qty, avg cost), by symbol
    positions = {sym: _position(qty, avg_cost or 0.0) for sym, qty, avg_cost in ledger.open_positions(trader)}
    open_orders = tuple(
        OpenOrder(order_id=o.order_id, symbol=o.symbol, side=str(o.side), qty=o.qty, price=o.price,
                  order_type=str(o.order_type))
        for o in exchange.open_orders(trader)
    )
    return TraderView(
        trader=trader,
        market=market,
        cash=ledger.cash(trader),
        available_cash=ledger.available_cash(trader),
        initial_cash=initial_cash,
        positions=positions,
        open_orders=open_orders,
    )
