"""The SQLite schema (documented for sqlite3/Datasette users in docs/ledger-schema.md).

Every table carries `run_id`, `branch_id` and `cycle`, except the run-level `runs` and `symbols`.
Branch ids are global integers, so `branch_id` alone identifies a branch.

Two kinds of tables:
* state (one row per thing, updated in place, per branch): `balances`, `positions`, `accounts`,
  and the open part of `reservations`. Reads are O(1)-ish lookups.
* history (append-only, per branch and cycle): `fills`, `transfers`, `lots`, `releases`, `orders`,
  `traces`, `messages`, `snapshots`, `marks`, `llm_spend`, `memories`, `memory_outcomes`, `lessons`, `fee_changes`.
  `truncate_after` deletes their rows after a cycle and undoes exactly those rows' effect on the state tables.

Tables are created through sqlite-utils. The two hot tables get raw DDL, which sqlite-utils cannot
declare: `fills` is a rowid table whose INTEGER PRIMARY KEY `seq` encodes (branch, cycle, position)
(see `fillkeys.py`), so a fill costs one append to one B-tree; retries are recognised through
`fill_ids`, one row of id ranges per batch (see `fillids.py`), not a per-fill index; `lots` is a WITHOUT ROWID table clustered on
(branch_id, account, symbol, side, start).
"""
from __future__ import annotations

from ledger.background_fills import TABLE_SPEC as BG_FILLS_SPEC
from ledger.dialect import dialect_of
from ledger.packed_history import PACKED_TABLES
from ledger.packed_history import TABLE_SPECS as PACKED_TABLE_SPECS

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
    items TEXT NOT NULL,              -- JSON [[qty...], [price...], sources...] in FIFO order (lots.py)
    PRIMARY KEY (branch_id, account, symbol, side, start)
) WITHOUT ROWID
"""

# The journal's arms: (columns, table, filter). The view unions them (the `fills` rows only: the packed
# bg-vs-bg fills' legs are added by `Ledger.journal`, background_fills.py); `lineage.journal_sql` builds the
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


JOURNAL_VIEW = "CREATE VIEW IF NOT EXISTS journal AS\n" + journal_union()  # the SQLite form


def check_schema(conn) -> None:
    """For a read-only open: the file must already be a ledger of this schema version."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except Exception as exc:  # noqa: BLE001 - sqlite3.OperationalError / psycopg UndefinedTable: no such table
        raise RuntimeError("not a trading-floor run database (it has no ledger tables)") from exc
    if row is None or int(row[0]) != SCHEMA_VERSION:
        raise RuntimeError(f"ledger database has schema version {row and row[0]}, this code needs "
                           f"{SCHEMA_VERSION}; start a new database file")


_SQLITE_TYPES = {int: "INTEGER", str: "TEXT", bytes: "BLOB", float: "REAL"}


def stand_in_missing_tables(conn) -> list[str]:
    """For a read-only SQLite open of a file an older version wrote: each table of this schema the file lacks
    (e.g. the packed `bg_fills`, `traces_packed`, `messages_packed`) is stood in for by an empty TEMP table of
    the same columns, on this connection only (the file is not written), so readers see "no rows" instead of
    failing. Returns the names stood in for. PostgreSQL: nothing (a reader there opens what a writer made)."""
    d = dialect_of(conn)
    if d.name != "sqlite":
        return []
    missing = []
    for name, columns, _pk, _indexes in TABLES:
        if isinstance(columns, str) or d.has_table(conn, name):
            continue
        cols = ", ".join(f"{col} {_SQLITE_TYPES[kind]}" for col, kind in columns.items())
        conn.execute(f"CREATE TEMP TABLE {name} ({cols})")
        missing.append(name)
    return missing


def add_missing_column(conn, table: str, column: str, sql_type: str) -> None:
    """An additive change that keeps SCHEMA_VERSION: a nullable column added to a file made before it.
    NULL in it means what the older code did (for `branches.fee_bps`: the run's `runs.fee_bps`)."""
    d = dialect_of(conn)
    if column not in d.columns(conn, table):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


# The tables sqlite-utils declares (name, columns, primary key, indexes), in creation order; the raw DDL
# above comes in where its name is. On PostgreSQL the same spec becomes BIGINT/identity columns (dialect.py).
TABLES: tuple = (
    ("runs", {"run_id": int, "name": str, "seed": int, "config": str, "meta": str, "fee_bps": int}, "run_id", ()),
    ("branches", {"branch_id": int, "run_id": int, "parent_id": int, "fork_cycle": int, "cycle": int, "name": str,
                  "fee_bps": int}, "branch_id", ()),
    ("symbols", {"run_id": int, "symbol": str}, ("run_id", "symbol"), ()),
    ("accounts", {"run_id": int, "branch_id": int, "cycle": int, "name": str, "theory": str, "kind": str,
                  "initial_cash": int, "initial_holdings": str, "allow_short": int, "short_limit": int,
                  "credit_limit": int}, ("branch_id", "name"), ()),
    ("balances", {"run_id": int, "branch_id": int, "cycle": int, "account": str, "asset": str, "amount": int,
                  "reserved": int}, ("branch_id", "account", "asset"), ()),
    ("positions", {"run_id": int, "branch_id": int, "cycle": int, "account": str, "symbol": str,
                   "cost_basis": int, "realized_pnl": int, "fees": int, "long_opened": int, "long_consumed": int,
                   "short_opened": int, "short_consumed": int}, ("branch_id", "account", "symbol"), ()),
    ("transfers", {"seq": int, "run_id": int, "branch_id": int, "cycle": int, "transfer_id": str,
                   "debit_account": str, "credit_account": str, "asset": str, "amount": int, "price": int,
                   "kind": str}, "seq", ((("branch_id", "transfer_id"), True), (("branch_id", "cycle"), False))),
    ("fills", FILLS_DDL, None, ()),
    ("fill_ids", FILL_IDS_DDL, None, ()),
    ("idx_fill_ids_cycle", "CREATE INDEX IF NOT EXISTS idx_fill_ids_cycle ON fill_ids(branch_id, cycle)", None, ()),
    ("lots", LOTS_DDL, None, ()),
    ("reservations", {"run_id": int, "branch_id": int, "cycle": int, "order_id": str, "account": str, "side": str,
                      "symbol": str, "qty": int, "limit_price": int, "remaining": int}, ("branch_id", "order_id"),
     ((("branch_id", "cycle"), False),)),
    ("idx_reservations_open", "CREATE INDEX IF NOT EXISTS idx_reservations_open ON reservations(branch_id, account) "
     "WHERE remaining > 0", None, ()),
    ("releases", {"seq": int, "run_id": int, "branch_id": int, "cycle": int, "order_id": str, "qty": int}, "seq",
     ((("branch_id", "cycle"), False),)),
    ("orders", {"seq": int, "run_id": int, "branch_id": int, "cycle": int, "tick": int, "order_id": str,
                "account": str, "side": str, "symbol": str, "order_type": str, "qty": int, "limit_price": int,
                "status": str, "reason": str, "detail": str, "payload": str}, "seq",
     ((("branch_id", "cycle"), False), (("branch_id", "order_id"), False))),
    ("traces", {"seq": int, "run_id": int, "branch_id": int, "cycle": int, "agent": str, "node": str, "kind": str,
                "payload": str}, "seq", ((("branch_id", "cycle"), False),)),
    ("messages", {"seq": int, "run_id": int, "branch_id": int, "cycle": int, "round": int, "sender": str,
                  "recipients": str, "text": str, "sentiment": float, "topic": str}, "seq",
     ((("branch_id", "cycle"), False),)),
    ("snapshots", {"run_id": int, "branch_id": int, "cycle": int, "account": str, "cash": int,
                   "holdings_value": int, "value": int}, ("branch_id", "cycle", "account"), ()),
    ("marks", {"run_id": int, "branch_id": int, "cycle": int, "symbol": str, "price": int},
     ("branch_id", "cycle", "symbol"), ()),
    ("llm_spend", {"run_id": int, "branch_id": int, "cycle": int, "trader": str, "kind": str, "mode": str,
                   "reason": str, "calls": int, "cached_calls": int, "input_tokens": int, "output_tokens": int,
                   "cost_micro_usd": int}, ("branch_id", "cycle", "trader", "kind"), ()),  # ledger/llm_spend.py
    # traders' episodic memory (ledger/memory_store.py): the situation seen at a decision, and its outcome,
    # which is a row of its own at the cycle it became known, so a rollback forgets exactly that
    ("memories", {"run_id": int, "branch_id": int, "cycle": int, "trader": str, "symbol": str, "fmt": int,
                  "dim": int, "vec": bytes, "arm": str, "decision": str}, ("branch_id", "cycle", "trader", "symbol"),
     ((("branch_id", "trader"), False),)),
    ("memory_outcomes", {"run_id": int, "branch_id": int, "cycle": int, "trader": str, "symbol": str,
                         "decided_cycle": int, "markout_bp": float, "realized_pnl": int},
     ("branch_id", "cycle", "trader", "symbol", "decided_cycle"), ()),
    # an LLM trader's lessons (its own reflection on its outcomes), with the text's vector and which embedder
    # made it (`openai:<model>` or `lexical`): history rows too, so a rollback forgets them
    ("lessons", {"run_id": int, "branch_id": int, "cycle": int, "trader": str, "text": str, "embedder": str,
                 "fmt": int, "dim": int, "vec": bytes}, ("branch_id", "cycle", "trader"), ()),
    # the fee in force changes from `cycle` on, on this branch (a scenario's fee_change; ledger/fee_schedule.py)
    ("fee_changes", {"run_id": int, "branch_id": int, "cycle": int, "fee_bps": int}, ("branch_id", "cycle"), ()),
    # traces and messages of a cycle in one zlib'd row each (ledger/packed_history.py)
    *PACKED_TABLE_SPECS,
    # background-against-background fills, one packed row per settled batch (ledger/background_fills.py)
    BG_FILLS_SPEC,
)


def create_schema(conn) -> None:
    """Create every table, index and view if missing (idempotent), on SQLite or PostgreSQL; processes
    creating one PostgreSQL schema at once take turns (dialect.py `schema_change`)."""
    d = dialect_of(conn)
    with d.schema_change(conn):
        _create_schema(conn, d)


def _create_schema(conn, d) -> None:
    d.create_table(conn, "meta", {"key": str, "value": str}, "key")
    conn.execute(d.insert_or_ignore("meta", "key, value", "key"), ("schema_version", str(SCHEMA_VERSION)))
    (version,) = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if int(version) != SCHEMA_VERSION:
        raise RuntimeError(f"ledger database has schema version {version}, this code needs {SCHEMA_VERSION}; "
                           "start a new database file")
    for name, columns, pk, indexes in TABLES:
        if isinstance(columns, str):
            conn.execute(d.raw_ddl(columns))
            continue
        d.create_table(conn, name, columns, pk)
        if name == "branches":
            add_missing_column(conn, "branches", "fee_bps", "INTEGER")
        for cols, unique in indexes:
            d.create_index(conn, name, cols, unique=unique)
    conn.execute(d.create_view("journal", journal_union()))


# Tables with per-cycle history rows, and what `truncate_after` simply deletes after undoing effects.
HISTORY_TABLES = ("fill_ids", "transfers", "releases", "orders", "traces", "messages", "snapshots", "marks",
                  "llm_spend", "memories", "memory_outcomes", "lessons", "fee_changes", *PACKED_TABLES, "bg_fills")
ALL_BRANCH_TABLES = ("accounts", "balances", "positions", "transfers", "fills", "fill_ids", "lots", "reservations",
                     "releases", "orders", "traces", "messages", "snapshots", "marks", "llm_spend",
                     "memories", "memory_outcomes", "lessons", "fee_changes", *PACKED_TABLES,
                     "bg_fills")
