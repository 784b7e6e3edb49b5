"""Limit orders per second through one book, next to a plain dict-of-deques baseline in the same run.

Flow (seeded, 200,000 orders, quantities 1-10): half cross the spread at the best opposite price plus
0-3 ticks, half rest 1-20 ticks behind the best opposite price. Prices depend on the book at the time
of each order, so the flow is generated once by running it through the baseline (untimed) and then
replayed, with the same absolute prices, through the baseline and through `Exchange.submit` (the
full public path: validation, events, tape, bars, positions). Both books must produce the same fills,
which doubles as a cross-check of the matcher. Buyers and sellers are different owners, so
self-trade prevention never fires (the baseline has none).

Runs on the active matching engine (market/book_engine.py: "compiled" when market/_book_core.pyx is
built, else "python"); when the compiled engine is active, the pure-Python engine is measured too, in
the same run, for comparison. Also prints the snapshot size of an exchange holding N resting orders.
Target: `Exchange.submit` on the active engine at least at the baseline's speed. `python -m bench book`.
"""
from __future__ import annotations

import gc
import heapq
import random
import time
from collections import deque

from market.book_engine import ENGINE
from market.exchange import Exchange, PurePythonExchange
from market.instruments import Instrument
from market.orders import Side, SubmitOrder, TimeInForce

N_ORDERS = 200_000
SEED = 20240601
CENTER = 10_000


class BaselineBook:
    """A plain price-time book: dict price -> deque of [order_id, qty], heaps of prices, lazy cleanup."""

    def __init__(self) -> None:
        self.bids: dict[int, deque] = {}
        self.asks: dict[int, deque] = {}
        self.bid_heap: list[int] = []  # -price
        self.ask_heap: list[int] = []

    def best_bid(self):
        h, book = self.bid_heap, self.bids
        while h and -h[0] not in book:
            heapq.heappop(h)
        return -h[0] if h else None

    def best_ask(self):
        h, book = self.ask_heap, self.asks
        while h and h[0] not in book:
            heapq.heappop(h)
        return h[0] if h else None

    def limit(self, oid: str, is_buy: bool, price: int, qty: int) -> list:
        fills = []
        if is_buy:
            opp, heap, sign = self.asks, self.ask_heap, 1
        else:
            opp, heap, sign = self.bids, self.bid_heap, -1
        while qty:
            while heap and sign * heap[0] not in opp:
                heapq.heappop(heap)
            if not heap:
                break
            best = sign * heap[0]
            if (best > price) if is_buy else (best < price):
                break
            q = opp[best]
            while q and qty:
                rest = q[0]
                f = rest[1] if rest[1] <= qty else qty
                fills.append((oid, rest[0], best, f))
                qty -= f
                rest[1] -= f
                if not rest[1]:
                    q.popleft()
            if not q:
                del opp[best]
        if qty:
            own, h, key = (self.bids, self.bid_heap, -price) if is_buy else (self.asks, self.ask_heap, price)
            q = own.get(price)
            if q is None:
                q = own[price] = deque()
                heapq.heappush(h, key)
            q.append([oid, qty])
        return fills


def make_flow(n: int, seed: int) -> list[tuple[str, bool, int, int]]:
    rng = random.Random(seed)
    book = BaselineBook()
    flow = []
    for i in range(n):
        is_buy = rng.random() < 0.5
        cross = rng.random() < 0.5
        qty = rng.randint(1, 10)
        bid, ask = book.best_bid(), book.best_ask()
        opp = ask if is_buy else bid
        if opp is None:
            own = bid if is_buy else ask
            opp = (own + 1 if is_buy else own - 1) if own is not None else CENTER
            cross = False
        k = rng.randint(0, 3) if cross else rng.randint(1, 20)
        price = opp + k if is_buy == cross else opp - k
        oid = f"o{i}"
        flow.append((oid, is_buy, price, qty))
        book.limit(oid, is_buy, price, qty)
    return flow


def _time_baseline(flow) -> tuple[float, int, int]:
    book = BaselineBook()
    limit = book.limit
    gc.collect()
    t0 = time.perf_counter()
    fills = 0
    volume = 0
    for oid, is_buy, price, qty in flow:
        for f in limit(oid, is_buy, price, qty):
            fills += 1
            volume += f[3]
    return time.perf_counter() - t0, fills, volume


def _time_exchange(flow, direct: bool = False, cls: type[Exchange] = Exchange) -> tuple[float, int, int, Exchange]:
    """Time `Exchange.submit` (public path), or with `direct` the book's own entry (no validation)."""
    ex = cls((Instrument("BENCH", "bench", CENTER),))
    if direct:
        gtc = TimeInForce.GTC
        cmds = [(oid, "b" if is_buy else "s", Side.BUY if is_buy else Side.SELL, is_buy, gtc, price, qty)
                for oid, is_buy, price, qty in flow]
        submit_limit = ex.book("BENCH").submit_limit
        gc.collect()
        t0 = time.perf_counter()
        for args in cmds:
            submit_limit(*args)
        elapsed = time.perf_counter() - t0
    else:
        cmds = [SubmitOrder(oid, "b" if is_buy else "s", "BENCH", Side.BUY if is_buy else Side.SELL, qty, price=price)
                for oid, is_buy, price, qty in flow]
        submit = ex.submit
        gc.collect()
        t0 = time.perf_counter()
        for cmd in cmds:
            submit(cmd)
        elapsed = time.perf_counter() - t0
    bar = ex.current_bar("BENCH")
    return elapsed, bar.trades if bar else 0, bar.volume if bar else 0, ex


def snapshot_size(n_resting: int) -> int:
    ex = Exchange((Instrument("BENCH", "bench", CENTER),))
    rng = random.Random(7)
    for i in range(n_resting):
        is_buy = i % 2 == 0
        price = CENTER - rng.randint(1, 200) if is_buy else CENTER + rng.randint(1, 200)
        ex.submit(SubmitOrder(f"r{i}", f"owner{i % 50}", "BENCH", Side.BUY if is_buy else Side.SELL,
                              rng.randint(1, 10), price=price))
    return len(ex.snapshot())


def main() -> bool:
    flow = make_flow(N_ORDERS, SEED)
    engines = {ENGINE: Exchange} | ({"python": PurePythonExchange} if ENGINE == "compiled" else {})
    paths = [(f"{name}/{path}", cls, path == "book") for name, cls in engines.items() for path in ("exchange", "book")]
    best = {"base": float("inf")} | {key: float("inf") for key, _, _ in paths}
    results = set()
    for _ in range(3):  # best of three, interleaved, to damp noise on a shared machine
        t, base_fills, base_vol = _time_baseline(flow)
        best["base"] = min(best["base"], t)
        results.add((base_fills, base_vol))
        for key, cls, direct in paths:
            t, fills, vol, ex = _time_exchange(flow, direct=direct, cls=cls)
            best[key] = min(best[key], t)
            results.add((fills, vol))
            if key == f"{ENGINE}/exchange":
                ex_fills, ex_vol, active = fills, vol, ex
    same = len(results) == 1
    rate = {k: N_ORDERS / v for k, v in best.items()}
    depth = active.depth("BENCH", levels=10**6)
    resting = sum(q for _, q, _ in depth.bids + depth.asks)
    print(f"flow: {N_ORDERS:,} limit orders, seed {SEED}; {ex_fills:,} fills, volume {ex_vol:,}; book at end: "
          f"{len(depth.bids)} bid / {len(depth.asks)} ask levels, {resting:,} shares resting")
    print(f"matching engine: {ENGINE}" + ("" if ENGINE == "compiled" else
                                          " (market/_book_core.pyx not built, or TRADING_FLOOR_PURE_BOOK=1)"))
    print(f"baseline dict-of-deques                  : {rate['base'] / 1e6:6.3f} M orders/s  (returns fill tuples)")
    for name in engines:
        label = f"{name}{' (active)' if name == ENGINE else ''}"
        print(f"[{label:>17}] OrderBook.submit_limit: {rate[f'{name}/book'] / 1e6:6.3f} M orders/s  "
              f"ratio {rate[f'{name}/book'] / rate['base']:.2f}x  (events, tape, bars, positions, ids)")
        print(f"[{label:>17}] Exchange.submit       : {rate[f'{name}/exchange'] / 1e6:6.3f} M orders/s  "
              f"ratio {rate[f'{name}/exchange'] / rate['base']:.2f}x  (public API: + validation)")
    rate["exchange"] = rate[f"{ENGINE}/exchange"]
    print(f"fills identical to the baseline: {same}")
    for n in (1_000, 10_000, 100_000):
        size = snapshot_size(n)
        print(f"snapshot with {n:>7,} resting orders: {size:>10,} bytes ({size / n:.1f} B/order)")
    return same and rate["exchange"] >= rate["base"]
