"""The ledger's invariants, checked on the stored rows of every run and branch of a database file.

`check_ledger(conn)` reads (never writes) and returns the violations found, each a `Violation` with a
machine-readable `code` (one of `INVARIANTS`), the branch it concerns and a sentence. An empty list means
every invariant holds. These are the property tests' assertions (tests/test_ledger_properties.py) as
checks of stored rows:

* `branches`: every fork's parent exists in the same run, with a fork cycle;
* `double_entry`: every asset sums to zero over all accounts of a branch, `@external` and `@fees` included;
* `accounts`: every balance and position row belongs to an account of its branch;
* `cash_floor`: no account's available cash (`amount - reserved`) is below minus its credit limit (with no
  credit: no negative cash, and no more cash reserved than held);
* `share_floor`: no account's available shares are below its floor: 0, or `-short_limit` when it may short;
* `reserved`: reserved amounts are never negative, and equal what the open reservations hold (a buy:
  `remaining * (limit + fee cap at the branch's fee)`, a sell: `remaining` shares); no reservation has
  `remaining` outside `[0, qty]`;
* `journal`: the journal visible on the branch (its own fills and transfers and its fork ancestors' up to
  the fork cycle, see lineage.py) summed per account and asset equals `balances`;
* `positions`: the FIFO counters, realized PnL, cost basis and fees of `positions` follow from the same
  history (fills carry their FIFO deltas, share deposits open lots), and shares held equal open long lots
  minus open short lots;
* `lots`: each stream's stored chunks are contiguous up to the position's `opened` counter and cover its
  open part exactly (`opened - consumed` shares), no chunk lies past `opened`, each chunk's `qty` is the sum
  of its items, and the open lots' `remaining x price` adds up to the cost basis.

Semantics of branches (branches.py): state tables (accounts, balances, positions, open lots, open
reservations) are per branch, copied at the fork; history rows are not copied, a branch sees its parent's
up to the fork cycle. So a branch's state must equal its own history plus its ancestors' history up to the
fork points.

Cost: one aggregate scan of `fills` and `transfers` per branch (grouped by account and by the fork cycles of
the branches that read it, so a lineage is summed from prefix sums instead of rescanning the ancestors),
one aggregate scan of `lots` keys, and one of the open chunks' items (SQLite's json_each). Measured on a
synthetic file of 10,000 cycles and 6 chained branches (450,000 fills, 713,000 lot chunks, nearly all open):
about 5 s; a run of the default floor has far fewer chunks per cycle. Pure: no printing, no clock.
"""
from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass

from ledger import background_fills, fillkeys
from ledger.lots import decode_items
from ledger.types import CASH, EXTERNAL

INF = 1 << 62

INVARIANTS: dict[str, str] = {
    "branches": "every fork's parent branch exists in its run",
    "double_entry": "every asset sums to zero over all accounts of each branch",
    "accounts": "every balance and position belongs to an account of its branch",
    "cash_floor": "no account has negative available cash (beyond its credit limit)",
    "share_floor": "no account holds shares below its floor (0, or -short_limit when shorting)",
    "reserved": "reserved amounts are non-negative and equal the open reservations",
    "journal": "the journal (fills and transfers on the branch's lineage) sums to the balances",
    "positions": "positions (FIFO counters, realized PnL, cost basis, fees, shares) follow from the history",
    "lots": "stored FIFO lots are contiguous and add up to each position's open quantity and cost",
}


@dataclass(frozen=True, slots=True)
class Violation:
    code: str  # a key of INVARIANTS
    message: str  # a sentence for people
    branch_id: int | None = None


# Per (account, symbol): lo, lc, so, sc, realized, cost, fees — what `positions` stores.
_POS_FIELDS = ("long_opened", "long_consumed", "short_opened", "short_consumed", "realized_pnl", "cost_basis",
               "fees")


@dataclass(frozen=True, slots=True)
class _Branch:
    branch_id: int
    run_id: int
    parent_id: int | None
    fork_cycle: int | None
    fee_bps: int


def check_ledger(conn: sqlite3.Connection) -> list[Violation]:
    """Every invariant of INVARIANTS on every branch of every run; [] when all hold."""
    branches = _read_branches(conn)
    out: list[Violation] = []
    lineages = _lineages(branches, out)
    out += check_double_entry(conn)
    out += check_accounts(conn)
    out += check_floors(conn)
    out += check_reserved(conn, branches)
    out += check_history(conn, branches, lineages)
    out += check_lots(conn)
    return out


# ---- branches and lineage ------------------------------------------------------------------------------

def _read_branches(conn: sqlite3.Connection) -> dict[int, _Branch]:
    cols = {r[1] for r in conn.execute("PRAGMA table_info(branches)")}
    fee = "coalesce(b.fee_bps, r.fee_bps, 0)" if "fee_bps" in cols else "coalesce(r.fee_bps, 0)"
    if {r[1] for r in conn.execute("PRAGMA table_info(fee_changes)")}:  # the fee in force now (fee_schedule.py)
        fee = (f"coalesce((SELECT f.fee_bps FROM fee_changes f WHERE f.branch_id = b.branch_id "
               f"ORDER BY f.cycle DESC LIMIT 1), {fee})")
    return {b: _Branch(b, run, parent, fork, bps) for b, run, parent, fork, bps in conn.execute(
        f"SELECT b.branch_id, b.run_id, b.parent_id, b.fork_cycle, {fee} FROM branches b "
        "LEFT JOIN runs r ON r.run_id = b.run_id ORDER BY b.branch_id")}


def _lineages(branches: dict[int, _Branch], out: list[Violation]) -> dict[int, list[tuple[int, int]]]:
    """[(branch, max cycle), ...] from each branch up to its root, as `lineage.lineage` reads it; a branch
    whose ancestry is broken is reported (code `branches`) and left out."""
    result: dict[int, list[tuple[int, int]]] = {}
    for b in branches.values():
        lin, limit, cur, seen = [], INF, b, set()
        while True:
            lin.append((cur.branch_id, limit))
            seen.add(cur.branch_id)
            if cur.parent_id is None:
                break
            parent = branches.get(cur.parent_id)
            problem = None
            who = "it" if cur is b else f"its ancestor branch {cur.branch_id}"
            if parent is None:
                problem = f"{who} names parent {cur.parent_id}, which does not exist"
            elif parent.run_id != cur.run_id:
                problem = f"{who} (run {cur.run_id}) names parent {parent.branch_id} of run {parent.run_id}"
            elif cur.fork_cycle is None:
                problem = f"{who} has a parent but no fork cycle"
            elif parent.branch_id in seen:
                problem = "its ancestry loops"
            if problem:
                out.append(Violation("branches", f"branch {b.branch_id}: {problem}; its history cannot be read",
                                     b.branch_id))
                lin = None
                break
            limit = min(limit, cur.fork_cycle)
            cur = parent
        if lin is not None:
            result[b.branch_id] = lin
    return result


# ---- state-only checks -----------------------------------------------------------------------------------

def check_double_entry(conn: sqlite3.Connection) -> list[Violation]:
    return [Violation("double_entry", f"branch {b}: {_name(a)} sums to {_amount(total, a, sign=True)} over all accounts, "
                                      "not 0",
                      b)
            for b, a, total in conn.execute(
                "SELECT branch_id, asset, sum(amount) FROM balances GROUP BY branch_id, asset "
                "HAVING sum(amount) != 0 ORDER BY branch_id, asset")]


def check_accounts(conn: sqlite3.Connection) -> list[Violation]:
    out = []
    for table, col in (("balances", "asset"), ("positions", "symbol")):
        for b, acct, what in conn.execute(
                f"SELECT t.branch_id, t.account, t.{col} FROM {table} t LEFT JOIN accounts a "
                f"ON a.branch_id = t.branch_id AND a.name = t.account WHERE a.name IS NULL "
                f"ORDER BY t.branch_id, t.account, t.{col}"):
            out.append(Violation("accounts", f"branch {b}: {table} has a row for {acct!r} ({_name(what)}), "
                                             "an account the branch does not have", b))
    return out


def check_floors(conn: sqlite3.Connection) -> list[Violation]:
    out = []
    for b, acct, amount, reserved, credit in conn.execute(
            "SELECT x.branch_id, x.account, x.amount, x.reserved, a.credit_limit FROM balances x "
            "JOIN accounts a ON a.branch_id = x.branch_id AND a.name = x.account "
            "WHERE x.asset = ? AND a.kind != 'system' AND x.amount - x.reserved < -a.credit_limit "
            "ORDER BY x.branch_id, x.account", (CASH,)):
        if amount < -credit:
            what = f"holds {amount:,} cents of cash" + (f", below its credit limit of {credit:,}" if credit else "")
        else:
            what = (f"holds {amount:,} cents with {reserved:,} reserved for open buy orders: more than it has"
                    + (f" plus its credit limit of {credit:,}" if credit else ""))
        out.append(Violation("cash_floor", f"branch {b}: {acct} {what}", b))
    for b, acct, sym, amount, reserved, allow, limit in conn.execute(
            "SELECT x.branch_id, x.account, x.asset, x.amount, x.reserved, a.allow_short, a.short_limit "
            "FROM balances x JOIN accounts a ON a.branch_id = x.branch_id AND a.name = x.account "
            "WHERE x.asset != ? AND a.kind != 'system' "
            "AND x.amount - x.reserved < CASE WHEN a.allow_short THEN -a.short_limit ELSE 0 END "
            "ORDER BY x.branch_id, x.account, x.asset", (CASH,)):
        floor = -limit if allow else 0
        held = f"holds {amount:,} {sym}" + (f" with {reserved:,} reserved for open sell orders" if reserved else "")
        rule = f"its short limit is {limit:,}" if allow else "it may not sell short"
        out.append(Violation("share_floor", f"branch {b}: {acct} {held}, below its floor of {floor:,} ({rule})", b))
    return out


def check_reserved(conn: sqlite3.Connection, branches: dict[int, _Branch]) -> list[Violation]:
    out = []
    for b, acct, asset, reserved in conn.execute(
            "SELECT branch_id, account, asset, reserved FROM balances WHERE reserved < 0 "
            "ORDER BY branch_id, account, asset"):
        out.append(Violation("reserved", f"branch {b}: {acct} has {_amount(reserved, asset)} reserved "
                                         "(negative)", b))
    for b, oid, qty, rem in conn.execute(
            "SELECT branch_id, order_id, qty, remaining FROM reservations WHERE remaining < 0 OR remaining > qty "
            "ORDER BY branch_id, order_id"):
        out.append(Violation("reserved", f"branch {b}: reservation of order {oid} has {rem:,} remaining of "
                                         f"{qty:,}", b))
    held: dict[tuple[int, str, str], int] = defaultdict(int)
    for b, acct, side, sym, lim, rem in conn.execute(
            "SELECT branch_id, account, side, symbol, limit_price, remaining FROM reservations WHERE remaining > 0"):
        if side == "buy":
            bps = branches[b].fee_bps if b in branches else 0
            held[(b, acct, CASH)] += rem * (lim + (lim * bps + 9999) // 10000 if bps else lim)
        else:
            held[(b, acct, sym)] += rem
    stored = {(b, a, s): r for b, a, s, r in conn.execute(
        "SELECT branch_id, account, asset, reserved FROM balances WHERE reserved != 0")}
    for key in sorted(held.keys() | stored.keys()):
        want, have = held.get(key, 0), stored.get(key, 0)
        if want != have:
            b, acct, asset = key
            out.append(Violation("reserved", f"branch {b}: {acct} has {_amount(have, asset)} reserved, but its "
                                             f"open reservations hold {want:,}", b))
    return out


# ---- history against state -------------------------------------------------------------------------------

def check_history(conn: sqlite3.Connection, branches: dict[int, _Branch],
                  lineages: dict[int, list[tuple[int, int]]]) -> list[Violation]:
    """`journal` and `positions`: each branch's state against the sums of the history on its lineage."""
    cuts: dict[int, set[int]] = defaultdict(set)  # branch -> the cycles its history is read up to
    for lin in lineages.values():
        for b, limit in lin:
            cuts[b].add(limit)
    prefix = {b: _prefix_sums(conn, b, sorted(c)) for b, c in cuts.items()}
    balances: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for b, acct, asset, amount in conn.execute("SELECT branch_id, account, asset, amount FROM balances"):
        balances[b][(acct, asset)] = amount
    positions: dict[int, dict[tuple[str, str], tuple]] = defaultdict(dict)
    for b, acct, sym, *vals in conn.execute(
            f"SELECT branch_id, account, symbol, {', '.join(_POS_FIELDS)} FROM positions"):
        positions[b][(acct, sym)] = tuple(vals)
    kinds = {(b, n): k for b, n, k in conn.execute("SELECT branch_id, name, kind FROM accounts")}
    out: list[Violation] = []
    for b in sorted(lineages):
        money: dict[tuple[str, str], int] = defaultdict(int)
        pos: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(_POS_FIELDS))
        for src, limit in lineages[b]:
            m, p = prefix[src][limit]
            for k, v in m.items():
                money[k] += v
            for k, v in p.items():
                acc = pos[k]
                for i, x in enumerate(v):
                    acc[i] += x
        have = balances.get(b, {})
        for key in sorted(money.keys() | have.keys()):
            want, got = money.get(key, 0), have.get(key, 0)
            if want != got:
                acct, asset = key
                out.append(Violation("journal", f"branch {b}: the journal gives {acct} "
                                                f"{_amount(want, asset)}, the balances table {got:,}", b))
        stored = positions.get(b, {})
        for key in sorted(pos.keys() | stored.keys()):
            want = tuple(pos[key]) if key in pos else (0,) * len(_POS_FIELDS)
            got = stored.get(key, (0,) * len(_POS_FIELDS))
            acct, sym = key
            diffs = [f"{name} {g:,} (history: {w:,})"
                     for name, w, g in zip(_POS_FIELDS, want, got, strict=True) if w != g]
            if diffs:
                out.append(Violation("positions", f"branch {b}: position {acct} {sym} stores "
                                                  + ", ".join(diffs), b))
            if kinds.get((b, acct)) != "system" and key in stored:
                lo, lc, so, sc = got[:4]
                shares = have.get((acct, sym), 0)
                if shares != (lo - lc) - (so - sc):
                    out.append(Violation("positions", f"branch {b}: {acct} holds {shares:,} {sym} but its open "
                                                      f"lots say {lo - lc:,} long and {so - sc:,} short", b))
        for (acct, sym), shares in have.items():
            if sym != CASH and shares and (acct, sym) not in stored and kinds.get((b, acct)) not in ("system", None):
                out.append(Violation("positions", f"branch {b}: {acct} holds {shares:,} {sym} without a position "
                                                  "(no lots)", b))
    return out


def _prefix_sums(conn: sqlite3.Connection, b: int, cuts: list[int]) -> dict[int, tuple[dict, dict]]:
    """For each cycle in `cuts`: (money, positions) summed over branch b's OWN rows with cycle <= it.

    money: {(account, asset): net amount received}; positions: {(account, symbol): [the _POS_FIELDS]}.
    One aggregate scan per table, grouped by the cut interval the row falls in."""
    case = "CASE " + " ".join(f"WHEN cycle <= {c} THEN {i}" for i, c in enumerate(cuts)) + " END"
    n = len(cuts)
    money_b = [defaultdict(int) for _ in range(n)]
    pos_b = [defaultdict(lambda: [0] * len(_POS_FIELDS)) for _ in range(n)]
    lo, hi = fillkeys.branch(b)
    for (i, sym, buyer, seller, notional, qty, bf, sf, cover, close, rb, rs, cb, cs) in conn.execute(
            f"SELECT {case} AS k, symbol, buyer, seller, sum(price * qty), sum(qty), sum(buyer_fee), "
            "sum(seller_fee), sum(buyer_cover), sum(seller_close), sum(buyer_realized), sum(seller_realized), "
            "sum(buyer_cost), sum(seller_cost) FROM fills WHERE seq BETWEEN ? AND ? "
            "GROUP BY k, symbol, buyer, seller", (lo, hi)):
        if i is None:
            continue
        m, p = money_b[i], pos_b[i]
        m[(buyer, CASH)] -= notional + bf
        m[(seller, CASH)] += notional - sf
        if bf or sf:
            m[("@fees", CASH)] += bf + sf
        m[(buyer, sym)] += qty
        m[(seller, sym)] -= qty
        pb, ps = p[(buyer, sym)], p[(seller, sym)]
        pb[0] += qty - cover  # long opened
        pb[3] += cover  # short consumed
        pb[4] += rb
        pb[5] += cb
        pb[6] += bf
        ps[1] += close  # long consumed
        ps[2] += qty - close  # short opened
        ps[4] += rs
        ps[5] += cs
        ps[6] += sf
    # packed bg-vs-bg fills (background_fills.py): the same sums, taken in Python
    for batch in background_fills.batches(conn, b, 0, fillkeys.MAX_CYCLE):
        i = bisect_left(cuts, batch[0][2])
        if i == n:
            continue
        m, p = money_b[i], pos_b[i]
        for (*_, sym, price, qty, buyer, seller, _, _, bf, sf, cover, close, rb, rs, cb, cs) in batch:
            notional = price * qty
            m[(buyer, CASH)] -= notional + bf
            m[(seller, CASH)] += notional - sf
            if bf or sf:
                m[("@fees", CASH)] += bf + sf
            m[(buyer, sym)] += qty
            m[(seller, sym)] -= qty
            pb, ps = p[(buyer, sym)], p[(seller, sym)]
            pb[0] += qty - cover
            pb[3] += cover
            pb[4] += rb
            pb[5] += cb
            pb[6] += bf
            ps[1] += close
            ps[2] += qty - close
            ps[4] += rs
            ps[5] += cs
            ps[6] += sf
    for i, debit, credit, asset, amount, cost in conn.execute(
            f"SELECT {case} AS k, debit_account, credit_account, asset, sum(amount), sum(amount * coalesce(price, 0)) "
            "FROM transfers WHERE branch_id = ? GROUP BY k, debit_account, credit_account, asset", (b,)):
        if i is None:
            continue
        money_b[i][(debit, asset)] -= amount
        money_b[i][(credit, asset)] += amount
        if asset != CASH and debit == EXTERNAL:  # a share deposit opens a long lot at its price
            p = pos_b[i][(credit, asset)]
            p[0] += amount
            p[5] += cost
    out: dict[int, tuple[dict, dict]] = {}
    money: dict = defaultdict(int)
    pos: dict = defaultdict(lambda: [0] * len(_POS_FIELDS))
    for i, c in enumerate(cuts):
        for k, v in money_b[i].items():
            money[k] += v
        for k, v in pos_b[i].items():
            acc = pos[k]
            for j, x in enumerate(v):
                acc[j] += x
        out[c] = (dict(money), {k: tuple(v) for k, v in pos.items()})
    return out


# ---- lots ------------------------------------------------------------------------------------------------

# Each stream's consumed and opened counters, from `positions`, one row per (branch, account, symbol, side).
_STREAMS = ("WITH s(branch_id, account, symbol, side, c, o) AS ("
            "SELECT branch_id, account, symbol, 1, long_consumed, long_opened FROM positions UNION ALL "
            "SELECT branch_id, account, symbol, -1, short_consumed, short_opened FROM positions) ")
_JOIN = "JOIN s ON s.branch_id = l.branch_id AND s.account = l.account AND s.symbol = l.symbol AND s.side = l.side"


def check_lots(conn: sqlite3.Connection) -> list[Violation]:
    """Streams against their counters (chunk keys only), then the items of the open chunks against the cost
    basis. Two aggregate queries and the JSON of the (at most two per stream) chunks cut by a counter."""
    out: list[Violation] = []
    counters: dict[tuple, tuple[int, int]] = {}
    for b, acct, sym, lo, lc, so, sc in conn.execute(
            "SELECT branch_id, account, symbol, long_opened, long_consumed, short_opened, short_consumed "
            "FROM positions"):
        counters[(b, acct, sym, 1)] = (lc, lo)
        counters[(b, acct, sym, -1)] = (sc, so)
    streams = {(b, a, s, side): (n, first, end, total) for b, a, s, side, n, first, end, total in conn.execute(
        "SELECT branch_id, account, symbol, side, count(*), min(start), max(start + qty), sum(qty) FROM lots "
        "GROUP BY branch_id, account, symbol, side")}
    for key in sorted(streams.keys() | {k for k, (c, o) in counters.items() if o > c}):
        out += _check_stream(conn, key, counters.get(key), streams.get(key))
    out += _check_open_chunks(conn, counters)
    return out


def _check_stream(conn: sqlite3.Connection, key: tuple, counter: tuple[int, int] | None,
                  stream: tuple[int, int, int, int] | None) -> list[Violation]:
    b, acct, sym, side = key
    name = f"branch {b}: {acct}'s {'long' if side == 1 else 'short'} {sym} lots"
    if counter is None:
        return [Violation("lots", f"{name} are stored without a position", b)]
    consumed, opened = counter
    if stream is None:
        return [Violation("lots", f"{name}: the position has {opened - consumed:,} open shares (opened "
                                  f"{opened:,}, consumed {consumed:,}) but no lots are stored", b)]
    out = []
    _, first, end, total = stream
    if total != end - first:  # not one contiguous run of chunks: find where (rare, so a second look is fine)
        for start, gap in conn.execute(
                "SELECT start, gap FROM (SELECT start, start - lag(start + qty) OVER (ORDER BY start) AS gap "
                "FROM lots WHERE branch_id = ? AND account = ? AND symbol = ? AND side = ?) WHERE gap != 0 "
                "LIMIT 3", key):
            what = "a gap" if gap > 0 else "an overlap"
            out.append(Violation("lots", f"{name} have {what} of {abs(gap):,} shares before stream position "
                                         f"{start:,}", b))
    if end > opened:
        out.append(Violation("lots", f"{name} reach stream position {end:,}, past the {opened:,} the position "
                                     "has opened", b))
    elif end < opened and opened > consumed:
        out.append(Violation("lots", f"{name} end at stream position {end:,}, short of the {opened:,} the "
                                     f"position has opened: {opened - max(end, consumed):,} open shares have no "
                                     "lot", b))
    if first > consumed and opened > consumed:
        out.append(Violation("lots", f"{name} start at stream position {first:,}, after the {consumed:,} the "
                                     "position has consumed: open shares have no lot", b))
    return out


def _check_open_chunks(conn: sqlite3.Connection, counters: dict[tuple, tuple[int, int]]) -> list[Violation]:
    """The items of the chunks holding open lots: each chunk's `qty` is the sum of its items, and the open
    lots' remaining x price adds up to the position's cost basis (long lots +, short lots -).

    Chunks wholly inside [consumed, opened) are summed per stream in SQL (json_each); the few a counter cuts
    through are read in Python, item by item."""
    out: list[Violation] = []
    cost: dict[tuple[int, str, str], int] = defaultdict(int)
    for b, acct, sym, side, qty, items_qty, value in conn.execute(
            _STREAMS + "SELECT l.branch_id, l.account, l.symbol, l.side, sum(CASE WHEN q.key = 0 THEN l.qty END), "
            "sum(q.value), sum(q.value * (l.items ->> ('$[1][' || q.key || ']'))) FROM lots l " + _JOIN + ", "
            "json_each(l.items, '$[0]') q WHERE l.start >= s.c AND l.start + l.qty <= s.o "
            "GROUP BY l.branch_id, l.account, l.symbol, l.side"):
        if items_qty != qty:
            out.append(Violation("lots", f"branch {b}: {acct}'s open {'long' if side == 1 else 'short'} {sym} lot "
                                         f"chunks say {qty:,} shares, their items {items_qty:,}", b))
        cost[(b, acct, sym)] += side * value
    for b, acct, sym, side, start, qty, items in conn.execute(
            _STREAMS + "SELECT l.branch_id, l.account, l.symbol, l.side, l.start, l.qty, l.items FROM lots l "
            + _JOIN + " WHERE l.start + l.qty > s.c AND l.start < s.o AND (l.start < s.c OR l.start + l.qty > s.o)"):
        consumed, opened = counters[(b, acct, sym, side)]
        try:
            qtys, prices, _sources = decode_items(items)
        except (ValueError, TypeError):
            out.append(Violation("lots", f"branch {b}: {acct}'s {sym} lot chunk at {start:,} has unreadable "
                                         "items", b))
            continue
        if sum(qtys) != qty:
            out.append(Violation("lots", f"branch {b}: {acct}'s {sym} lot chunk at {start:,} says {qty:,} "
                                         f"shares, its items {sum(qtys):,}", b))
        at = start
        for q, p in zip(qtys, prices, strict=False):
            rem = min(at + q, opened) - max(at, consumed)
            if rem > 0:
                cost[(b, acct, sym)] += side * rem * p
            at += q
    for b, acct, sym, stored in conn.execute(
            "SELECT branch_id, account, symbol, cost_basis FROM positions ORDER BY branch_id, account, symbol"):
        want = cost.get((b, acct, sym), 0)
        if want != stored:
            out.append(Violation("lots", f"branch {b}: {acct}'s open {sym} lots are worth {want:,} cents at "
                                         f"cost, the position's cost basis says {stored:,}", b))
    return out


def _name(asset: str) -> str:
    return "cash" if asset == CASH else asset


def _amount(amount: int, asset: str, *, sign: bool = False) -> str:
    text = f"{amount:+,}" if sign else f"{amount:,}"
    return f"{text} cents" if asset == CASH else f"{text} {asset} shares"
