"""LLM spend as ledger history: one row per (cycle, trader, kind) with the calls, tokens and cost of that
trader's LLM use in that cycle, and how it ended (mode `llm` or `fallback`, with the reason).

It is a history table like `traces` or `messages` (run, branch, cycle on every row; listed in
`schema.HISTORY_TABLES`), written in the cycle's settle transaction, so:
- a continued run (another process, another day) reads what the run already spent: the budget is part
  of the run, not of the process;
- `truncate_after` (a rollback) deletes the rows after the cycle it returns to: the budget of those
  cycles is given back;
- a fork sees its parent's rows up to the fork cycle through its lineage, and spends on its own from there.

Cost is stored in integer micro-dollars (1e-6 USD), as every amount of money in the ledger is an integer.
`kind` is `decision` or `chat`. The SQL is plain (placeholders `?`), shared by SQLite and PostgreSQL.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = ("run_id", "branch_id", "cycle", "trader", "kind", "mode", "reason", "calls", "cached_calls",
           "input_tokens", "output_tokens", "cost_micro_usd")
INSERT = f"INSERT INTO llm_spend({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def record(conn: Any, run_id: int, branch_id: int, cycle: int, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write the cycle's spend rows (inside the caller's transaction); returns how many."""
    values = [(run_id, branch_id, cycle, r["trader"], r.get("kind", "decision"), r.get("mode") or "",
               r.get("reason") or "", int(r.get("calls", 0)), int(r.get("cached_calls", 0)),
               int(r.get("input_tokens", 0)), int(r.get("output_tokens", 0)), int(r.get("cost_micro_usd", 0)))
              for r in rows]
    if values:
        conn.executemany(INSERT, values)
    return len(values)


def _visible(conn: Any, branch_id: int) -> tuple[str, list[int]]:
    from ledger.lineage import lineage, lineage_sql

    return lineage_sql(lineage(conn, branch_id))


def spent_before(conn: Any, branch_id: int, cycle: int) -> tuple[int, int]:
    """(tokens, micro-dollars) spent on the branch's line in cycles before `cycle`."""
    where, params = _visible(conn, branch_id)
    row = conn.execute(f"SELECT coalesce(sum(input_tokens + output_tokens), 0), coalesce(sum(cost_micro_usd), 0) "
                       f"FROM llm_spend WHERE {where} AND cycle < ?", (*params, cycle)).fetchone()
    return int(row[0]), int(row[1])


def cycle_rows(conn: Any, branch_id: int, cycle: int) -> list[dict[str, Any]]:
    """The rows of one cycle as the branch sees it."""
    where, params = _visible(conn, branch_id)
    cur = conn.execute(f"SELECT trader, kind, mode, reason, calls, cached_calls, input_tokens, output_tokens, "
                       f"cost_micro_usd FROM llm_spend WHERE {where} AND cycle = ? ORDER BY trader, kind",
                       (*params, cycle))
    names = ("trader", "kind", "mode", "reason", "calls", "cached_calls", "input_tokens", "output_tokens",
             "cost_micro_usd")
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def per_trader(conn: Any, branch_id: int, *, upto: int | None = None) -> dict[str, dict[str, Any]]:
    """Totals per trader over the branch's line (up to cycle `upto`): decisions by the LLM, fallbacks by
    reason, calls, tokens and cost. An older database without the table gives {}."""
    try:
        where, params = _visible(conn, branch_id)
        limit = "" if upto is None else " AND cycle <= ?"
        cur = conn.execute(f"SELECT trader, kind, mode, reason, count(*), sum(calls), sum(input_tokens), "
                           f"sum(output_tokens), sum(cost_micro_usd) FROM llm_spend WHERE {where}{limit} "
                           f"GROUP BY trader, kind, mode, reason ORDER BY trader",
                           (*params, *(() if upto is None else (upto,))))
        rows = cur.fetchall()
    except Exception as exc:  # noqa: BLE001 - no such table (a database made before it)
        if "llm_spend" in str(exc):
            return {}
        raise
    out: dict[str, dict[str, Any]] = {}
    for trader, kind, mode, reason, n, calls, tin, tout, cost in rows:
        t = out.setdefault(trader, {"decisions_llm": 0, "fallbacks": {}, "chat_llm": 0, "chat_fallbacks": 0,
                                    "calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_micro_usd": 0})
        if kind == "decision" and mode == "llm":
            t["decisions_llm"] += n
        elif kind == "decision" and mode == "fallback":
            t["fallbacks"][reason or "unknown"] = t["fallbacks"].get(reason or "unknown", 0) + n
        elif kind == "chat":
            t["chat_llm" if mode == "llm" else "chat_fallbacks"] += n
        t["calls"] += int(calls or 0)
        t["input_tokens"] += int(tin or 0)
        t["output_tokens"] += int(tout or 0)
        t["cost_micro_usd"] += int(cost or 0)
    return out
