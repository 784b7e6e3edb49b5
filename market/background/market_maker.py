"""Market makers: ladders of GTC quotes around a private estimate, skewed by inventory, hard-limited.

Maker m's estimate of stock s is `fundamental_s * (1 + e[m, s])`, where the error e is an AR(1) process
(stationary std `estimate_noise_bps`, persistence `estimate_persistence`): makers are well informed but
not perfectly, and not identically. The ETF estimate is the basket NAV of the maker's own component
estimates, so ETF quotes track the NAV and an ETF/basket dislocation stays small but real.

The quote centre is shifted against inventory: `centre = estimate * (1 - skew * inventory / limit)`.
Bids and asks sit at least `half_spread` from the centre, up to `levels` deep, one grid step
(`level_spacing`, a whole number of ticks) apart. Prices snap to that grid, so a small move of the
centre leaves the ladder where it is; the snap is a function of the current centre only (no
hysteresis), so it adds no memory to the quotes. Sizes are cut so that even if every resting bid (ask)
filled, the position would stay within +-limit: the inventory limit is hard.

When a maker looks at a symbol. Every tick, for every maker and symbol, the centre is compared with
the range of centres that keep the current best bid and best ask on the grid, widened by
`track_move_steps - 1` grid steps: a maker whose best quotes would move that far looks at the symbol in
the same tick. Besides, each maker looks at each symbol every `quote_interval_ticks` (staggered), which
also catches what the grid does not show: its inventory changed by `requote_inventory_lots`, a best
quote was taken or depleted, or the quotes reached `max_quote_age_ticks`. Quoting on the cadence alone
made the mid follow the fundamental over several ticks, a positive autocorrelation of mid returns
(docs/realism.md).

A requote is lazy: the best level on each side always moves to its target price; deeper orders still
on the grid and at most `levels + ladder_slack_levels - 1` steps behind the best stay where they are
(with their time priority), and missing deeper levels are filled only when fewer than
`levels - ladder_slack_levels` remain. A one-step move of the centre then costs one new best quote and one
cancel instead of a whole cancel/replace of both ladders, which keeps the message rate, and the cost per
tick, low. Quotes are GTC so that the books still hold liquidity between cycles, when DAY orders have
expired and the floor traders act.

Picking off: when a maker looks at a symbol and someone else's order is through its centre by more than
`pick_off_bps` (an ask below it, a bid above it: typically a noise trader's limit left behind by a move
of the fundamental), the maker takes it with an IOC order, within its inventory limit. Stale limit
orders otherwise kept the best quotes near old prices until other flow consumed them, which also made
mid returns trend for a few ticks.
"""
from __future__ import annotations

import math
from operator import mul as _mul

import numpy as np

from market.background.config import MarketMakerConfig
from market.instruments import Instrument, InstrumentKind
from market.orders import CancelOrder, OrderType, Side, SubmitOrder, TimeInForce

_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_LIMIT = OrderType.LIMIT
_BUY = Side.BUY
_SELL = Side.SELL
_one_plus = (1.0).__add__  # e -> 1.0 + e
_tuple_new = tuple.__new__  # builds a NamedTuple command from a full tuple of its fields, as its class would


class _Quote:
    """One maker's live ladder in one symbol: resting (price, order id, qty) per side, best first."""

    __slots__ = ("centre", "inventory", "tick", "bids", "asks")

    def __init__(self) -> None:
        self.centre = math.nan
        self.inventory = 0
        self.tick = -(10**9)
        self.bids: list[tuple[int, str, int]] = []
        self.asks: list[tuple[int, str, int]] = []

    def __getstate__(self):
        return (self.centre, self.inventory, self.tick, self.bids, self.asks)

    def __setstate__(self, state) -> None:
        self.centre, self.inventory, self.tick, self.bids, self.asks = state
        if any(len(e) == 2 for e in self.bids + self.asks):  # a snapshot from before sizes were kept:
            self.bids = [(p, oid, 0) for p, oid, *_ in self.bids]  # force a full refresh at the next look
            self.asks = [(p, oid, 0) for p, oid, *_ in self.asks]
            self.tick = -(10**9)


class MarketMakers:
    def __init__(
        self, config: MarketMakerConfig, instruments: tuple[Instrument, ...], stocks: tuple[str, ...], rng
    ) -> None:
        self.config = config
        self.instruments = instruments
        self.stocks = stocks
        self.error = rng.standard_normal((config.count, len(stocks))) * config.estimate_noise_bps * 1e-4
        self.quotes = [[_Quote() for _ in instruments] for _ in range(config.count)]
        self.next_id = 0
        self.orders_sent = 0
        self.cancels_sent = 0
        self.picked_off = 0  # IOC orders sent to take stale orders through the centre
        self._init_arrays()

    _DERIVED = ("_recipe", "_plan", "_owners", "_consts", "_k", "_edge")  # rebuilt from the config and instruments on load

    # The estimate errors, [maker][stock], live as Python lists (`_err`): the AR(1) step of every tick
    # works element by element on Python floats, and a round trip through an array per tick cost more
    # than the step itself. `error` is the same as an array, for readers and for the pickle (which
    # keeps the array under the key "error", so snapshots are the same bytes as before).
    @property
    def error(self) -> np.ndarray:
        return np.array(self._err, dtype=float).reshape(len(self._err), len(self.stocks))

    @error.setter
    def error(self, value) -> None:
        self._err = np.asarray(value, dtype=float).tolist()

    def _init_arrays(self) -> None:
        """Per (maker, symbol) state of the every-tick check, and how each instrument's estimate is made
        from the stock estimates: (stock index, weight) pairs, a basket for an ETF; plus per-instrument
        constants of the hot path."""
        cfg = self.config
        count, n = cfg.count, len(self.instruments)
        col = {s: k for k, s in enumerate(self.stocks)}
        self._recipe = []
        for inst in self.instruments:
            if inst.kind is InstrumentKind.ETF:
                self._recipe.append(tuple((col[sym], shares / inst.units) for sym, shares in inst.basket))
            else:
                self._recipe.append(((col[inst.symbol], 1.0),) if inst.symbol in col else ())
        # the same recipes for the hot path: a lone weight-1.0 term is just the stock's column (the sum
        # 0 + 1.0 * x is x exactly), anything else stays a recipe to sum
        # (columns, weights) to sum (in recipe order, as sum() of the products w * est[k])
        self._plan = [r[0][0] if len(r) == 1 and r[0][1] == 1.0 else (tuple(k for k, _ in r), tuple(w for _, w in r))
                      for r in self._recipe]
        # per instrument: symbol, lot, tick, inventory limit, quote size, minimum half spread (all in
        # shares or cents), and the inventory change that forces a requote
        self._consts = [
            (inst.symbol, inst.lot_size, inst.tick_size, cfg.inventory_limit_lots * inst.lot_size,
             cfg.quote_lots * inst.lot_size, cfg.min_half_spread_ticks * inst.tick_size,
             cfg.requote_inventory_lots * inst.lot_size)
            for inst in self.instruments
        ]
        self._owners = [f"mm:{m}" for m in range(count)]
        # the config's settings read in `_look` and below, once (a pydantic attribute read per use added up):
        # skew_bps * 1e-4 is the first product of `1.0 - skew_bps * 1e-4 * inv / limit`, so folding it
        # changes no bit; the other bps settings are used as they are, in the original order of operations
        self._k = (cfg.skew_bps * 1e-4, cfg.half_spread_bps, cfg.min_level_spacing_ticks, cfg.level_spacing_bps,
                   (cfg.track_move_steps - 1), cfg.max_quote_age_ticks, cfg.pick_off_bps is not None, cfg.levels,
                   cfg.levels + cfg.ladder_slack_levels, cfg.levels - cfg.ladder_slack_levels)
        self._edge = None if cfg.pick_off_bps is None else cfg.pick_off_bps * 1e-4  # as `_pick_off` computed it
        self._skew = [[1.0] * n for _ in range(count)]  # 1 - skew * inventory / limit, as of the last look
        self._lo = [[math.inf] * n for _ in range(count)]  # centres in [lo, hi] keep the best quotes
        self._hi = [[-math.inf] * n for _ in range(count)]  # (inf, -inf: look at the first tick)

    def __getstate__(self) -> dict:
        # the instance dict in its order, with `_err` as the array "error" in its place
        return {("error" if k == "_err" else k): (self.error if k == "_err" else v)
                for k, v in self.__dict__.items() if k not in self._DERIVED}

    def __setstate__(self, state: dict) -> None:
        # "error" back to `_err`, in the same place of the instance dict
        self.__dict__.update({("_err" if k == "error" else k): (np.asarray(v, dtype=float).tolist() if k == "error" else v)
                              for k, v in state.items()})
        cfg = self.config
        if any(name not in cfg.__dict__ for name in MarketMakerConfig.model_fields):  # pickled by older code
            self.config = MarketMakerConfig(**{k: v for k, v in cfg.__dict__.items() if k in MarketMakerConfig.model_fields})
        kept = {k: state[k] for k in ("_skew", "_lo", "_hi") if k in state}
        self.__dict__.setdefault("picked_off", 0)
        self._init_arrays()
        self.__dict__.update(kept)

    def reconfigure(self, config: MarketMakerConfig, rng: np.random.Generator, exchange) -> list:
        """Other settings for the same makers (BackgroundMarket.reconfigure). Makers beyond a smaller
        `count` cancel their resting quotes and retire; makers added by a larger one draw their estimate
        errors from `rng` (a stream of their own, not the running one). Every maker looks at every symbol
        on the next tick, with the new settings. Returns the cancels' events."""
        events: list = []
        old_count = len(self.quotes)
        if config.count < old_count:
            for m in range(config.count, old_count):
                owner = f"mm:{m}"
                for q in self.quotes[m]:
                    for _, oid, _ in (*q.bids, *q.asks):
                        if exchange.open_qty(oid) is not None:
                            events += exchange.cancel(_tuple_new(CancelOrder, (oid, owner)))
                            self.cancels_sent += 1
            del self.quotes[config.count:]
            self.error = self.error[: config.count].copy()
        elif config.count > old_count:
            k = config.count - old_count
            fresh = rng.standard_normal((k, len(self.stocks))) * config.estimate_noise_bps * 1e-4
            self.error = np.vstack([self.error, fresh])
            self.quotes += [[_Quote() for _ in self.instruments] for _ in range(k)]
        self.config = config
        self._init_arrays()
        return events

    def estimates(self, fair: dict[str, float]) -> list[list[float]]:
        """Each maker's estimate per instrument (cents), [maker][instrument]: noisy fundamentals, and
        the basket NAV of them for an ETF."""
        stock_fair = list(map(fair.__getitem__, self.stocks))
        plan = self._plan
        out = []
        for err in self._err:
            est = list(map(_mul, stock_fair, map(_one_plus, err)))  # fair * (1 + error)
            out.append([est[c] if c.__class__ is int else sum(map(_mul, c[1], map(est.__getitem__, c[0])))
                        for c in plan])
        return out

    def act(self, exchange, fair: dict[str, float], rng: np.random.Generator, tick: int) -> list:
        cfg = self.config
        if cfg.count == 0:
            return []
        phi = cfg.estimate_persistence
        # the AR(1) step of the estimate errors, phi * error + k * z element by element: the same IEEE
        # products and sums the array expression `phi * error + k * z` makes (so the same bits), on Python
        # floats, which for a maker or two cost a fraction of the four numpy calls
        k = math.sqrt(1.0 - phi * phi) * cfg.estimate_noise_bps * 1e-4
        # one draw per error, in the array's (row-major) order: a flat draw of the same count gives the same
        # values as one shaped (maker, stock)
        z = iter(rng.standard_normal(len(self._err) * len(self.stocks)).tolist())
        errors = self._err = _ar1(self._err, phi, k, z)
        halts = getattr(exchange, "halts", None)  # symbols a scenario halted: makers leave their quotes there as they are
        return _scan(self, exchange, errors, list(map(fair.__getitem__, self.stocks)), tick,
                     cfg.quote_interval_ticks, cfg.track_move_steps > 0, halts)


# The work of `MarketMakers.act`, symbol by symbol: plain functions taking the makers as their first argument,
# which market_maker.pxd declares with C types for the compiled twin (methods cannot be typed there).
def _ar1(rows: list, phi: float, k: float, z) -> list:
    """`[[phi * e + k * next(z) for e in row] for row in rows]`, spelled out for C doubles."""
    out = []
    for row in rows:
        new = []
        for e in row:
            x = next(z)
            new.append(phi * e + k * x)
        out.append(new)
    return out


def _scan(mm: MarketMakers, exchange, errors: list, stock_fair: list, tick: int, interval: int, track: bool,
          halts) -> list:
    """Every maker's every symbol, in a fixed order: look at the ones that are due (see the module docstring)."""
    plan = mm._plan
    consts = mm._consts
    n = len(plan)
    events: list = []
    for m, err in enumerate(errors):  # maker by maker, symbol by symbol: a fixed order
        est = []  # as in `estimates`: fair * (1 + error)
        for f, e in zip(stock_fair, err, strict=False):  # (as map would: to the shorter)
            est.append(f * (1.0 + e))
        due = (-(tick + m)) % interval  # (tick + m + j) % interval == 0  <=>  j % interval == due
        skews, los, his = mm._skew[m], mm._lo[m], mm._hi[m]
        if not len(skews) == len(los) == len(his) == n:
            raise ValueError(f"maker {m}: per-symbol state of another length than the {n} instruments")
        # (a look at symbol j rewrites only entry j of these lists, after it was read here)
        for j in range(n):
            c = plan[j]
            e = est[c] if type(c) is int else sum(map(_mul, c[1], map(est.__getitem__, c[0])))
            if j % interval == due:
                due_now = True
            elif track:
                skew = skews[j]
                due_now = not los[j] <= e * skew <= his[j]
            else:
                due_now = False
            if due_now and not (halts and consts[j][0] in halts):
                events += _look(mm, exchange, m, j, e, tick)
    return events


def _look(mm: MarketMakers, exchange, m: int, j: int, est: float, tick: int) -> list:
    """Place the ladder around this maker's centre for symbol j; requote it if it is not where it
    should be (see the module docstring), else only pick off stale orders."""
    sym, lot, tick_size, limit, size, min_half, inv_move = mm._consts[j]
    skew_k, half_bps, min_spacing, spacing_bps, extra_steps, max_age, pick_off, levels, _, _ = mm._k
    owner = mm._owners[m]
    q = mm.quotes[m][j]
    inv = exchange.position(owner, sym)
    skew = 1.0 - skew_k * inv / limit
    centre = est * skew
    # target prices on a grid of `step` so small moves keep levels, and the range [lo, hi] of centres
    # for which the best bid and best ask stay where they are
    # (`b if b > a else a` is max(a, b) and `b if b < a else a` is min(a, b), without the call)
    half = centre * half_bps * 1e-4
    if not half > min_half:
        half = min_half
    step = round(centre * spacing_bps * 1e-4 / tick_size)
    step = (step if step > min_spacing else min_spacing) * tick_size
    best_bid = math.floor((centre - half) / step) * step
    best_ask = math.ceil((centre + half) / step) * step
    # floor((c - half) / step) stays for c in [bid + half, bid + step + half); ceil((c + half) / step)
    # for c in (ask - step - half, ask - half]. (half moves with c by a negligible 2e-4 of its move.)
    extra = extra_steps * step  # look early only when the best would move track_move_steps steps
    a, b = best_bid + half, best_ask - step - half
    mm._lo[m][j] = (b if b > a else a) - extra
    a, b = best_bid + step + half, best_ask - half
    mm._hi[m][j] = (b if b < a else a) + extra
    mm._skew[m][j] = skew
    qb, qa = q.bids, q.asks
    if (
        qb
        and qa
        and best_bid > 0  # the target bids are not empty
        and qb[0][0] == best_bid
        and qa[0][0] == best_ask
        and abs(inv - q.inventory) < inv_move
        and tick - q.tick < max_age
        and exchange.open_qty(qb[0][1]) is not None
        and exchange.open_qty(qa[0][1]) is not None
    ):  # the ladder is where it should be
        return _pick_off(mm, exchange, owner, j, centre, inv, limit, qb, qa) if pick_off else []
    # requote: move the best quotes to their targets; keep deeper orders still on the grid (and their
    # time priority); refill a ladder that got thin; take stale orders through the centre in between
    low = best_bid - levels * step
    target_bids = list(range(best_bid, low if low > 0 else 0, -step))  # the positive ones
    target_asks = list(range(best_ask, best_ask + levels * step, step))
    events: list = []
    refresh = tick - q.tick >= max_age
    bids = _trim(mm, exchange, owner, qb, target_bids, True, refresh, size, events) if qb else qb
    asks = _trim(mm, exchange, owner, qa, target_asks, False, refresh, size, events) if qa else qa
    if pick_off:
        taken = _pick_off(mm, exchange, owner, j, centre, inv, limit, bids, asks)
        if taken:
            events += taken
            inv = exchange.position(owner, sym)
    q.bids = _fill(mm, exchange, owner, sym, lot, _BUY, bids, target_bids, limit - inv, size, events)
    q.asks = _fill(mm, exchange, owner, sym, lot, _SELL, asks, target_asks, limit + inv, size, events)
    q.centre, q.inventory, q.tick = centre, inv, tick
    return events


def _trim(mm: MarketMakers, exchange, owner, side: list, target: list[int], is_bid: bool, refresh: bool, size: int,
          events: list) -> list[tuple[int, str, int]]:
    """Cancel this side's orders that must go (ahead of the target best, off the grid, too deep, or
    too old) and return the ones kept, best first. A best order that is depleted is replaced too."""
    kept: list[tuple[int, str, int]] = []
    open_qty = exchange.open_qty
    cancel = exchange.cancel
    cancels = 0
    if target and not refresh:
        top = target[0]
        step = top - target[1] if len(target) > 1 else 0
        if not is_bid:
            step = -step
        room = mm._k[8]  # levels + ladder_slack_levels
        depth = (room - 1) * step
        last = None
        for entry in side:
            price = entry[0]
            behind = top - price if is_bid else price - top
            if 0 <= behind <= depth and price != last and len(kept) < room and (not step or not behind % step):
                if behind == 0:  # the new best level: it must be alive and not depleted
                    left = open_qty(entry[1])
                    if left is None:
                        continue
                    if left * 2 < size:
                        events += cancel(_tuple_new(CancelOrder, (entry[1], owner)))
                        cancels += 1
                        continue
                kept.append(entry)
                last = price
            elif open_qty(entry[1]) is not None:
                events += cancel(_tuple_new(CancelOrder, (entry[1], owner)))
                cancels += 1
    else:
        for entry in side:
            if open_qty(entry[1]) is not None:
                events += cancel(_tuple_new(CancelOrder, (entry[1], owner)))
                cancels += 1
    if cancels:
        mm.cancels_sent += cancels
    return kept


def _fill(mm: MarketMakers, exchange, owner, sym: str, lot: int, side: Side, kept: list, target: list[int], room: int,
          size: int, events: list) -> list[tuple[int, str, int]]:
    """Add the target best quote if it is missing, and every missing target level if the side got
    thin, within `room` (the inventory limit less what already rests on this side)."""
    if not target:
        return kept
    top = target[0]
    has_top = bool(kept) and kept[0][0] == top
    if len(kept) + (not has_top) >= mm._k[9]:  # levels - ladder_slack_levels
        if has_top:
            return kept
        wanted = target[:1]
    else:
        have = {e[0] for e in kept}
        wanted = [p for p in target if p not in have]
    for e in kept:
        room -= e[2]
    submit = exchange.submit
    next_id = mm.next_id
    added = []
    for price in wanted:
        qty = room if room < size else size  # min(size, room)
        qty -= qty % lot
        if qty <= 0:
            break
        room -= qty
        oid = f"bg-m{next_id}"
        next_id += 1
        events += submit(_tuple_new(SubmitOrder, (oid, owner, sym, side, qty, _LIMIT, price, None, _GTC)))
        added.append((price, oid, qty))
    if not added:
        return kept
    mm.orders_sent += next_id - mm.next_id
    mm.next_id = next_id
    if len(added) == 1 and added[0][0] == top:
        return added + kept
    ladder = kept + added
    ladder.sort(key=_neg_price if side is _BUY else _price)
    return ladder


def _pick_off(mm: MarketMakers, exchange, owner, j: int, centre: float, inv: int, limit: int,
              bids: list, asks: list) -> list:
    """Take other traders' orders that are through the centre by more than `pick_off_bps`, within the
    inventory limit (counting what rests on our own side as if it all filled), with IOC orders."""
    sym, lot, tick_size, _, size, _, _ = mm._consts[j]
    edge = mm._edge
    events: list = []
    ask = exchange.best_ask(sym)
    if ask is not None and ask < centre * (1.0 - edge):
        price = int(centre * (1.0 - edge) // tick_size) * tick_size
        qty = limit - inv
        for e in bids:
            qty -= e[2]
        if size < qty:
            qty = size
        qty -= qty % lot
        if qty > 0 and price >= ask:
            events += _ioc(mm, exchange, owner, sym, _BUY, qty, price)
    bid = exchange.best_bid(sym)
    if bid is not None and bid > centre * (1.0 + edge):
        price = -int(-centre * (1.0 + edge) // tick_size) * tick_size
        qty = limit + inv
        for e in asks:
            qty -= e[2]
        if size < qty:
            qty = size
        qty -= qty % lot
        if qty > 0 and price <= bid:
            events += _ioc(mm, exchange, owner, sym, _SELL, qty, price)
    return events


def _ioc(mm: MarketMakers, exchange, owner, sym, side, qty, price) -> list:
    oid = f"bg-m{mm.next_id}"
    mm.next_id += 1
    mm.orders_sent += 1
    mm.picked_off += 1
    return exchange.submit(_tuple_new(SubmitOrder, (oid, owner, sym, side, qty, _LIMIT, price, None, _IOC)))


def _price(entry: tuple) -> int:
    return entry[0]


def _neg_price(entry: tuple) -> int:
    return -entry[0]


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
