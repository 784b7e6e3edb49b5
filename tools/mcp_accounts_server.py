"""MCP accounts server: balance, holdings, transactions, PnL, and placing or cancelling orders.

Reads call the plain functions of `tools.account_tools` (one implementation, two front doors). Writes
never touch the exchange: `place_order` and `cancel_order` validate exactly as the traders' own tools do
(`tools.action_tools.stage_order` / `stage_cancel` on a `TraderDesk`), then queue the intent in the run
database (`tools.external_orders`). The next cycle merges it into that trader's decision, where it
passes the same `floor.risk.check_decision` as any order; `order_status` shows the outcome.

Whose account: started with `--account NAME`, the server is bound to that trader (like the closure of
the LangChain toolset) and refuses any other; unbound, each call names a floor trader's account.
Background and system accounts are never served.

Results are structured (`tools.mcp_results`: the `outputSchema` and `structuredContent`) and labelled with
the last settled cycle; reads are annotated read-only and idempotent, `place_order` as an additive write,
`cancel_order` as destructive (it removes a resting order). Errors are one sentence naming the argument.

Resources: `accounts://{account}/report` (cash, positions, PnL) and `accounts://{account}/strategy`
(the trader's theory, its description, parameters, mode and risk limits).
"""
from __future__ import annotations

import json
import threading
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import Field

from tools import account_tools, action_tools, external_orders, market_tools
from tools.desk import TraderDesk
from tools.floor_reader import FloorReader, ReaderError
from tools.mcp_conventions import FloorMCP, read_tool, write_tool
from tools.mcp_market_server import answer
from tools.mcp_market_server import settled as market_settled
from tools.mcp_results import Balance, Holdings, OpenOrders, OrderStatus, Pnl, Queued, Transactions
from tools.server_config import HOST_DEFAULT

DEFAULT_PORT = 8802
Account = Annotated[str | None, Field(max_length=64,
                                      description="Trader account; omit when the server is bound to one.")]


def build_accounts_server(db_path: str, *, account: str | None = None, host: str = HOST_DEFAULT,
                          port: int = DEFAULT_PORT) -> FastMCP:
    reader = FloorReader(db_path)
    mcp = FloorMCP("trading-floor-accounts", host=host, port=port, log_level="WARNING",
                  instructions="A Trading Floor trader's account: balances, holdings, PnL, and orders that are "
                               "queued for the next cycle's risk check. Prices are US dollars.")

    def who(name: str | None) -> str:
        try:
            traders = reader.trader_names()
        except ReaderError as exc:
            raise ToolError(str(exc)) from exc
        if account is not None and name not in (None, account):
            raise ToolError(f"this server is bound to account {account!r}; it cannot act for {name!r}")
        chosen = name or account
        if chosen is None:
            raise ToolError(f"name the account: one of {', '.join(traders)}")
        if chosen not in traders:
            raise ToolError(f"{chosen!r} is not a floor trader of this run; traders: {', '.join(traders)}")
        return chosen

    def desk(name: str) -> TraderDesk:
        return TraderDesk(trader=name, exchange=reader.exchange, ledger=reader.ledger, cycle=reader.cycle,
                          lock=threading.Lock(), staged_orders=[], staged_cancels=[], staged_messages=[])

    def settled(fn: Any, drop: tuple[str, ...] = ()) -> dict:
        return market_settled(reader, fn, drop)

    def pnl_all(name: str) -> dict:
        return account_tools.transactions_and_pnl(reader.ledger, name, market_tools.marks(reader.exchange), 20)

    @read_tool(mcp, "Cash balance")
    def balance(account: Account = None) -> Balance:
        """Cash: total, held by open buy orders, and available to spend."""
        name = who(account)
        return settled(lambda: account_tools.cash(reader.ledger, name))

    @read_tool(mcp, "Holdings")
    def holdings(account: Account = None) -> Holdings:
        """Positions with average cost, mark, market value and PnL per symbol; cash and total value."""
        name = who(account)
        return settled(lambda: account_tools.portfolio(reader.ledger, name, market_tools.marks(reader.exchange)))

    @read_tool(mcp, "Transactions")
    def transactions(account: Account = None,
                     limit: Annotated[int, Field(ge=1, le=account_tools.MAX_ROWS)] = 20) -> Transactions:
        """The account's latest fills (side, qty, price, fee, realized PnL), newest first."""
        name = who(account)

        def read() -> dict:
            out = account_tools.transactions_and_pnl(reader.ledger, name, market_tools.marks(reader.exchange), limit)
            if "error" in out:
                return out
            return {"account": name, "count": len(out["recent_fills"]), "fills": out["recent_fills"]}
        return settled(read)

    @read_tool(mcp, "Profit and loss")
    def pnl(account: Account = None) -> Pnl:
        """Realized and unrealized PnL, fees, and the return against the starting endowment."""
        name = who(account)
        return settled(lambda: pnl_all(name), drop=("recent_fills",))

    @read_tool(mcp, "Open orders")
    def open_orders(account: Account = None) -> OpenOrders:
        """The account's live orders at the end of the last settled cycle, with ids for cancel_order."""
        name = who(account)
        return settled(lambda: account_tools.open_orders(reader.exchange, name))

    @write_tool(mcp, "Place an order", destructive=False, idempotent=False)
    def place_order(symbol: Annotated[str, Field(min_length=1, max_length=12)],
                    side: Literal["buy", "sell"],
                    qty: Annotated[int, Field(gt=0, description="Whole shares.")],
                    order_type: Literal["limit", "market", "stop", "stop_limit"] = "limit",
                    limit_price: Annotated[float | None, Field(gt=0, description="US dollars, 2 decimals.")] = None,
                    stop_price: Annotated[float | None, Field(gt=0, description="US dollars, 2 decimals.")] = None,
                    tif: Literal["day", "gtc", "ioc", "fok"] = "day",
                    account: Account = None) -> Queued:
        """Queue an order for the next cycle. It passes the trader's risk checks there before reaching the
        exchange; see order_status for the outcome. Each call queues one more order."""
        name = who(account)

        def run() -> dict:
            d = desk(name)
            staged = action_tools.stage_order(d, symbol, side, qty, order_type, limit_price, stop_price, tif)
            if "error" in staged:
                return staged
            intent = external_orders.submit_order(reader.queue_conn, reader.run_id, name, d.staged_orders[0])
            out = {"queued": True, "intent_id": intent, "account": name, "order": staged["order"],
                   "note": "queued: the next cycle runs it through the risk check; see order_status"}
            return out | ({"ignored": staged["ignored"]} if "ignored" in staged else {})
        return settled(_queue_errors(run))

    @write_tool(mcp, "Cancel an order", destructive=True, idempotent=False)
    def cancel_order(order_id: Annotated[str, Field(min_length=1, max_length=64)], account: Account = None) -> Queued:
        """Queue the cancellation of one of the account's open orders for the next cycle."""
        name = who(account)

        def run() -> dict:
            if reader.exchange.order(order_id.strip()) is None:
                return {"error": f"there is no open order with id {order_id.strip()!r} in account {name}; "
                                 "see open_orders for its live orders"}
            staged = action_tools.stage_cancel(desk(name), order_id)
            if "error" in staged:
                return staged
            intent = external_orders.submit_cancel(reader.queue_conn, reader.run_id, name, order_id.strip())
            return {"queued": True, "intent_id": intent, "account": name, "order_id": order_id.strip(),
                    "note": "queued: the next cycle sends the cancellation; see order_status"}
        return settled(_queue_errors(run))

    @read_tool(mcp, "Order status")
    def order_status(account: Account = None, limit: Annotated[int, Field(ge=1, le=50)] = 10) -> OrderStatus:
        """The account's queued intents, newest first: pending, taken, accepted or rejected (with the reason)."""
        name = who(account)
        return settled(lambda: {"account": name, "intents": external_orders.intents(
            reader.queue_conn, reader.run_id, name, limit)})

    @mcp.resource("accounts://{account}/report", mime_type="application/json")
    def report(account: str) -> str:
        """Account report: cash, positions and PnL at the last settled cycle."""
        name = who(account)

        def read() -> dict:
            marks = market_tools.marks(reader.exchange)
            return {"cycle": reader.cycle, "cash": account_tools.cash(reader.ledger, name),
                    "portfolio": account_tools.portfolio(reader.ledger, name, marks),
                    "pnl": {k: v for k, v in pnl_all(name).items() if k != "recent_fills"}}
        return json.dumps(answer(reader, read))

    @mcp.resource("accounts://{account}/strategy", mime_type="application/json")
    def strategy(account: str) -> str:
        """The trader's strategy: theory, its description, parameters, mode and risk limits."""
        name = who(account)
        from traders.registry import describe

        cfg = reader.config().trader(name)
        return json.dumps({"account": name, "theory": cfg.theory, "description": describe(cfg.theory),
                           "mode": cfg.mode, "params": cfg.params, "risk": cfg.risk.model_dump(mode="json")})

    mcp.reader = reader  # type: ignore[attr-defined]
    return mcp


def _queue_errors(fn: Any) -> Any:
    def run() -> Any:
        try:
            return fn()
        except ValueError as exc:  # the queue's own limit (too many pending intents)
            return {"error": str(exc)}
    return run


def main(argv: list[str] | None = None) -> None:
    from tools.server_args import parse_server_args
    from tools.server_config import run_mcp

    args = parse_server_args("accounts", DEFAULT_PORT, argv, account=True)
    try:
        server = build_accounts_server(args.db, account=args.account, host=args.host, port=args.port)
    except ReaderError as exc:
        raise SystemExit(f"error: {exc}") from None
    run_mcp(server, args.transport, args.host, args.port)


if __name__ == "__main__":
    main()
