"""Risk parity: hold the multi-asset universe so that each asset carries a similar share of the risk.

From a rolling window of per-cycle log returns the trader estimates the covariance matrix and derives
target weights, either
- `inverse_vol` (default): w_i proportional to 1 / sigma_i, which equalises risk contributions when
  the assets are uncorrelated; or
- `equal_risk`: the equal-risk-contribution portfolio on the full covariance, solved with the damped
  fixed point x_i = 1 / (Sigma x)_i (Chaves, Hsu, Li and Shakernia 2012), then normalised.
The ETF is left out by default: it is the basket itself and would double count.

Invested capital is `gross_exposure / risk_aversion` of equity (capped at 100%). A symbol is traded
only when its actual weight strays from target by more than `band` (fraction of equity), which keeps
turnover down: rebalancing with bands.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from traders.base import Theory, TheoryParams, marketable_price, usd
from traders.decision import Decision, ProposedOrder
from traders.registry import register
from traders.sizing import VOL_FLOOR, cap_buy, sell_size
from traders.snapshot import TraderView
from traders.trader_config import TraderConfig


class RiskParityParams(TheoryParams):
    lookback: int = Field(default=30, ge=3, le=255)
    method: Literal["inverse_vol", "equal_risk"] = "inverse_vol"
    gross_exposure: float = Field(default=0.8, gt=0, le=1)
    band: float = Field(default=0.03, gt=0, lt=1)
    include_etf: bool = False
    symbols: tuple[str, ...] | None = None


def return_matrix(series: dict[str, tuple[float, ...]], lookback: int) -> tuple[list[str], np.ndarray]:
    """Symbols with a full window and their log returns, one column per symbol."""
    syms = [s for s, v in series.items() if len(v) >= lookback + 1 and min(v[-lookback - 1:]) > 0]
    if not syms:
        return [], np.empty((0, 0))
    logs = np.log(np.array([series[s][-lookback - 1:] for s in syms], dtype=float).T)
    return syms, logs[1:] - logs[:-1]  # np.diff(logs, axis=0) is this very subtraction, behind more Python


def column_std(returns: np.ndarray) -> np.ndarray:
    """`returns.std(axis=0, ddof=1)`, by the same ufunc calls numpy's `_var` and `_std` make (the same
    reductions over the same memory layout, so the same floats: tests/test_risk_parity_std.py), without
    their generic Python around them. Needs at least two rows."""
    n = returns.shape[0]
    mean = np.add.reduce(returns, axis=0, keepdims=True)
    np.true_divide(mean, n, out=mean)
    x = np.subtract(returns, mean)
    np.square(x, out=x)
    var = np.add.reduce(x, axis=0)
    np.true_divide(var, n - 1, out=var)
    return np.sqrt(var, out=var)


def inverse_vol_weights(returns: np.ndarray) -> np.ndarray:
    vol = np.maximum(column_std(returns), VOL_FLOOR)  # a steady drift is not riskless
    w = 1.0 / vol
    return w / np.add.reduce(w)  # w.sum()


def equal_risk_weights(cov: np.ndarray, iterations: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Weights whose risk contributions w_i (Sigma w)_i are all equal (long-only, summing to one)."""
    n = cov.shape[0]
    cov = cov + np.eye(n) * VOL_FLOOR**2 * 1e-3
    x = 1.0 / np.sqrt(np.diag(cov))
    x /= x.sum()
    for _ in range(iterations):
        step = 1.0 / (cov @ x)  # fixed point: x_i (Sigma x)_i equal for every i
        new = 0.5 * x + 0.5 * step / step.sum()  # damped, kept on the simplex
        if np.abs(new - x).max() < tol:
            x = new
            break
        x = new
    return x


@register
class RiskParity(Theory):
    name = "risk_parity"
    reads_chat = False
    description = (
        "Risk parity: allocate across all the stocks so each contributes a similar share of portfolio risk "
        "(weights inversely proportional to recent volatility, or equal risk contributions from the "
        "covariance), invest a fixed fraction of equity scaled down by risk aversion, and rebalance only "
        "the positions that drift from target by more than a band."
    )
    Params = RiskParityParams

    def target_weights(self, view: TraderView, p: RiskParityParams) -> dict[str, float]:
        snap = view.market
        universe = p.symbols or tuple(s for s, spec in snap.instruments.items() if p.include_etf or not spec.is_etf)
        syms, rets = return_matrix({s: snap.series(s) for s in universe}, p.lookback)
        if len(syms) == 0 or rets.shape[0] < 2:
            return {}
        if p.method == "equal_risk" and len(syms) > 1:
            w = equal_risk_weights(np.atleast_2d(np.cov(rets, rowvar=False)))
        else:
            w = inverse_vol_weights(rets)
        return dict(zip(syms, w.tolist(), strict=True))

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:
        p: RiskParityParams = self.params(cfg)
        snap = view.market
        weights = self.target_weights(view, p)
        if not weights:
            return self.hold(view, cfg, f"Fewer than {p.lookback + 1} cycles of history for the covariance: holding.", {})
        equity = view.equity()
        if equity <= 0:
            return self.hold(view, cfg, "No equity to allocate: holding.", {"equity": equity})
        exposure = min(1.0, p.gross_exposure / cfg.risk.risk_aversion)
        signals: dict[str, float] = {"exposure": exposure, "band": p.band}
        drifts: dict[str, float] = {}
        for sym, w in weights.items():
            mid = snap.mid(sym) or 0.0
            actual = (view.qty(sym) + view.open_qty(sym, "buy") - view.open_qty(sym, "sell")) * mid / equity
            signals[f"{sym}.target_w"] = w * exposure
            signals[f"{sym}.actual_w"] = actual
            drifts[sym] = w * exposure - actual

        orders: list[ProposedOrder] = []
        lines: list[str] = []
        spent = 0
        # Sells first (they free cash only once filled, so buys still respect available cash).
        for sym in sorted(drifts, key=lambda s: drifts[s]):
            drift = drifts[sym]
            if abs(drift) <= p.band:
                continue
            spec = snap.instruments[sym]
            side = "buy" if drift > 0 else "sell"
            px = marketable_price(view, sym, side, cfg.risk.max_relative_spread)
            if px is None:
                continue
            want = int(abs(drift) * equity / px)
            if side == "sell":
                size = sell_size(view, cfg.risk, spec, want)
            else:
                size = cap_buy(view, cfg.risk, spec, px, want, spent=spent)
                spent += size.qty * px
            if size.qty > 0:
                orders.append(ProposedOrder(symbol=sym, side=side, qty=size.qty, limit_price=px))
                lines.append(
                    f"{sym} is at {signals[f'{sym}.actual_w']:.1%} of equity against a risk-parity target of "
                    f"{signals[f'{sym}.target_w']:.1%}: {'buying' if side == 'buy' else 'selling'} {size.qty} "
                    f"at {usd(px)} limit"
                )
        if not orders:
            return self.hold(
                view, cfg,
                f"All weights are within the {p.band:.0%} band of their inverse-risk targets "
                f"({', '.join(f'{s} {w * exposure:.0%}' for s, w in weights.items())}): holding.",
                signals,
            )
        return self.decision(view, cfg, orders, "Rebalancing: " + "; ".join(lines) + ".", signals)
