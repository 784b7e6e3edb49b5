"""Market metrics from an Exchange run: spread, depth profile, volume per cycle, order-flow imbalance.

`MarketRecorder` drives an Exchange cycle by cycle (advancing in steps of `interval` ticks) and samples,
for every symbol: the mid, the quoted spread and the depth of the first `depth_levels` levels at each
sampling tick; and, per cycle, the traded volume and the signed (aggressor) volume from the
TradeExecuted events the exchange returns. It reads the exchange only through its public market-data
calls, so it works on any Exchange (background only, or a floor's). The pure functions below turn the
recorded arrays into numbers.

Order-flow imbalance here is the trade-sign imbalance of a cycle, (buy-initiated - sell-initiated
volume) / total volume, in [-1, 1]; its relation to the *next* cycle's mid return says whether flow
predicts prices (it should not, much, in an efficient market) and to the same cycle's return whether
flow moves prices (it should: market impact).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from market.events import TradeExecuted
from market.orders import Side


@dataclass
class SymbolRecord:
    mids: list[float] = field(default_factory=list)  # one per sampling tick (nan when one-sided)
    spreads: list[float] = field(default_factory=list)  # ticks (cents), nan when one-sided
    depth_sum: np.ndarray | None = None  # summed depth per level (bid and ask averaged)
    depth_n: int = 0
    cycle_volume: list[int] = field(default_factory=list)
    cycle_signed: list[int] = field(default_factory=list)
    cycle_mid: list[float] = field(default_factory=list)  # mid at the end of each cycle
    fairs: list[float] = field(default_factory=list)  # fundamental value at each sampling tick (if given)


class MarketRecorder:
    def __init__(self, exchange, symbols=None, *, interval: int = 5, depth_levels: int = 10, fair=None) -> None:
        self.exchange = exchange
        self.fair = fair  # optional callable -> {symbol: fundamental value}, sampled with the mids
        self.symbols = tuple(symbols or exchange.instruments)
        self.interval = max(1, int(interval))
        self.depth_levels = depth_levels
        self.records = {s: SymbolRecord(depth_sum=np.zeros(depth_levels)) for s in self.symbols}

    def run_cycle(self, ticks: int) -> None:
        ex = self.exchange
        vol = dict.fromkeys(self.symbols, 0)
        signed = dict.fromkeys(self.symbols, 0)
        done = 0
        while done < ticks:
            step = min(self.interval, ticks - done)
            for e in ex.advance(step):
                if type(e) is TradeExecuted and e.symbol in vol:
                    vol[e.symbol] += e.qty
                    signed[e.symbol] += e.qty if e.aggressor is Side.BUY else -e.qty
            done += step
            if step == self.interval:
                self._sample()
        for s in self.symbols:
            rec = self.records[s]
            rec.cycle_volume.append(vol[s])
            rec.cycle_signed.append(signed[s])
            m = ex.mid(s)
            rec.cycle_mid.append(math.nan if m is None else float(m))
        ex.end_cycle()

    def _sample(self) -> None:
        ex = self.exchange
        n = self.depth_levels
        fair = self.fair() if self.fair is not None else None
        for s in self.symbols:
            rec = self.records[s]
            if fair is not None:
                rec.fairs.append(float(fair[s]))
            bid, ask = ex.best_bid(s), ex.best_ask(s)
            if bid is None or ask is None:
                rec.mids.append(math.nan)
                rec.spreads.append(math.nan)
            else:
                rec.mids.append((bid + ask) / 2)
                rec.spreads.append(float(ask - bid))
            d = ex.depth(s, n)
            prof = np.zeros(n)
            for side in (d.bids, d.asks):
                for k, (_, qty, _) in enumerate(side[:n]):
                    prof[k] += qty / 2
            rec.depth_sum += prof
            rec.depth_n += 1

    def arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """Plain arrays per symbol (picklable, for process pools)."""
        out = {}
        for s, r in self.records.items():
            out[s] = {"mids": np.asarray(r.mids), "spreads": np.asarray(r.spreads),
                      "depth": r.depth_sum / max(r.depth_n, 1), "volume": np.asarray(r.cycle_volume, dtype=float),
                      "signed": np.asarray(r.cycle_signed, dtype=float), "cycle_mid": np.asarray(r.cycle_mid),
                      "fairs": np.asarray(r.fairs)}
        return out


# ----- pure functions --------------------------------------------------------------------------------
def mid_log_returns(mids) -> np.ndarray:
    """Log returns of a mid series; steps touching a one-sided book (nan) are dropped."""
    m = np.asarray(mids, dtype=float)
    r = np.diff(np.log(m))
    return r[np.isfinite(r)]


def spread_stats(spreads, mids=None) -> dict[str, float]:
    s = np.asarray(spreads, dtype=float)
    ok = np.isfinite(s)
    out = {"mean_ticks": float(s[ok].mean()) if ok.any() else math.nan,
           "median_ticks": float(np.median(s[ok])) if ok.any() else math.nan,
           "one_sided_share": float(1 - ok.mean()) if s.size else math.nan}
    if mids is not None:
        m = np.asarray(mids, dtype=float)
        rel = s[ok] / m[ok]
        out["mean_bps"] = float(rel.mean() * 1e4) if rel.size else math.nan
    return out


def order_flow_imbalance(signed, volume) -> np.ndarray:
    v = np.asarray(volume, dtype=float)
    s = np.asarray(signed, dtype=float)
    return np.divide(s, v, out=np.zeros_like(s), where=v > 0)


def flow_return_relation(signed, volume, cycle_mids) -> dict[str, float]:
    """Correlation of each cycle's imbalance with the same cycle's and the next cycle's mid return."""
    ofi = order_flow_imbalance(signed, volume)
    m = np.asarray(cycle_mids, dtype=float)
    r = np.diff(np.log(m), prepend=np.nan)  # r[t]: return over cycle t
    same = _corr(ofi, r)
    nxt = _corr(ofi[:-1], r[1:])
    return {"corr_same_cycle": same, "corr_next_cycle": nxt, "mean_imbalance": float(ofi.mean()) if ofi.size else math.nan}


def volume_profile(volume) -> dict[str, float]:
    v = np.asarray(volume, dtype=float)
    if not v.size:
        return {"mean": math.nan, "cv": math.nan}
    return {"mean": float(v.mean()), "cv": float(v.std() / v.mean()) if v.mean() else math.nan,
            "max": float(v.max()), "zero_share": float((v == 0).mean())}


def _corr(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return math.nan
    return float(np.corrcoef(a[ok], b[ok])[0, 1])
