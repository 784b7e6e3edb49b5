"""The MCP servers' result types: each tool's `outputSchema`, and the `structuredContent` it returns.

FastMCP turns a tool's return annotation into its output schema and validates every result against it,
so these models are the contract an MCP client (or an agent framework reading structured results) sees.
They mirror the dicts of `tools.market_tools` and `tools.account_tools`: dollars rounded to cents, with
the integer cents beside them where exactness matters. `extra="forbid"` makes the schemas closed
(`additionalProperties: false`): a key the tools start returning without a schema change fails the
tests instead of slipping through unannounced.

Cycle convention: every cycle a server reports is the last settled cycle (`cycle`), the one whose end
state (books, ledger) the answer shows.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Dollars = float | None
Cents = int | None


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----- market ---------------------------------------------------------------------------------------
class Quote(Result):
    symbol: str
    bid: Dollars
    bid_cents: Cents
    bid_size: int
    ask: Dollars
    ask_cents: Cents
    ask_size: int
    mid: Dollars = Field(description="Dollars, 3 decimals (a half-cent mid keeps it).")
    last: Dollars
    last_cents: Cents
    spread: float | None = None
    spread_bps: float | None = None
    note: str | None = Field(None, description="Set when one side of the book is empty.")
    cycle: int = Field(description="The last settled cycle: the quote is the book at its end.")


class Level(Result):
    price: float
    price_cents: int
    qty: int
    orders: int


class Depth(Result):
    symbol: str
    bids: list[Level]
    asks: list[Level]
    cycle: int = Field(description="The last settled cycle.")


class Bars(Result):
    symbol: str
    columns: list[str]
    bars: list[list[float | int | None]] = Field(description="One row per completed cycle, in `columns` order.")
    change_pct: float | None = None
    note: str | None = None
    cycle: int = Field(description="The last settled cycle (the newest bar's cycle at most).")


class Trade(Result):
    cycle: int
    tick: int
    symbol: str
    price: float
    price_cents: int
    qty: int
    aggressor: str
    you: Literal["bought", "sold"] | None = None


class Trades(Result):
    symbol: str
    count: int
    trades: list[Trade]
    cycle: int = Field(description="The last settled cycle.")


class ScenarioEvent(Result):
    cycle: int
    tick: int = Field(description="The tick of its cycle it happened at.")
    kind: str = Field(description="news, rumour, halt, resume, breaker, drought, drought_end, flash_crash.")
    symbol: str | None = Field(description="The symbol it concerns; null: the whole market.")
    headline: str = Field(description="What people and traders read: news, never an instruction.")
    source: str | None = Field(None, description="A rumour's source.")


class ScenarioEvents(Result):
    count: int
    events: list[ScenarioEvent] = Field(description="Oldest first.")
    halted: list[str] = Field(description="Symbols whose trading is halted now: orders in them are refused.")
    cycle: int = Field(description="The last settled cycle.")


class Component(Result):
    symbol: str
    shares_per_unit: int
    price: Dollars


class EtfRow(Result):
    symbol: str
    units: int
    components: list[Component]
    bid: Dollars
    bid_cents: Cents
    ask: Dollars
    ask_cents: Cents
    price: Dollars
    nav: Dollars
    premium: float | None = None
    premium_bps: float | None = None
    buy_etf_edge: float | None = None
    sell_etf_edge: float | None = None
    note: str | None = None


class EtfNav(Result):
    etfs: list[EtfRow]
    cycle: int = Field(description="The last settled cycle.")


# ----- accounts ---------------------------------------------------------------------------------------
class Balance(Result):
    account: str
    cash: float
    cash_cents: int
    reserved: float
    reserved_cents: int
    available: float
    available_cents: int
    cycle: int = Field(description="The last settled cycle.")


class Position(Result):
    symbol: str
    qty: int
    reserved_for_sells: int
    avg_cost: Dollars
    mark: Dollars
    mark_cents: Cents
    market_value: Dollars
    unrealized_pnl: Dollars
    realized_pnl: Dollars


class Holdings(Result):
    account: str
    holdings: dict[str, int]
    positions: list[Position]
    cash: float
    cash_cents: int
    available_cash: float
    available_cash_cents: int
    total_value: float
    total_value_cents: int
    cycle: int = Field(description="The last settled cycle.")


class Fill(Result):
    cycle: int
    tick: int
    symbol: str
    side: Literal["buy", "sell"]
    qty: int
    price: float
    price_cents: int
    fee: Dollars
    realized_pnl: Dollars


class Transactions(Result):
    account: str
    count: int
    fills: list[Fill]
    cycle: int = Field(description="The last settled cycle.")


class Pnl(Result):
    account: str
    realized_pnl: float
    realized_pnl_cents: int
    unrealized_pnl: float
    unrealized_pnl_cents: int
    fees_paid: float
    fees_paid_cents: int
    initial_value: Dollars
    current_value: Dollars
    return_pct: float
    cycle: int = Field(description="The last settled cycle.")


class OpenOrder(Result):
    order_id: str
    symbol: str
    side: str
    order_type: str
    qty_open: int
    qty_filled: int
    limit_price: Dollars
    limit_price_cents: Cents
    stop_price: Dollars
    stop_price_cents: Cents
    tif: str
    triggered: bool


class OpenOrders(Result):
    account: str
    count: int
    orders: list[OpenOrder]
    cycle: int = Field(description="The last settled cycle: the orders resting at its end.")


class OrderView(Result):
    symbol: str
    side: str
    qty: int
    order_type: str
    limit_price: Dollars
    limit_price_cents: Cents
    stop_price: Dollars
    stop_price_cents: Cents
    tif: str


class Queued(Result):
    queued: bool
    intent_id: int
    account: str
    order: OrderView | None = None
    order_id: str | None = None
    ignored: str | None = None
    note: str
    cycle: int = Field(description="The last settled cycle; the intent is taken by the next one.")


class IntentRow(Result):
    intent_id: int
    trader: str
    kind: Literal["order", "cancel"]
    payload: dict[str, Any]
    status: str
    taken_cycle: int | None
    taken_branch: int | None
    reason: str | None
    message: str | None


class OrderStatus(Result):
    account: str
    intents: list[IntentRow]
    cycle: int = Field(description="The last settled cycle.")


# ----- push -------------------------------------------------------------------------------------------
class PushStatus(Result):
    sink: str
    kinds: list[str]
    min_move_bps: float
    events_seen: int
    events_sent: int
    delivered: int
    dropped: int
    failures: int
    last_event_id: str | None


class Notifications(Result):
    count: int
    notifications: list[dict[str, Any]]


class Notice(Result):
    id: str
    kind: Literal["system"]
    event: Literal["notice"]
    text: str
