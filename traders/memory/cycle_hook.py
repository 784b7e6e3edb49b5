"""The floor's cycle calls these for traders with `learning:` configured (others cost nothing).

* `learned_config` (decide node): the trader's past situations visible on this line (memories with a known
  outcome), the `neighbours` most similar to the current one (cosine, traders/memory/retrieval.py), and
  the learner's choice of the tuned parameter from their markouts (traders/memory/learner.py). It returns
  the config to decide with and a trace payload (choice and reason).
* `record_cycle` (settle node, inside the cycle's ledger transaction): the decisions' memories (one per
  order's symbol) and the outcomes that became known this cycle: the markout, in basis points of the mark
  at decision, `horizon` cycles later, signed by side, and its PnL in cents on the decided quantity
  (a mark-to-market PnL of the trade after `horizon` cycles, not the FIFO realized PnL).
Everything is read from the ledger's line, so a rollback and re-run chooses the same, bit for bit.
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import replace
from typing import Any

import numpy as np

from ledger.lineage import lineage
from ledger.memory_store import (
    Memory,
    load_memories,
    memories_at,
    record_lessons,
    record_memories,
    record_outcomes,
    rows_of_cycle,
)
from traders.memory.learner import choose
from traders.memory.retrieval import normalized, top_k
from traders.memory.situation import situations_of


def arm_name(value: float) -> str:
    return repr(float(value))


@functools.lru_cache(maxsize=256)
def _arms(grid: tuple[float, ...]) -> tuple[str, ...]:
    return tuple(arm_name(v) for v in grid)


class _Known:
    """One trader's memories with a known outcome, in line order (indices into the mirror's list), and
    their unit situation vectors, grown in place (capacity doubles)."""

    def __init__(self, idx: list[int], unit: np.ndarray):
        self.idx = list(idx)
        self.buf = unit if unit.size else np.zeros((0, 0), dtype=np.float32)

    @property
    def unit(self) -> np.ndarray:
        return self.buf[:len(self.idx)]

    def extend(self, idx: list[int], unit: np.ndarray) -> None:
        n, k = len(self.idx), len(idx)
        if self.buf.shape[0] < n + k or self.buf.shape[1] != unit.shape[1]:
            grown = np.zeros((max(2 * (n + k), 64), unit.shape[1]), dtype=np.float32)
            grown[:n] = self.buf[:n]
            self.buf = grown
        self.buf[n:n + k] = unit
        self.idx.extend(idx)


# What the learners see (every memory visible before the cycle being decided, with the outcomes known by
# then), kept per floor ledger (a floor's cycle may interleave with another floor's in one process) and branch
# and brought forward one cycle at a time: from cycle c to c + 1
# only the rows of cycle c are read, and each trader's known memories and unit vectors only grow. A
# mirror for (branch, c) holds rows <= c - 1, which no rollback to k >= c - 1 changes; any other step (a
# rollback further back, a fork, another branch) reloads in full. It also carries, from the decide node
# to the settle node, each learner's situations and marks of the cycle (not written to the trace).
class _Seen:
    def __init__(self, ledger, branch_id: int, cycle: int, seed: int, mems: list[Memory]):
        self.branch_id, self.cycle, self.seed = branch_id, cycle, seed
        self.lineage = lineage(ledger.conn, branch_id)  # a branch's lineage never changes
        self.mems = list(mems)
        self.at = {(m.trader, m.symbol, m.cycle): i for i, m in enumerate(self.mems)}
        self.decided: dict[tuple[str, int], list[int]] = {}  # (trader, cycle) -> indices, in symbol order
        for i, m in enumerate(self.mems):
            self.decided.setdefault((m.trader, m.cycle), []).append(i)
        self.known: dict[str, _Known] = {}
        for t in {m.trader for m in self.mems}:
            self._rebuild(t)
        self.pending: dict[tuple[int, str], tuple[dict, dict]] = {}  # (cycle, trader) -> (situations, marks)
        self.token: object = None  # see `_mirror`
        self.nearest: dict[tuple[int, str], list[Memory]] = {}  # LLM traders: (cycle, trader) -> most similar first
        self.lessons: dict[tuple[int, str], dict] = {}  # (cycle, trader) -> a lesson to record at settle

    def _rebuild(self, trader: str) -> None:
        idx = [i for i, m in enumerate(self.mems) if m.trader == trader and m.markout_bp is not None]
        if idx:
            self.known[trader] = _Known(idx, normalized(np.stack([self.mems[i].vector for i in idx])))
        else:
            self.known.pop(trader, None)

    def advance(self, conn) -> None:
        new, outs = rows_of_cycle(conn, self.branch_id, self.cycle, self.lineage)
        for m in new:
            i = len(self.mems)
            self.at[(m.trader, m.symbol, m.cycle)] = i
            self.decided.setdefault((m.trader, m.cycle), []).append(i)
            self.mems.append(m)
        learned: dict[str, list[int]] = {}
        for tr, sym, dc, mk, pnl in outs:
            i = self.at.get((tr, sym, dc))
            if i is not None:
                if self.mems[i].markout_bp is None:
                    learned.setdefault(tr, []).append(i)
                self.mems[i] = replace(self.mems[i], markout_bp=mk, realized_pnl=pnl)
        for tr, idx in learned.items():
            idx = sorted(set(idx))
            k = self.known.get(tr)
            if k is None or idx[0] > k.idx[-1]:  # in line order: append
                unit = normalized(np.stack([self.mems[i].vector for i in idx]))
                if k is None:
                    self.known[tr] = _Known(idx, unit)
                else:
                    k.extend(idx, unit)
            else:  # an outcome of an older memory than the last known one (a horizon changed): rebuild
                self._rebuild(tr)
        self.cycle += 1


_seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # ledger -> its mirror (one per floor)


def mirror_of(ledger) -> _Seen | None:
    """The mirror the ledger's floor decided its current cycle with (None before any learning decision)."""
    return _seen.get(ledger)


def _mirror(ledger, cycle: int, default_seed: int, token: object = None) -> _Seen:
    """The mirror of the ledger's line holding every row of cycles < `cycle` (caller holds the floor's lock).
    `token`: an object shared by the traders of one cycle's decide phase and new for the next (the floor's
    CycleWork): the ledger's branch (a query) is then looked at once per cycle, not once per trader."""
    seen = _seen.get(ledger)
    if token is not None and seen is not None and seen.token is token and seen.cycle == cycle:
        return seen
    b = ledger.branch_id
    if seen is not None and (seen.branch_id != b or seen.cycle not in (cycle, cycle - 1)):
        seen = None
    if seen is None:
        row = ledger.conn.execute("SELECT seed FROM runs WHERE run_id=?", (ledger.run_id,)).fetchone()
        seed = int(row[0]) if row and row[0] is not None else int(default_seed)
        seen = _Seen(ledger, b, cycle, seed, load_memories(ledger.conn, b, upto=cycle - 1))
        _seen[ledger] = seen
    elif seen.cycle == cycle - 1:
        seen.advance(ledger.conn)
    seen.token = token
    return seen


def _mean(rows: list[list[float]]) -> list[float]:
    """The column means of `rows`, summed top to bottom as `np.mean(rows, axis=0)` does (same bits)."""
    n = len(rows)
    if not n:
        return [0.0] * 6
    first, rest = rows[0], rows[1:]
    out = []
    for j in range(len(first)):
        s = first[j]
        for r in rest:
            s += r[j]
        out.append(s / n)
    return out


def learned_config(ledger, lock, default_seed: int, cfg, view, token: object = None) -> tuple[Any, dict]:
    """(config to decide with, trace payload) for a trader with `cfg.learning` set; the learner is seeded
    with the run's seed (`default_seed` if the run has none). `token`: see `_mirror`."""
    with lock:  # traders decide in parallel threads; the ledger connection is shared
        seen = _mirror(ledger, view.cycle, default_seed, token)
    return _learn(seen, cfg, view)


def _learn(seen: _Seen, cfg, view) -> tuple[Any, dict]:
    """(learned config, trace payload) of one learner (see `learned_config`)."""
    lrn = cfg.learning
    cycle = view.cycle
    known = seen.known.get(cfg.name)
    symbols = view.market.symbols
    situations = situations_of(view, symbols)
    query = _mean([situations[s] for s in symbols])
    near = []
    if known is not None:
        idx, _ = top_k(known.unit, query, lrn.neighbours)
        near = [seen.mems[known.idx[i]] for i in sorted(idx.tolist())]
        if cfg.mode == "llm":  # the prompt shows the most similar few (traders/memory/llm_memory.py)
            seen.nearest[(cycle, cfg.name)] = [seen.mems[known.idx[i]] for i in idx[:lrn.prompt_memories].tolist()]
    arms = _arms(lrn.grid)
    choice = choose(arms, [(m.arm, m.markout_bp) for m in near], seed=seen.seed, trader=cfg.name, cycle=cycle,
                    label=lrn.param)
    value = lrn.grid[choice.index]
    seen.pending[(cycle, cfg.name)] = (situations, {s: view.market.mid(s) for s in symbols})
    payload = {"param": lrn.param, "value": value, "arm": choice.arm, "reason": choice.reason,
               "similar": len(near), "stats": {a: list(s) for a, s in choice.stats.items()}}
    return _with_param(cfg, lrn.param, value), payload


_configs: dict[tuple[int, str, float], tuple[Any, Any]] = {}  # (id(cfg), param, value) -> (cfg, learned cfg)


def _with_param(cfg, param: str, value: float):
    """`cfg` with `params[param] = value` (configs are frozen: each variant is made once and reused); `cfg`
    itself when it already has that value (the decide node may then reuse its decision before the chat)."""
    current = cfg.params.get(param)
    if type(current) is type(value) and current == value:
        return cfg
    key = (id(cfg), param, value)
    hit = _configs.get(key)
    if hit is not None and hit[0] is cfg:
        return hit[1]
    if len(_configs) > 512:
        _configs.clear()
    learned = cfg.model_copy(update={"params": cfg.params | {param: value}})
    _configs[key] = (cfg, learned)
    return learned


def with_learning_signal(decision, payload: dict):
    """The decision with the learned parameter among its signals (`learned_<param>`)."""
    return decision.model_copy(update={"signals": decision.signals | {f"learned_{payload['param']}": payload["value"]}})


def record_cycle(ledger, config, cycle: int, traces, marks: dict[str, int]) -> None:
    """Memories of this cycle's learning decisions and the outcomes due now (see the module docstring)."""
    learners = {t.name: t.learning for t in config.traders if t.learning is not None}
    if not learners:
        return
    chosen = {agent: p for agent, node, kind, p in traces if node == "decide" and kind == "learning"}
    decisions = {agent: p for agent, node, kind, p in traces if node == "decide" and kind == "decision"}
    seen = _seen.get(ledger)
    if seen is not None and (seen.branch_id != ledger.branch_id or seen.cycle != cycle):
        seen = None  # not the mirror this cycle's decisions used
    items = []
    for name in sorted(chosen):
        p, d = chosen[name], decisions.get(name, {})
        orders = d.get("orders", ())
        if not orders:
            continue
        if seen is None or (cycle, name) not in seen.pending:
            raise RuntimeError(f"cycle {cycle}: {name} decided with learning but its situation was not kept; "
                               "the cycle cannot record its memory")
        situations, at_marks = seen.pending[(cycle, name)]
        for o in sorted(orders, key=lambda o: (o["symbol"], o["side"])):
            sym = o["symbol"]
            if sym not in situations or at_marks.get(sym) is None or any(i["symbol"] == sym and i["trader"] == name
                                                                          for i in items):
                continue
            items.append({"trader": name, "symbol": sym, "vector": situations[sym], "arm": p["arm"],
                          "decision": {"side": o["side"], "qty": o["qty"], "limit_price": o.get("limit_price"),
                                       "mark": at_marks[sym]}})
    lessons = []
    if seen is not None:
        lessons = [dict(seen.lessons[k], trader=k[1]) for k in sorted(seen.lessons) if k[0] == cycle]
        for kept in (seen.pending, seen.nearest, seen.lessons):
            for key in [k for k in kept if k[0] <= cycle]:
                del kept[key]
    run_id, branch_id = ledger.run_id, ledger.branch_id
    record_memories(ledger.conn, run_id, branch_id, cycle, items)
    record_lessons(ledger.conn, run_id, branch_id, cycle, lessons)
    outcomes = []
    for name in sorted(learners):
        decided = cycle - learners[name].horizon
        if decided < 1:
            continue
        if seen is not None:  # the mirror holds every row of cycles < `cycle`, and horizon >= 1
            due = [seen.mems[i] for i in seen.decided.get((name, decided), ())]
        else:
            due = memories_at(ledger.conn, branch_id, decided, name)
        for m in due:
            then, now = m.decision.get("mark"), marks.get(m.symbol)
            if not then or now is None:
                continue
            sign = 1 if m.decision["side"] == "buy" else -1
            outcomes.append({"trader": name, "symbol": m.symbol, "decided_cycle": decided,
                             "markout_bp": sign * (now - then) / then * 1e4,
                             "realized_pnl": int(round(sign * m.decision["qty"] * (now - then)))})
    record_outcomes(ledger.conn, run_id, branch_id, cycle, outcomes)
