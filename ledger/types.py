"""Value types the ledger takes in and hands out. Plain frozen dataclasses; integers for money.

`Fill` is the ledger's own input type (it does not import `market/`): the caller maps the exchange's
TradeExecuted events onto it, with account names for buyer and seller.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from ledger.errors import Rejection

CASH = "$"  # the asset name of cash in balances, transfers and the journal view
EXTERNAL = "@external"  # the world outside the floor: source of endowments and deposits
FEES = "@fees"  # collects trading fees
SYSTEM_ACCOUNTS = (EXTERNAL, FEES)


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    cycle: int
    tick: int
    symbol: str
    price: int  # cents per share
    qty: int  # shares
    buyer: str  # account name
    seller: str
    buy_order_id: str = ""
    sell_order_id: str = ""

    def key(self) -> tuple:
        """Content compared for idempotency (everything that affects the ledger)."""
        return fill_row(self)


FILL_FIELDS = ("fill_id", "cycle", "tick", "symbol", "price", "qty", "buyer", "seller", "buy_order_id",
               "sell_order_id")
# A Fill as the plain tuple settlement works on (== fill.key(), in one C call): see `Ledger.settle_rows`.
fill_row = attrgetter(*FILL_FIELDS)


@dataclass(frozen=True, slots=True)
class SettleResult:
    """Outcome of `Ledger.settle`: how many fills were applied, how many were exact retries.

    When `rejection` is set, nothing of the batch was written.
    """

    settled: int
    duplicates: int = 0
    rejection: Rejection | None = None

    @property
    def ok(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: int
    branch_id: int


@dataclass(frozen=True, slots=True)
class RunView:
    run_id: int
    name: str | None
    seed: int
    config: dict
    meta: dict


@dataclass(frozen=True, slots=True)
class BranchView:
    branch_id: int
    run_id: int
    parent_id: int | None
    fork_cycle: int | None
    name: str | None


@dataclass(frozen=True, slots=True)
class AccountView:
    name: str
    theory: str
    kind: str
    cash: int
    reserved_cash: int
    holdings: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PositionView:
    account: str
    symbol: str
    qty: int  # negative when short
    reserved: int  # shares reserved for open sell orders
    cost_basis: int  # signed: sum over open lots of remaining * price (negative for short lots)
    avg_cost: float | None  # |cost_basis| / |qty|, None when flat
    realized_pnl: int  # FIFO, before fees
    fees: int  # fees paid on this symbol
    mark: int | None
    market_value: int | None
    unrealized_pnl: int | None  # qty * mark - cost_basis


@dataclass(frozen=True, slots=True)
class Lot:
    account: str
    symbol: str
    side: int  # +1 long lot, -1 short lot
    cycle: int
    qty: int  # remaining
    price: int
    source: str


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One leg-pair of the double-entry journal: `amount` of `asset` leaves `debit`, enters `credit`."""

    transfer_id: str
    cycle: int
    debit: str
    credit: str
    asset: str
    amount: int
    kind: str
