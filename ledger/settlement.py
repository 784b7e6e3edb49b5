"""Settlement of one cycle's fills: the hot path.

Validation that needs no state runs first; then the fills are applied to the in-memory mirror
(balances, reservations, FIFO lots) while the rows are built as tuples; then two executemany calls
(fills, new lot chunks) and one flush of the touched state rows. The caller wraps it all in one
transaction. Any rejection discovered while applying (cash, short limit, overfill) raises
`BatchRejected`; the caller rolls the transaction back and reloads the mirror, so nothing is written.

A fill row carries its own double-entry legs (cash buyer->seller, shares seller->buyer, fees to
@fees; see the `journal` view) and the FIFO deltas of both sides (shares covered/closed, realized
PnL, cost-basis change), which is what makes `truncate_after` an exact O(rows removed) undo.

Idempotency: each batch's ids are summarised as ranges per id prefix in `fill_ids` (see
fillids.py). If no stored range on the lineage overlaps the batch's ranges, no id was settled before
and the batch is applied without any per-id lookup; otherwise the overlapping batches' fills are
read back and compared id by id (exact retries are skipped, conflicts rejected).

Fills travel through here as plain tuples in `Fill` field order (`Fill.key()`, `types.fill_row`):
`Ledger.settle` turns its `Fill`s into them in one C-level pass, and the cycle's settle node builds them
directly (`Ledger.settle_rows`), which spares it a frozen dataclass per trade (~1.8 us each).

Speed notes (per fill, measured with `python -m bench ledger`): the loop touches each (account,
symbol) through one batch-local `_Touch` record (position, shares and reserved shares cached), so the
state dicts with tuple keys are read once per batch and written back once; the common FIFO case (the
head lot covers the whole fill) is inlined; lot chunks are built as parallel lists (see lots.py).
"""
from __future__ import annotations

import gc
import sqlite3
from collections import deque
from collections.abc import Sequence
from operator import itemgetter

from ledger import background_fills, fillids, fillkeys, id_numbers, lots
from ledger.errors import RejectCode, Rejection
from ledger.lineage import state_lineage
from ledger.lots import CHUNK_INSERT, chunk_row, load_window
from ledger.state import BranchState, Pos, fee_for
from ledger.types import FEES, Fill, SettleResult

FILL_INSERT = "INSERT INTO fills VALUES (" + ",".join("?" * 21) + ")"
CHUNK = 500
BG = background_fills.PREFIX
_SEQ = itemgetter(3)
_MAX_NUMBER = 10**id_numbers.MAX_DIGITS  # the numbers lots.py and background_fills.py code (id_numbers.py)


class BatchRejected(Exception):
    def __init__(self, rejection: Rejection):
        super().__init__(str(rejection))
        self.rejection = rejection


def _reject(code: RejectCode, message: str) -> BatchRejected:
    return BatchRejected(Rejection(code, message))


def _explain(row: tuple, cycle: int, accounts: dict, symbols: set) -> BatchRejected:
    """The rejection for a fill that failed the stateless checks (first failing check wins)."""
    f = Fill(*row)
    if f.cycle != cycle:
        return _reject(RejectCode.CYCLE_MISMATCH, f"fill {f.fill_id} is for cycle {f.cycle}, not {cycle}")
    if f.qty <= 0:
        return _reject(RejectCode.NON_POSITIVE_QTY, f"fill {f.fill_id} has quantity {f.qty}")
    if f.price <= 0:
        return _reject(RejectCode.NON_POSITIVE_PRICE, f"fill {f.fill_id} has price {f.price}")
    if f.buyer not in accounts or f.seller not in accounts:
        who = f.buyer if f.buyer not in accounts else f.seller
        return _reject(RejectCode.UNKNOWN_ACCOUNT, f"fill {f.fill_id} names unknown account {who!r}")
    if f.buyer == f.seller:
        return _reject(RejectCode.SELF_TRADE, f"fill {f.fill_id} has {f.buyer!r} on both sides")
    return _reject(RejectCode.UNKNOWN_SYMBOL, f"fill {f.fill_id} is in unknown symbol {f.symbol!r}")


def _validate(st: BranchState, cycle: int, rows: Sequence[tuple]) -> tuple[list[tuple], bool]:
    """Stateless checks and in-batch duplicates: (the fill rows in order, each id once; had duplicates)."""
    accounts, symbols = st.accounts, st.symbols
    for r in rows:
        _, c, _, sym, p, q, b, s, _, _ = r
        if (c != cycle or q <= 0 or p <= 0 or b not in accounts
                or s not in accounts or b == s or sym not in symbols):
            raise _explain(r, cycle, accounts, symbols)
    if len({r[0] for r in rows}) == len(rows):
        return list(rows), False
    seen: dict[str, tuple] = {}
    out: list[tuple] = []
    for r in rows:
        prev = seen.get(r[0])
        if prev is not None:
            if tuple(prev) != tuple(r):
                raise _reject(RejectCode.DUPLICATE_ID_CONFLICT,
                              f"fill id {r[0]} appears twice in the batch with different content")
            continue
        seen[r[0]] = r
        out.append(r)
    return out, True


def prepare(conn: sqlite3.Connection, st: BranchState, cycle: int,
            rows: Sequence[tuple]) -> tuple[list[tuple], int, dict[str, list[int]]]:
    """Validate a batch without touching state: (new fill rows to apply, number of exact retries, id ranges).
    Leaves `fillids.numbered` of the ids for `fill_id_numbers` (`_last_numbered`): parsed once per batch."""
    global _last_numbered
    if st.fork_cycle is not None and cycle <= st.fork_cycle:
        raise _reject(RejectCode.INHERITED_PAST,
                      f"branch {st.branch_id} was forked at cycle {st.fork_cycle}; cycle {cycle} is inherited")
    if not 0 <= cycle <= fillkeys.MAX_CYCLE:
        raise _reject(RejectCode.CYCLE_MISMATCH, f"fill cycles must lie in [0, {fillkeys.MAX_CYCLE}], not {cycle}")
    uniq, _ = _validate(st, cycle, rows)
    ids = [r[0] for r in uniq]
    found = fillids.numbered(ids)
    _last_numbered = (ids, found)
    summary = fillids.summarize(ids, found)
    new = uniq
    lin = state_lineage(conn, st)
    where = fillids.overlapping(conn, st.branch_id, summary, first=True, lin=lin)
    if where:  # some id may have been settled before: compare id by id
        stored = fillids.stored_fills(conn, fillids.overlapping(conn, st.branch_id, summary, lin=lin), set(ids))
        if stored:
            new = []
            for r in uniq:
                old = stored.get(r[0])
                if old is None:
                    new.append(r)
                elif old != tuple(r):
                    raise _reject(RejectCode.DUPLICATE_ID_CONFLICT,
                                  f"fill id {r[0]} was already settled with different content")
            summary = fillids.summarize([r[0] for r in new])
    if new and st.last_fill_cycle is not None and cycle < st.last_fill_cycle:
        raise _reject(RejectCode.CYCLE_MISMATCH,
                      f"cycle {cycle} is before the last settled cycle {st.last_fill_cycle}; truncate first")
    return new, len(rows) - len(new), summary


class _Touch:
    """One (account, symbol) touched by the batch: its position and cached share balances."""

    __slots__ = ("pos", "sh", "rsh", "lch", "sch")

    def __init__(self, pos: Pos, sh: int, rsh: int):
        self.pos = pos
        self.sh = sh
        self.rsh = rsh
        self.lch: tuple[int, list, list, list] | None = None  # long chunk: (start, qtys, prices, sources)
        self.sch: tuple[int, list, list, list] | None = None  # short chunk


def _consume(dq: deque, c: int, k: int) -> tuple[int, int]:
    """Take k shares FIFO from an open-lot queue consumed up to c: (new consumed, sum of price x taken)."""
    total = 0
    while k:
        lot = dq[0]
        rem = lot[0] + lot[1] - c
        if rem <= k:
            take = rem
            dq.popleft()
        else:
            take = k
        total += lot[2] * take
        c += take
        k -= take
    return c, total


def _consume_spilled(conn: sqlite3.Connection, st: BranchState, key: tuple[str, str], side: int, p: Pos,
                     c: int, k: int, pending: tuple[int, list, list, list] | None) -> tuple[int, int]:
    """`_consume` of k shares from a queue that may run dry before its stream does (the queue holds only
    the oldest `lots.LOT_WINDOW` open lots; see state.Pos): refilled from the stored lots, then from the
    batch's unwritten chunk `pending`, whenever it empties. Leaves it non-empty while lots are open."""
    dq, end, opened = (p.long, p.lm, p.lo) if side == 1 else (p.short, p.sm, p.so)
    total = 0
    while k:
        if not dq:
            _, end = load_window(conn, st.branch_id, key[0], key[1], side, c, opened, dq, pending)
        lot = dq[0]
        rem = lot[0] + lot[1] - c
        if rem <= k:
            take = rem
            dq.popleft()
        else:
            take = k
        total += lot[2] * take
        c += take
        k -= take
    if not dq and c < opened:
        _, end = load_window(conn, st.branch_id, key[0], key[1], side, c, opened, dq, pending)
    if side == 1:
        p.lm = end
    else:
        p.sm = end
    return c, total


def _reservation(st: BranchState, oid: str, side: str, who: str, sym: str, fid: str, q: int, p: int) -> None:
    """Consume q shares of an open order's reservation (cash for a buy, shares for a sell)."""
    r = st.res[oid]
    if r.side != side or r.account != who or r.symbol != sym:
        raise _reject(RejectCode.UNKNOWN_ORDER, f"fill {fid}: order {oid} is not {who}'s {side} of {sym}")
    if q > r.remaining:
        raise _reject(RejectCode.OVERFILL, f"fill {fid}: {q} shares exceed order {oid}'s "
                                           f"remaining {r.remaining}")
    if (p > r.limit_price) if side == "buy" else (p < r.limit_price):
        word = "above buy" if side == "buy" else "below sell"
        raise _reject(RejectCode.PRICE_BEYOND_LIMIT, f"fill {fid}: price {p} is {word} limit {r.limit_price}")
    r.remaining -= q
    if side == "buy":
        st.rcash[who] -= q * (r.limit_price + fee_for(r.limit_price, st.fee_bps))
    else:
        st.rshares[(who, sym)] -= q
    st.dirty_res.add(oid)
    if not r.remaining:
        del st.res[oid]


def apply(conn: sqlite3.Connection, st: BranchState, cycle: int, fills: list[tuple]) -> None:
    """Apply validated new fill rows to the mirror and write them (inside the caller's transaction)."""
    run_id, br, bps = st.run_id, st.branch_id, st.fee_bps  # the fee in force (ledger/fee_schedule.py)
    if st.fee_since is not None and cycle < st.fee_since:
        raise _reject(RejectCode.CYCLE_MISMATCH, f"fills of cycle {cycle} come before the fee change of "
                                                 f"cycle {st.fee_since}")
    i0 = st.next_seq if st.last_fill_cycle == cycle else 0
    if i0 + len(fills) > fillkeys.PER_CYCLE or br > fillkeys.MAX_BRANCH:
        raise _reject(RejectCode.CYCLE_MISMATCH, f"at most {fillkeys.PER_CYCLE} fills per cycle and "
                                                 f"{fillkeys.MAX_BRANCH} branches can be stored")
    cash, rcash, shares, rshares, pos, res = st.cash, st.rcash, st.shares, st.rshares, st.pos, st.res
    window = lots.LOT_WINDOW  # a lot queue grows only while complete and shorter than this (state.Pos)
    accts = st.accounts
    # cash must stay >= reserved - credit; shares must stay >= reserved - short limit
    cfloor = {n: rcash.get(n, 0) - a.credit_limit for n, a in accts.items()}
    sfloor = {n: (-a.short_limit if a.allow_short else 0) for n, a in accts.items()}
    touched: dict[tuple[str, str], _Touch] = {}
    rows: list[tuple] = []  # the fill rows written as rows...
    packed: list[tuple] = []  # ...and the bg-vs-bg ones, written as one packed row (background_fills.py)
    # both sides are accounts of the branch (`_validate`): a set lookup per side instead of a prefix slice
    bg = {name for name in accts if name.startswith(BG)} if st.pack_background else ()
    add, add_bg = rows.append, packed.append
    seq = fillkeys.seq_of(br, cycle, i0)
    fees_total = 0
    for fid, _, tick, sym, p, q, b, s, bo, so in fills:
        n = p * q
        bf = sf = (n * bps + 9999) // 10000 if bps else 0
        bk, sk = (b, sym), (s, sym)
        tb = touched.get(bk)
        if tb is None:
            tb = touched[bk] = _Touch(pos.get(bk) or pos.setdefault(bk, Pos()), shares.get(bk, 0),
                                      rshares.get(bk, 0))
        ts = touched.get(sk)
        if ts is None:
            ts = touched[sk] = _Touch(pos.get(sk) or pos.setdefault(sk, Pos()), shares.get(sk, 0),
                                      rshares.get(sk, 0))
        # --- buyer: reservation, cash, shares
        if res and bo in res:
            before = rcash[b]
            _reservation(st, bo, "buy", b, sym, fid, q, p)
            cfloor[b] += rcash[b] - before
        cb = cash[b] - n - bf
        cash[b] = cb
        if cb < cfloor[b]:
            raise _reject(RejectCode.INSUFFICIENT_CASH, f"fill {fid}: {b} lacks the cash for {q} {sym} at {p}")
        tb.sh += q
        # --- seller
        if res and so in res:
            _reservation(st, so, "sell", s, sym, fid, q, p)
            ts.rsh = rshares[sk]
        sh = ts.sh - q
        ts.sh = sh
        if sh - ts.rsh < sfloor[s]:
            code = RejectCode.SHORT_LIMIT if sfloor[s] else RejectCode.INSUFFICIENT_SHARES
            raise _reject(code, f"fill {fid}: {s} cannot deliver {q} {sym}")
        cash[s] += n - sf
        fees_total += bf + sf
        # --- FIFO: the buyer covers shorts first, then opens a long lot
        pb = tb.pos
        cover = real_b = cost_b = 0
        if pb.so != pb.sc:
            open_short = pb.so - pb.sc
            cover = q if q < open_short else open_short
            if pb.sm == pb.so or pb.sc + cover < pb.sm:
                pb.sc, taken = _consume(pb.short, pb.sc, cover)
            else:
                pb.sc, taken = _consume_spilled(conn, st, bk, -1, pb, pb.sc, cover, tb.sch)
            real_b = taken - p * cover
            cost_b = taken
        op = q - cover
        if op:
            lo = pb.lo
            if pb.lm == lo and len(pb.long) < window:
                pb.long.append([lo, op, p])
                pb.lm = lo + op
            ch = tb.lch
            if ch is None:
                ch = tb.lch = (lo, [], [], [])
            ch[1].append(op)
            ch[2].append(p)
            ch[3].append(fid)
            pb.lo = lo + op
            cost_b += op * p
        if real_b:
            pb.realized += real_b
        pb.cost += cost_b
        pb.fees += bf
        # --- the seller closes longs first (head lot inlined), then opens a short lot
        ps = ts.pos
        close = real_s = cost_s = 0
        c = ps.lc
        if ps.lo != c:
            open_long = ps.lo - c
            close = q if q < open_long else open_long
            lot = ps.long[0]
            if close < lot[0] + lot[1] - c:
                taken = lot[2] * close
                ps.lc = c + close
            elif ps.lm == ps.lo or c + close < ps.lm:
                ps.lc, taken = _consume(ps.long, c, close)
            else:
                ps.lc, taken = _consume_spilled(conn, st, sk, 1, ps, c, close, ts.lch)
            real_s = p * close - taken
            cost_s = -taken
        op = q - close
        if op:
            so_ = ps.so
            if ps.sm == so_ and len(ps.short) < window:
                ps.short.append([so_, op, p])
                ps.sm = so_ + op
            ch = ts.sch
            if ch is None:
                ch = ts.sch = (so_, [], [], [])
            ch[1].append(op)
            ch[2].append(p)
            ch[3].append(fid)
            ps.so = so_ + op
            cost_s -= op * p
        if real_s:
            ps.realized += real_s
        ps.cost += cost_s
        ps.fees += sf
        (add_bg if b in bg and s in bg else add)((run_id, br, cycle, seq, tick, fid, sym, p, q, b, s, bo, so, bf, sf,
                                                  cover, close, real_b, real_s, cost_b, cost_s))
        seq += 1
    chunk_rows = []
    # The fill ids split once into prefix and number for the two codings that need it (lot chunks' sources
    # and the packed fills), instead of each id parsed by each (issue 21)
    ids = fill_id_numbers([f[0] for f in fills])
    for key, t in touched.items():
        shares[key] = t.sh
        if t.lch is not None:
            chunk_rows.append(chunk_row(run_id, br, key[0], key[1], 1, t.lch[0], cycle, *t.lch[1:], ids))
        if t.sch is not None:
            chunk_rows.append(chunk_row(run_id, br, key[0], key[1], -1, t.sch[0], cycle, *t.sch[1:], ids))
    st.dirty_shares.update(touched)
    st.dirty_pos.update(touched)
    st.dirty_cash.update(k[0] for k in touched)
    if fees_total:
        cash[FEES] = cash.get(FEES, 0) + fees_total
        st.dirty_cash.add(FEES)
    if packed and not background_fills.write(conn, run_id, br, cycle, packed, ids):
        rows = sorted(rows + packed, key=_SEQ)  # amounts too large to pack: every fill a row, in seq order
    if rows:
        conn.executemany(FILL_INSERT, rows)
    if chunk_rows:
        conn.executemany(CHUNK_INSERT, chunk_rows)
    st.flush(conn, cycle)
    st.next_seq = i0 + len(fills)
    st.last_fill_cycle = cycle


# (ids, fillids.numbered(ids)) of the last batch `prepare` checked: `fill_id_numbers` of the same ids (equal
# lists: always the same answer, whichever ledger or thread left it) takes it instead of parsing them again
_last_numbered: tuple[list[str], tuple[str, list[int]] | None] | None = None


def fill_id_numbers(ids: list[str]) -> tuple[str, dict[str, int]] | None:
    """(prefix, {id: number}) when the batch's ids are one prefix and canonical numbers of at most 18 digits
    (the exchange's "T356025"...), the case in which the lot chunks (`lots.chunk_row`) and the packed fills
    (`background_fills.pack`) code an id as that prefix and number; else None (each codes its ids itself)."""
    last = _last_numbered
    found = last[1] if last is not None and last[0] == ids else fillids.numbered(ids)
    if found is None or max(found[1]) >= _MAX_NUMBER:
        return None
    return found[0], dict(zip(ids, found[1], strict=True))


def settle(conn: sqlite3.Connection, st: BranchState, cycle: int, fills: Sequence[tuple]) -> SettleResult:
    """Validate then apply fill rows (tuples in `Fill` field order); raises BatchRejected (caller rolls back
    and reloads).

    The cyclic garbage collector is paused for the batch: the loop allocates a few containers per fill
    (row tuples, lot entries) and none of them form cycles, so reference counting frees whatever is
    garbage; letting the collector run would rescan the growing lot queues hundreds of times per
    batch (about a third of the Python time, measured). It is re-enabled on exit if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        new, dup, summary = prepare(conn, st, cycle, fills)
        if new:
            fillids.record(conn, st.run_id, st.branch_id, cycle, summary)
            apply(conn, st, cycle, new)
    finally:
        if was_enabled:
            gc.enable()
    return SettleResult(settled=len(new), duplicates=dup)


# The compiled twin of this module, when it was built from this very source (market/compiled_twin.py).
from market.compiled_twin import use_twin  # noqa: E402

use_twin(globals())
