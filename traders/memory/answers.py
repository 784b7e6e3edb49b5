"""Questions about what a trader has learned, answered from its memory (issue 19): "what have you
learned?", "why did you change your threshold?". Used by the UI (chat_ui/controller.py `ask`) and by
`trading-floor memory TRADER --why / --ask`. Pure text out of the ledger's rows: the memories with their
outcomes, the learner's traced choices (kind "learning") and the lessons.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from ledger.memory_store import Lesson, Memory, MemoryFormatError, load_lessons, load_memories

_LEARNED = re.compile(r"\b(learn\w*|lessons?|remember\w*|memory|memories)\b", re.I)
_WHY = re.compile(r"\bwhy\b", re.I)
_CHANGE = re.compile(r"\b(chang\w*|switch\w*|adjust\w*|tun\w*)\b", re.I)
_TUNED = re.compile(r"\b(threshold|parameter|setting|value|grid|band|entry)\b", re.I)


def kind_of(question: str, params: Sequence[str] = ()) -> str | None:
    """"why" (a question about a change of the tuned value), "learned", or None (not a memory question)."""
    q = question.lower()
    names = [p.lower() for p in params if p] + [p.lower().replace("_", " ") for p in params if p]
    if _WHY.search(q) and _CHANGE.search(q) and (_TUNED.search(q) or any(n in q for n in names)):
        return "why"
    if _LEARNED.search(q):
        return "learned"
    return None


def arm_summary(mems: Sequence[Memory]) -> dict[str, tuple[int, float]]:
    """Tuned value -> (outcomes known, mean markout in bp)."""
    by: dict[str, list[float]] = {}
    for m in mems:
        if m.markout_bp is not None:
            by.setdefault(m.arm, []).append(m.markout_bp)
    return {a: (len(x), sum(x) / len(x)) for a, x in by.items()}


def learned_text(trader: str, mems: Sequence[Memory], choices: Sequence[tuple[int, dict]],
                 lessons: Sequence[Lesson] = ()) -> str:
    if not mems and not choices and not lessons:
        return f"{trader} has no memory yet: learning is off for it, or it has not decided since it was turned on."
    known = sum(m.markout_bp is not None for m in mems)
    lines = [f"From my memory ({len(mems)} decisions, {known} with a known outcome):"]
    stats = arm_summary(mems)
    param = choices[-1][1].get("param", "value") if choices else "value"
    if stats:
        best = max(stats, key=lambda a: stats[a][1])
        for arm in sorted(stats, key=float):
            n, mean = stats[arm]
            lines.append(f"- {param} {arm}: {mean:+.1f} bp mean markout over {n} outcomes"
                         + (" (the best so far)" if arm == best and len(stats) > 1 else ""))
    if choices:
        cycle, p = choices[-1]
        lines.append(f"Now (cycle {cycle}) I use {param} {p.get('arm')}: {p.get('reason')}")
    if lessons:
        lines.append("My lessons:")
        lines += [f"- cycle {les.cycle} ({les.embedder}): {les.text}" for les in list(lessons)[-3:]]
    return "\n".join(lines)


def why_text(trader: str, choices: Sequence[tuple[int, dict]]) -> str:
    if not choices:
        return f"{trader} has made no learned choice: learning is off for it, or it has not decided yet."
    param = choices[-1][1].get("param", "value")
    for (_, p0), (c1, p1) in zip(reversed(choices[:-1]), reversed(choices[1:]), strict=True):
        if p0.get("arm") != p1.get("arm"):
            return (f"At cycle {c1} I changed {param} from {p0.get('arm')} to {p1.get('arm')}. "
                    f"My learner's reason then: {p1.get('reason')}. "
                    f"It draws each value's likely markout from the outcomes of my most similar past situations "
                    f"({p1.get('similar', 0)} of them then), so a value that did better is chosen more often, and "
                    f"one with few outcomes is still tried now and then.")
    first, (last_cycle, last) = choices[0][0], choices[-1]
    return (f"I have not changed {param}: it has been {last.get('arm')} since cycle {first}. "
            f"Latest reason (cycle {last_cycle}): {last.get('reason')}.")


def memory_answer(ledger, trader: str, question: str) -> str | None:
    """The answer to `question` about `trader`'s learning from the ledger's current line, or None when the
    question is not about its memory (the caller answers it another way)."""
    rows = ledger.traces(agent=trader, kind="learning", limit=None)
    choices = [(r["cycle"], r["payload"]) for r in rows]
    kind = kind_of(question, [p.get("param", "") for _, p in choices[-1:]])
    if kind is None:
        return None
    if kind == "why":
        return why_text(trader, choices)
    try:
        mems = load_memories(ledger.conn, ledger.branch_id, trader)
        lessons = load_lessons(ledger.conn, ledger.branch_id, trader)
    except MemoryFormatError as exc:
        return f"I cannot read my memory: {exc}"
    return learned_text(trader, mems, choices, lessons)
