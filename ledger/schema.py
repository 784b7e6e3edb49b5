"""The SQLite schema (documented for sqlite3/Datasette users in docs/ledger-schema.md).

Every table carries `run_id`, `branch_id` and `cycle`, except the run-level `runs` and `symbols`.
Branch ids are global integers, so `branch_id` alone identifies a branch.

Two kinds of tables:
* state (one row per thing, updated in place, per branch): `balances`, `positions`, `accounts`,
  and the open part of `reservations`. Reads are O(1)-ish lookups.
* history (append-only, per branch and cycle): `fills`, `transfers`, `lots`, `releases`, `orders`,
  `traces`, `messages`, `snapshots`, `marks`. `truncate_after` deletes their rows after a cycle and
  undoes exactly those rows' effect on the state tables.

Tables are created through sqlite-utils. The two hot tables get raw DDL, which sqlite-utils cannot
declare: `fills` is a rowid table whose INTEGER PRIMARY KEY `seq` encodes (branch, cycle, position)
(see `fillkeys.py`), so a fill costs one append to one B-tree; retries are recognised through
`fill_ids`, one row of id ranges per batch (see `fillids.py`), not a per-fill index; `lots` is a WITHOUT ROWID table clustered on
(branch_id, account, symbol, side, start).
"""
from __future__ import annotations

from sqlite_utils import Database

# Bumped when a file of the older layout cannot be read correctly by this code (create_schema then refuses
# the file). A nullable column whose NULL means the older behaviour is added in place instead
# (`add_missing_column`), without a bump: `branches.fee_bps` (NULL: the run's fee).
SCHEMA_VERSION = 2

FILLS_DDL = """
CREATE TABLE IF NOT EXISTS fills (
    run_id INTEGER NOT NULL, branch_id INTEGER NOT NULL, cycle INTEGER NOT NULL,
    seq INTEGER PRIMARY KEY,          -- branch_id * 2^44 + cycle * 2^20 + position in the cycle (fillkeys.py)
    tick INTEGER NOT NULL, fill_id TEXT NOT NULL, symbol TEXT NOT NULL,
    price INTEGER NOT NULL, qty INTEGER NOT NULL, buyer TEXT NOT NULL, seller TEXT NOT NULL,
    buy_order_id TEXT NOT NULL, sell_order_id TEXT NOT NULL,
    buyer_fee INTEGER NOT NULL, seller_fee INTEGER NOT NULL,
    buyer_cover INTEGER NOT NULL,     -- shares of the buyer's short lots this fill covered (FIFO)
    seller_close INTEGER NOT NULL,    -- shares of the seller's long lots this fill closed (FIFO)
    buyer_realized INTEGER NOT NULL, seller_realized INTEGER NOT NULL,
    buyer_cost INTEGER NOT NULL, seller_cost INTEGER NOT NULL   -- change of each side's cost basis
)
"""

FILL_IDS_DDL = """
CREATE TABLE IF NOT EXISTS fill_ids (
    run_id INTEGER NOT NULL, branch_id INTEGER NOT NULL, cycle INTEGER NOT NULL,
    prefix TEXT NOT NULL,             -- fill id = prefix || number; ids without a numeric tail: the whole id
    lo INTEGER NOT NULL, hi INTEGER NOT NULL,  -- smallest and largest number of the batch's ids (-1: none)
    PRIMARY KEY (branch_id, prefix, hi, lo, cycle)
) WITHOUT ROWID
"""

LOTS_DDL = """
CREATE TABLE IF NOT EXISTS lots (
    run_id INTEGER NOT NULL, branch_id INTEGER NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL,
    side INTEGER NOT NULL,            -- +1 long lots (bought), -1 short lots (sold short)
    start INTEGER NOT NULL,           -- shares opened on this (account, symbol, side) before this chunk
    qty INTEGER NOT NULL,             -- shares in this chunk (sum of its items)
    cycle INTEGER NOT NULL,
    items TEXT NOT NULL,              -- JSON [[qty...], [price...], [source...]] in FIFO order (lots.py)
    PRIMARY KEY (branch_id, account, symbol, side, start)
) WITHOUT ROWID
"""

# The journal's arms: (columns, table, filter). The view unions them; `lineage.journal_sql` builds the
# same union with each arm restricted by the key of its own table (fills: `seq` ranges).
JOURNAL_ARMS = (
    ("run_id, branch_id, cycle, transfer_id, debit_account, credit_account, asset, amount, kind", "transfers", ""),
    ("run_id, branch_id, cycle, fill_id || ':cash', buyer, seller, '$', price * qty, 'fill'", "fills", ""),
    ("run_id, branch_id, cycle, fill_id || ':shares', seller, buyer, symbol, qty, 'fill'", "fills", ""),
    ("run_id, branch_id, cycle, fill_id || ':fee:buyer', buyer, '@fees', '$', buyer_fee, 'fee'", "fills",
     "buyer_fee > 0"),
    ("run_id, branch_id, cycle, fill_id || ':fee:seller', seller, '@fees', '$', seller_fee, 'fee'", "fills",
     "seller_fee > 0"),
)


def journal_union(conds: dict[str, str] | None = None) -> str:
    """UNION ALL of the journal arms, each filtered by its own condition and `conds[table]` if given."""
    arms = []
    for cols, table, cond in JOURNAL_ARMS:
        where = [c for c in (cond, (conds or {}).get(table, "")) if c]
        arms.append(f"SELECT {cols} FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else ""))
    return "\nUNION ALL\n".join(arms)


JOURNAL_VIEW = "CREATE VIEW IF NOT EXISTS journal AS\n" + journal_union()


def check_schema(conn) -> None:
    """For a read-only open: the file must already be a ledger of this schema version."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except Exception as exc:  # noqa: BLE001 - sqlite3.OperationalError: no such table
        raise RuntimeError("not a trading-floor run database (it has no ledger tables)") from exc
    if row is None or int(row[0]) != SCHEMA_VERSION:
        raise RuntimeError(f"ledger database has schema version {row and row[0]}, this code needs "
                           f"{SCHEMA_VERSION}; start a new database file")


def add_missing_column(db: Database, table: str, column: str, sql_type: str) -> None:
    """An additive change that keeps SCHEMA_VERSION: a nullable column added to a file made before it.
    NULL in it means what the older code did (for `branches.fee_bps`: the run's `runs.fee_bps`)."""
    if column not in {c.name for c in db[table].columns}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


def create_schema(db: Database) -> None:
    """Create every table, index and view if missing (idempotent)."""
    t = db.table
    t("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    (version,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if int(version) != SCHEMA_VERSION:
        raise RuntimeError(f"ledger database has schema version {version}, this code needs {SCHEMA_VERSION}; "
                           "start a new database file")
    t("runs").create({"run_id": int, "name": str, "seed": int, "config": str, "meta": str,
                      "fee_bps": int}, pk="run_id", if_not_exists=True)
    t("branches").create({"branch_id": int, "run_id": int, "parent_id": int, "fork_cycle": int,
                          "cycle": int, "name": str, "fee_bps": int}, pk="branch_id", if_not_exists=True)
    add_missing_column(db, "branches", "fee_bps", "INTEGER")
    t("symbols").create({"run_id": int, "symbol": str}, pk=("run_id", "symbol"), if_not_exists=True)
    t("accounts").create({"run_id": int, "branch_id": int, "cycle": int, "name": str, "theory": str,
                          "kind": str, "initial_cash": int, "initial_holdings": str,
                          "allow_short": int, "short_limit": int, "credit_limit": int},
                         pk=("branch_id", "name"), if_not_exists=True)
    t("balances").create({"run_id": int, "branch_id": int, "cycle": int, "account": str, "asset": str,
                          "amount": int, "reserved": int},
                         pk=("branch_id", "account", "asset"), if_not_exists=True)
    t("positions").create({"run_id": int, "branch_id": int, "cycle": int, "account": str, "symbol": str,
                           "cost_basis": int, "realized_pnl": int, "fees": int,
                           "long_opened": int, "long_consumed": int,
                           "short_opened": int, "short_consumed": int},
                          pk=("branch_id", "account", "symbol"), if_not_exists=True)
    t("transfers").create({"seq": int, "run_id": int, "branch_id": int, "cycle": int, "transfer_id": str,
                           "debit_account": str, "credit_account": str, "asset": str, "amount": int,
                           "price": int, "kind": str}, pk="seq", if_not_exists=True)
    t("transfers").create_index(["branch_id", "transfer_id"], unique=True, if_not_exists=True)
    t("transfers").create_index(["branch_id", "cycle"], if_not_exists=True)
    db.execute(FILLS_DDL)
    db.execute(FILL_IDS_DDL)
    db.execute("CREATE INDEX IF NOT EXISTS idx_fill_ids_cycle ON fill_ids(branch_id, cycle)")
    db.execute(LOTS_DDL)
    t("reservations").create({"run_id": int, "branch_id": int, "cycle": int, "order_id": str,
                              "account": str, "side": str, "symbol": str, "qty": int,
                              "limit_price": int, "remaining": int},
                             pk=("branch_id", "order_id"), if_not_exists=True)
    t("reservations").create_index(["branch_id", "cycle"], if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS idx_reservations_open ON reservations(branch_id, account) "
               "WHERE remaining > 0")
    t("releases").create({"seq": int, "run_id": int, "branch_id": int, "cycle": int, "order_id": str,
                          "qty": int}, pk="seq", if_not_exists=True)
    t("releases").create_index(["branch_id", "cycle"], if_not_exists=True)
    t("orders").create({"seq": int, "run_id": int, "branch_id": int, "cycle": int, "tick": int,
                        "order_id": str, "account": str, "side": str, "symbol": str, "order_type": str,
                        "qty": int, "limit_price": int, "status": str, "reason": str, "detail": str,
                        "payload": str}, pk="seq", if_not_exists=True)
    t("orders").create_index(["branch_id", "cycle"], if_not_exists=True)
    t("orders").create_index(["branch_id", "order_id"], if_not_exists=True)
    t("traces").create({"seq": int, "run_id": int, "branch_id": int, "cycle": int, "agent": str,
                        "node": str, "kind": str, "payload": str}, pk="seq", if_not_exists=True)
    t("traces").create_index(["branch_id", "cycle"], if_not_exists=True)
    t("messages").create({"seq": int, "run_id": int, "branch_id": int, "cycle": int, "round": int,
                          "sender": str, "recipients": str, "text": str, "sentiment": float,
                          "topic": str}, pk="seq", if_not_exists=True)
    t("messages").create_index(["branch_id", "cycle"], if_not_exists=True)
    t("snapshots").create({"run_id": int, "branch_id": int, "cycle": int, "account": str, "cash": int,
                           "holdings_value": int, "value": int},
                          pk=("branch_id", "cycle", "account"), if_not_exists=True)
    t("marks").create({"run_id": int, "branch_id": int, "cycle": int, "symbol": str, "price": int},
                      pk=("branch_id", "cycle", "symbol"), if_not_exists=True)
    db.execute(JOURNAL_VIEW)


# Tables with per-cycle history rows, and what `truncate_after` simply deletes after undoing effects.
HISTORY_TABLES = ("fill_ids", "transfers", "releases", "orders", "traces", "messages", "snapshots", "marks")
ALL_BRANCH_TABLES = ("accounts", "balances", "positions", "transfers", "fills", "fill_ids", "lots", "reservations",
                     "releases", "orders", "traces", "messages", "snapshots", "marks")
