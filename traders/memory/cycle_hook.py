"""The floor's cycle calls these for traders with `learning:` configured (others cost nothing).

* `learned_config` (decide node): the trader's past situations visible on this line (memories with a known
  outcome), the `neighbours` most similar to the current one (cosine, traders/memory/retrieval.py), and
  the learner's choice of the tuned parameter from their markouts (traders/memory/learner.py). It returns
  the config to decide with and a trace payload (choice, reason, the situation vectors).
* `record_cycle` (settle node, inside the cycle's ledger transaction): the decisions' memories (one per
  order's symbol) and the outcomes that became known this cycle: the markout, in basis points of the mark
  at decision, `horizon` cycles later, signed by side, and its PnL in cents on the decided quantity
  (a mark-to-market PnL of the trade after `horizon` cycles, not the FIFO realized PnL).
Everything is read from the ledger's line, so a rollback and re-run chooses the same, bit for bit.
"""
from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any

import numpy as np

from ledger.memory_store import (
    Memory,
    load_memories,
    memories_at,
    record_memories,
    record_outcomes,
    rows_of_cycle,
)
from traders.memory.learner import choose
from traders.memory.retrieval import normalized, top_k
from traders.memory.situation import from_view


def arm_name(value: float) -> str:
    return repr(float(value))


# What the learners see (every memory visible before the cycle being decided, with the outcomes known by
# then), kept per floor ledger and branch and brought forward one cycle at a time: from cycle c to c + 1
# only the rows of cycle c are read. A cache for (branch, c) holds rows <= c - 1, which no rollback to
# k >= c - 1 changes; any other step (a rollback further back, a fork, another branch) reloads in full.
class _Seen:
    def __init__(self, ledger, branch_id: int, cycle: int, seed: int, mems: list[Memory]):
        self.ledger = weakref.ref(ledger)
        self.branch_id, self.cycle, self.seed = branch_id, cycle, seed
        self.mems = list(mems)
        self.at = {(m.trader, m.symbol, m.cycle): i for i, m in enumerate(self.mems)}
        self.known: tuple[int, dict] | None = None  # (cycle, {trader: (memories with outcome, unit vectors)})

    def advance(self, conn) -> None:
        new, outs = rows_of_cycle(conn, self.branch_id, self.cycle)
        for m in new:
            self.at[(m.trader, m.symbol, m.cycle)] = len(self.mems)
            self.mems.append(m)
        for tr, sym, dc, mk, pnl in outs:
            i = self.at.get((tr, sym, dc))
            if i is not None:
                self.mems[i] = replace(self.mems[i], markout_bp=mk, realized_pnl=pnl)
        self.cycle += 1


_seen: list[_Seen] = []  # at most one: the floor deciding now


def _visible(ledger, cycle: int, default_seed: int) -> tuple[int, dict[str, tuple[list[Memory], np.ndarray]]]:
    b = ledger.branch_id
    seen = _seen[0] if _seen else None
    if seen is not None and (seen.ledger() is not ledger or seen.branch_id != b or seen.cycle not in (cycle, cycle - 1)):
        seen = None
    if seen is None:
        row = ledger.conn.execute("SELECT seed FROM runs WHERE run_id=?", (ledger.run_id,)).fetchone()
        seed = int(row[0]) if row and row[0] is not None else int(default_seed)
        seen = _Seen(ledger, b, cycle, seed, load_memories(ledger.conn, b, upto=cycle - 1))
        _seen[:] = [seen]
    elif seen.cycle == cycle - 1:
        seen.advance(ledger.conn)
    if seen.known is None or seen.known[0] != cycle:  # once per cycle: each trader's known outcomes
        by_trader: dict[str, list[Memory]] = {}
        for m in seen.mems:
            if m.markout_bp is not None:
                by_trader.setdefault(m.trader, []).append(m)
        seen.known = (cycle, {t: (ms, normalized(np.stack([m.vector for m in ms]))) for t, ms in by_trader.items()})
    return seen.seed, seen.known[1]


def learned_config(ledger, lock, default_seed: int, cfg, view) -> tuple[Any, dict]:
    """(config to decide with, trace payload) for a trader with `cfg.learning` set; the learner is seeded
    with the run's seed (`default_seed` if the run has none)."""
    lrn = cfg.learning
    cycle = view.cycle
    with lock:  # traders decide in parallel threads; the ledger connection is shared
        seed, by_trader = _visible(ledger, cycle, default_seed)
    mems, unit = by_trader.get(cfg.name, ([], None))
    symbols = list(view.market.symbols)
    situations = {s: from_view(view, s) for s in symbols}
    query = np.mean([situations[s] for s in symbols], axis=0) if symbols else np.zeros(6)
    near = []
    if mems:
        idx, _ = top_k(unit, query, lrn.neighbours)
        near = [mems[i] for i in sorted(idx.tolist())]
    arms = [arm_name(v) for v in lrn.grid]
    choice = choose(arms, [(m.arm, m.markout_bp) for m in near], seed=seed, trader=cfg.name, cycle=cycle,
                    label=lrn.param)
    value = lrn.grid[choice.index]
    payload = {"param": lrn.param, "value": value, "arm": choice.arm, "reason": choice.reason,
               "similar": len(near), "stats": {a: list(s) for a, s in choice.stats.items()},
               "situations": {s: [float(x) for x in np.asarray(v, dtype=np.float32)] for s, v in situations.items()},
               "marks": {s: view.market.mid(s) for s in symbols}}
    return cfg.model_copy(update={"params": cfg.params | {lrn.param: value}}), payload


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
    items = []
    for name in sorted(chosen):
        p, d = chosen[name], decisions.get(name, {})
        for o in sorted(d.get("orders", ()), key=lambda o: (o["symbol"], o["side"])):
            sym = o["symbol"]
            if sym not in p["situations"] or p["marks"].get(sym) is None or any(i["symbol"] == sym and i["trader"] == name
                                                                                  for i in items):
                continue
            items.append({"trader": name, "symbol": sym, "vector": p["situations"][sym], "arm": p["arm"],
                          "decision": {"side": o["side"], "qty": o["qty"], "limit_price": o.get("limit_price"),
                                       "mark": p["marks"][sym]}})
    run_id, branch_id = ledger.run_id, ledger.branch_id
    record_memories(ledger.conn, run_id, branch_id, cycle, items)
    outcomes = []
    for name in sorted(learners):
        decided = cycle - learners[name].horizon
        if decided < 1:
            continue
        for m in memories_at(ledger.conn, branch_id, decided, name):
            then, now = m.decision.get("mark"), marks.get(m.symbol)
            if not then or now is None:
                continue
            sign = 1 if m.decision["side"] == "buy" else -1
            outcomes.append({"trader": name, "symbol": m.symbol, "decided_cycle": decided,
                             "markout_bp": sign * (now - then) / then * 1e4,
                             "realized_pnl": int(round(sign * m.decision["qty"] * (now - then)))})
    record_outcomes(ledger.conn, run_id, branch_id, cycle, outcomes)
