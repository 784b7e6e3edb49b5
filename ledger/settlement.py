"""Settlement of one cycle's fills: the hot path.

Validation that needs no state runs first; then the fills are applied to the in-memory mirror
(balances, reservations, FIFO lots) while the rows are built as tuples; then two executemany calls
(fills, new lots) and one flush of the touched state rows. The caller wraps it all in one
transaction. Any rejection discovered while applying (cash, short limit, overfill) raises
`BatchRejected`; the caller rolls the transaction back and reloads the mirror, so nothing is written.

A fill row carries its own double-entry legs (cash buyer->seller, shares seller->buyer, fees to
@fees; see the `journal` view) and the FIFO deltas of both sides (shares covered/closed, realized
PnL, cost-basis change), which is what makes `truncate_after` an exact O(rows removed) undo.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ledger.errors import RejectCode, Rejection
from ledger.lineage import lineage
from ledger.lots import CHUNK_INSERT, chunk_row
from ledger.state import BranchState, Pos, fee_for
from ledger.types import FEES, Fill, SettleResult

FILL_INSERT = "INSERT INTO fills VALUES (" + ",".join("?" * 21) + ")"
CHUNK = 500


class BatchRejected(Exception):
    def __init__(self, rejection: Rejection):
        super().__init__(str(rejection))
        self.rejection = rejection


def _reject(code: RejectCode, message: str) -> BatchRejected:
    return BatchRejected(Rejection(code, message))


def existing_fills(conn: sqlite3.Connection, branch_id: int, ids: list[str]) -> dict[str, tuple]:
    """Stored content (Fill.key order) of the given fill ids visible on the branch's lineage."""
    found: dict[str, tuple] = {}
    for b, max_cycle in lineage(conn, branch_id):
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            q = ("SELECT fill_id, cycle, tick, symbol, price, qty, buyer, seller, buy_order_id, sell_order_id "
                 f"FROM fills INDEXED BY idx_fills_id WHERE branch_id=? AND fill_id IN ({','.join('?' * len(chunk))})")
            for row in conn.execute(q, [b, *chunk]):
                if row[1] <= max_cycle:
                    found.setdefault(row[0], tuple(row))
    return found


def _validate(st: BranchState, cycle: int, fills: Sequence[Fill]) -> list[Fill]:
    """Stateless checks and in-batch duplicates; returns the fills in order, each id once."""
    accounts, symbols = st.accounts, st.symbols
    seen: dict[str, Fill] = {}
    out: list[Fill] = []
    for f in fills:
        if f.cycle != cycle:
            raise _reject(RejectCode.CYCLE_MISMATCH, f"fill {f.fill_id} is for cycle {f.cycle}, not {cycle}")
        if f.qty <= 0:
            raise _reject(RejectCode.NON_POSITIVE_QTY, f"fill {f.fill_id} has quantity {f.qty}")
        if f.price <= 0:
            raise _reject(RejectCode.NON_POSITIVE_PRICE, f"fill {f.fill_id} has price {f.price}")
        if f.buyer not in accounts or f.seller not in accounts:
            who = f.buyer if f.buyer not in accounts else f.seller
            raise _reject(RejectCode.UNKNOWN_ACCOUNT, f"fill {f.fill_id} names unknown account {who!r}")
        if f.buyer == f.seller:
            raise _reject(RejectCode.SELF_TRADE, f"fill {f.fill_id} has {f.buyer!r} on both sides")
        if f.symbol not in symbols:
            raise _reject(RejectCode.UNKNOWN_SYMBOL, f"fill {f.fill_id} is in unknown symbol {f.symbol!r}")
        prev = seen.get(f.fill_id)
        if prev is not None:
            if prev.key() != f.key():
                raise _reject(RejectCode.DUPLICATE_ID_CONFLICT,
                              f"fill id {f.fill_id} appears twice in the batch with different content")
            continue
        seen[f.fill_id] = f
        out.append(f)
    return out


def prepare(conn: sqlite3.Connection, st: BranchState, cycle: int,
            fills: Sequence[Fill]) -> tuple[list[Fill], int]:
    """Validate a batch without touching state: (new fills to apply, number of exact retries)."""
    if st.fork_cycle is not None and cycle <= st.fork_cycle:
        raise _reject(RejectCode.INHERITED_PAST,
                      f"branch {st.branch_id} was forked at cycle {st.fork_cycle}; cycle {cycle} is inherited")
    uniq = _validate(st, cycle, fills)
    stored = existing_fills(conn, st.branch_id, [f.fill_id for f in uniq])
    new: list[Fill] = []
    for f in uniq:
        old = stored.get(f.fill_id)
        if old is None:
            new.append(f)
        elif old != f.key():
            raise _reject(RejectCode.DUPLICATE_ID_CONFLICT,
                          f"fill id {f.fill_id} was already settled with different content")
    if new and st.last_fill_cycle is not None and cycle < st.last_fill_cycle:
        raise _reject(RejectCode.CYCLE_MISMATCH,
                      f"cycle {cycle} is before the last settled cycle {st.last_fill_cycle}; truncate first")
    return new, len(fills) - len(new)


def apply(conn: sqlite3.Connection, st: BranchState, cycle: int, fills: list[Fill]) -> None:
    """Apply validated new fills to the mirror and write their rows (inside the caller's transaction)."""
    run_id, br, bps = st.run_id, st.branch_id, st.fee_bps
    cash, rcash, shares, rshares, pos, res = st.cash, st.rcash, st.shares, st.rshares, st.pos, st.res
    credit = {n: a.credit_limit for n, a in st.accounts.items()}
    short_floor = {n: (-a.short_limit if a.allow_short else 0) for n, a in st.accounts.items()}
    dcash, dshares, dpos, dres = st.dirty_cash, st.dirty_shares, st.dirty_pos, st.dirty_res
    fill_rows: list[tuple] = []
    chunks: dict[tuple[str, str, int], tuple[int, list]] = {}  # stream -> (start, [[qty, price, source]])
    seq = st.next_seq
    fees_total = 0
    for f in fills:
        p, q, b, s, sym = f.price, f.qty, f.buyer, f.seller, f.symbol
        n = p * q
        bf = sf = (n * bps + 9999) // 10000 if bps else 0
        bkey, skey = (b, sym), (s, sym)
        # --- buyer: reservation, cash, shares
        oid = f.buy_order_id
        r = res.get(oid) if oid else None
        if r is not None:
            if r.side != "buy" or r.account != b or r.symbol != sym:
                raise _reject(RejectCode.UNKNOWN_ORDER, f"fill {f.fill_id}: order {oid} is not {b}'s buy of {sym}")
            if q > r.remaining:
                raise _reject(RejectCode.OVERFILL, f"fill {f.fill_id}: {q} shares exceed order {oid}'s "
                                                   f"remaining {r.remaining}")
            if p > r.limit_price:
                raise _reject(RejectCode.PRICE_BEYOND_LIMIT,
                              f"fill {f.fill_id}: price {p} is above buy limit {r.limit_price}")
            r.remaining -= q
            rcash[b] -= q * (r.limit_price + fee_for(r.limit_price, bps))
            dres.add(oid)
            if not r.remaining:
                del res[oid]
        cb = cash[b] - n - bf
        cash[b] = cb
        if cb - rcash.get(b, 0) < -credit[b]:
            raise _reject(RejectCode.INSUFFICIENT_CASH,
                          f"fill {f.fill_id}: {b} lacks the cash for {q} {sym} at {p}")
        shares[bkey] = shares.get(bkey, 0) + q
        # --- seller
        oid = f.sell_order_id
        r = res.get(oid) if oid else None
        if r is not None:
            if r.side != "sell" or r.account != s or r.symbol != sym:
                raise _reject(RejectCode.UNKNOWN_ORDER, f"fill {f.fill_id}: order {oid} is not {s}'s sell of {sym}")
            if q > r.remaining:
                raise _reject(RejectCode.OVERFILL, f"fill {f.fill_id}: {q} shares exceed order {oid}'s "
                                                   f"remaining {r.remaining}")
            if p < r.limit_price:
                raise _reject(RejectCode.PRICE_BEYOND_LIMIT,
                              f"fill {f.fill_id}: price {p} is below sell limit {r.limit_price}")
            r.remaining -= q
            rshares[skey] -= q
            dres.add(oid)
            if not r.remaining:
                del res[oid]
        sh = shares.get(skey, 0) - q
        shares[skey] = sh
        if sh - rshares.get(skey, 0) < short_floor[s]:
            code = RejectCode.SHORT_LIMIT if short_floor[s] else RejectCode.INSUFFICIENT_SHARES
            raise _reject(code, f"fill {f.fill_id}: {s} cannot deliver {q} {sym}")
        cash[s] += n - sf
        fees_total += bf + sf
        # --- FIFO: the buyer covers shorts first, then opens a long lot
        pb = pos.get(bkey)
        if pb is None:
            pb = pos[bkey] = Pos()
        cover = real_b = cost_b = 0
        open_short = pb.so - pb.sc
        if open_short:
            cover = q if q < open_short else open_short
            k, c, dq = cover, pb.sc, pb.short
            while k:
                lot = dq[0]
                rem = lot[0] + lot[1] - c
                take = rem if rem < k else k
                real_b += (lot[2] - p) * take
                cost_b += lot[2] * take
                c += take
                k -= take
                if take == rem:
                    dq.popleft()
            pb.sc = c
        op = q - cover
        if op:
            pb.long.append([pb.lo, op, p])
            ck = chunks.get((b, sym, 1))
            if ck is None:
                ck = chunks[(b, sym, 1)] = (pb.lo, [])
            ck[1].append([op, p, f.fill_id])
            pb.lo += op
            cost_b += op * p
        pb.realized += real_b
        pb.cost += cost_b
        pb.fees += bf
        # --- the seller closes longs first, then opens a short lot
        ps = pos.get(skey)
        if ps is None:
            ps = pos[skey] = Pos()
        close = real_s = cost_s = 0
        open_long = ps.lo - ps.lc
        if open_long:
            close = q if q < open_long else open_long
            k, c, dq = close, ps.lc, ps.long
            while k:
                lot = dq[0]
                rem = lot[0] + lot[1] - c
                take = rem if rem < k else k
                real_s += (p - lot[2]) * take
                cost_s -= lot[2] * take
                c += take
                k -= take
                if take == rem:
                    dq.popleft()
            ps.lc = c
        op = q - close
        if op:
            ps.short.append([ps.so, op, p])
            ck = chunks.get((s, sym, -1))
            if ck is None:
                ck = chunks[(s, sym, -1)] = (ps.so, [])
            ck[1].append([op, p, f.fill_id])
            ps.so += op
            cost_s -= op * p
        ps.realized += real_s
        ps.cost += cost_s
        ps.fees += sf
        fill_rows.append((run_id, br, cycle, seq, f.tick, f.fill_id, sym, p, q, b, s, f.buy_order_id,
                          f.sell_order_id, bf, sf, cover, close, real_b, real_s, cost_b, cost_s))
        seq += 1
    touched = {(f.buyer, f.symbol) for f in fills}
    touched.update((f.seller, f.symbol) for f in fills)
    dshares.update(touched)
    dpos.update(touched)
    dcash.update(k[0] for k in touched)
    if fees_total:
        cash[FEES] = cash.get(FEES, 0) + fees_total
        dcash.add(FEES)
    conn.executemany(FILL_INSERT, fill_rows)
    if chunks:
        conn.executemany(CHUNK_INSERT, [chunk_row(run_id, br, a, sym, side, start, cycle, items)
                                        for (a, sym, side), (start, items) in chunks.items()])
    st.flush(conn, cycle)
    st.next_seq = seq
    st.last_fill_cycle = cycle


def settle(conn: sqlite3.Connection, st: BranchState, cycle: int, fills: Sequence[Fill]) -> SettleResult:
    """Validate then apply; raises BatchRejected (caller rolls back and reloads)."""
    new, dup = prepare(conn, st, cycle, fills)
    if new:
        apply(conn, st, cycle, new)
    return SettleResult(settled=len(new), duplicates=dup)
