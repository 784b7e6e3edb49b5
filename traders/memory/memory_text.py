"""Plain text of a trader's memory for `trading-floor memory TRADER` (pure: memories and traces in, text out).

What the trader has learned is answered from the memory itself: each tuned value's outcomes (count and
mean markout) and the learner's last choices with their reasons.
"""
from __future__ import annotations

from collections.abc import Sequence

from ledger.memory_store import Lesson, Memory


def render_memory(trader: str, mems: Sequence[Memory], choices: Sequence[tuple[int, dict]], *,
                  limit: int = 20, lessons: Sequence[Lesson] = ()) -> str:
    lines = [f"{trader}: {len(mems)} memories, {sum(m.markout_bp is not None for m in mems)} with a known outcome"]
    by_arm: dict[str, list[float]] = {}
    for m in mems:
        if m.markout_bp is not None:
            by_arm.setdefault(m.arm, []).append(m.markout_bp)
    param = choices[-1][1]["param"] if choices else "value"
    if by_arm:
        lines.append(f"what it has learned ({param}: outcomes, mean markout):")
        for arm in sorted(by_arm, key=float):
            xs = by_arm[arm]
            lines.append(f"  {param} {arm}: {len(xs)} outcomes, {sum(xs) / len(xs):+.1f} bp")
    if choices:
        lines.append("last choices:")
        prev = None
        for cycle, p in choices[-5:]:
            changed = " (changed)" if prev is not None and p["arm"] != prev else ""
            lines.append(f"  cycle {cycle}: {p['reason']}{changed}")
            prev = p["arm"]
    lines.append(f"memories (newest {min(limit, len(mems))}):")
    lines.append("  cycle  symbol  side   qty  value      markout_bp  pnl_cents")
    for m in list(mems)[-limit:]:
        mk = f"{m.markout_bp:+.1f}" if m.markout_bp is not None else "pending"
        pnl = str(m.realized_pnl) if m.realized_pnl is not None else "-"
        lines.append(f"  {m.cycle:>5}  {m.symbol:<6}  {m.decision.get('side', ''):<5}  {m.decision.get('qty', 0):>4}"
                     f"  {m.arm:<9}  {mk:>10}  {pnl:>9}")
    if lessons:
        lines.append(f"lessons (newest {min(3, len(lessons))} of {len(lessons)}; the embedder of each in brackets, "
                     "`lexical` = hashed bag of words):")
        lines += [f"  cycle {les.cycle} [{les.embedder}]: {les.text}" for les in list(lessons)[-3:]]
    return "\n".join(lines) + "\n"
