"""Write tools as plain functions over a `TraderDesk`: they STAGE intents and touch nothing else.

`stage_order` takes prices in US dollars (the LLM edge) and converts them with the LLM edge's own
validation (`traders.llm.llm_decision.parse_order`): positive whole quantities, finite prices of at most
two decimals, known symbols, sane sizes, the prices each order type needs. An invalid request stages
nothing and returns `{"error": "..."}` with every reason. The staged `ProposedOrder`s (integer cents)
go to the graph's risk check after the decision; only then can anything reach the exchange.

These functions take `desk.lock` themselves (they read the exchange to check symbols and order
ownership), so callers must not hold it.
"""
from __future__ import annotations

from typing import Any

from tools.desk import TraderDesk
from tools.formatting import dollars, error
from tools.order_intents import OrderLimits, parse_order

STAGED_NOTE = ("staged, not sent: it goes to the risk check after your decision, and reaches the exchange "
               "only if it passes the limits")


def _order_view(o: Any) -> dict[str, Any]:
    return {"symbol": o.symbol, "side": o.side, "qty": o.qty, "order_type": o.order_type,
            "limit_price": dollars(o.limit_price), "limit_price_cents": o.limit_price,
            "stop_price": dollars(o.stop_price), "stop_price_cents": o.stop_price, "tif": o.tif}


def stage_order(desk: TraderDesk, symbol: str, side: str, qty: Any, order_type: str = "limit",
                limit_price: Any = None, stop_price: Any = None, tif: str = "day") -> dict[str, Any]:
    """Validate an order given in dollars and stage it as a `ProposedOrder` in cents."""
    raw = {"symbol": symbol, "side": side, "qty": qty, "order_type": order_type,
           "limit_price": limit_price, "stop_price": stop_price, "tif": tif}
    with desk.lock:
        listed = dict(desk.exchange.instruments)
        if len(desk.staged_orders) >= desk.max_staged_orders:
            return error(f"you already staged {len(desk.staged_orders)} orders this cycle, the limit is "
                         f"{desk.max_staged_orders}; nothing was staged")
        order, problems = parse_order(raw, OrderLimits(symbols=frozenset(listed)))
        if order is None:
            return {"error": "order not staged: " + "; ".join(p.message for p in problems),
                    "codes": [p.code for p in problems]}
        inst = listed[order.symbol]
        off = [f"{name} ${cents / 100:.2f} is not a multiple of the tick size ${inst.tick_size / 100:.2f}"
               for name, cents in (("limit_price", order.limit_price), ("stop_price", order.stop_price))
               if cents is not None and cents % inst.tick_size]
        if order.qty % inst.lot_size:
            off.append(f"qty {order.qty} is not a multiple of the lot size {inst.lot_size}")
        if off:
            return {"error": "order not staged: " + "; ".join(off), "codes": ["off_tick_or_lot"]}
        desk.staged_orders.append(order)
        out = {"staged": True, "order": _order_view(order), "staged_orders": len(desk.staged_orders),
               "note": STAGED_NOTE}
        ignored = [f for f in ("limit_price", "stop_price") if raw[f] is not None and getattr(order, f) is None]
        if ignored:
            out["ignored"] = f"{', '.join(ignored)} ignored: a {order.order_type} order does not use it"
        return out


def stage_cancel(desk: TraderDesk, order_id: str) -> dict[str, Any]:
    """Stage the cancellation of one of the trader's own live orders."""
    if not isinstance(order_id, str) or not order_id.strip():
        return error(f"order_id must be the id of one of your open orders, got {order_id!r}")
    oid = order_id.strip()
    with desk.lock:
        live = desk.exchange.order(oid)
        if live is None:
            return error(f"there is no open order with id {oid!r}; see my_open_orders for your live orders")
        if live.owner != desk.trader:
            return error(f"order {oid!r} is not yours; you can only cancel your own orders")
        if oid in desk.staged_cancels:
            return {"staged": True, "order_id": oid, "note": "its cancellation was already staged"}
        desk.staged_cancels.append(oid)
        return {"staged": True, "order_id": oid, "symbol": live.symbol, "side": str(live.side.value),
                "qty_open": live.qty, "note": "cancellation staged: it is sent after your decision"}


def stage_message(desk: TraderDesk, text: str) -> dict[str, Any]:
    """Stage one chat message to the floor for this cycle."""
    if not isinstance(text, str) or not text.strip():
        return error("a chat message needs some text")
    body = " ".join(text.split())
    if len(body) > desk.max_message_chars:
        return error(f"the message has {len(body)} characters; the limit is {desk.max_message_chars}")
    with desk.lock:
        if len(desk.staged_messages) >= desk.max_staged_messages:
            return error(f"you already posted {len(desk.staged_messages)} messages this cycle, the limit is "
                         f"{desk.max_staged_messages}")
        desk.staged_messages.append(body)
        return {"staged": True, "text": body, "note": "the message is posted to the floor's chat after your decision"}
