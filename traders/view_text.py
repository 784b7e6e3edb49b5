"""A trader's view as compact text: the user message of an LLM trader's decision prompt."""
from __future__ import annotations

from traders.snapshot import TraderView


def _usd(cents: float | None) -> str:
    return "n/a" if cents is None else f"${cents / 100:,.2f}"


def render_view(view: TraderView, history: int = 10) -> str:
    m = view.market
    lines = [f"Cycle {m.cycle}. You are {view.trader}.",
             f"Cash {_usd(view.cash)} (available {_usd(view.available_cash)}); equity {_usd(view.equity())}."]
    if view.positions:
        held = ", ".join(f"{s} {p.qty} @ {_usd(p.avg_cost)}" for s, p in sorted(view.positions.items()))
        lines.append(f"Positions: {held}.")
    else:
        lines.append("Positions: none.")
    if view.open_orders:
        lines.append("Open orders: " + "; ".join(
            f"{o.order_id} {o.side} {o.qty} {o.symbol} @ {_usd(o.price)}" for o in view.open_orders))
    lines.append("Market (bid / ask / last; recent closes oldest first):")
    for sym, q in m.quotes.items():
        closes = ", ".join(f"{x / 100:.2f}" for x in m.series(sym, history))
        lines.append(f"  {sym}: {_usd(q.bid)} / {_usd(q.ask)} / {_usd(q.last)}; closes [{closes}]")
    for etf in m.etfs:
        lines.append(f"  {etf.symbol} basket NAV {_usd(etf.nav)} per share.")
    if m.chat_messages:
        lines.append(f"Floor chat this cycle (mean sentiment {m.chat_sentiment:+.2f}):")
        lines.extend(f"  {msg.sender}: {msg.text}" for msg in m.chat_messages[-12:])
    return "\n".join(lines)
