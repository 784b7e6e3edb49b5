"""The reflection step of an LLM trader with `learning.reflect_every`: its own model reads its recent
outcomes and writes one short lesson, which is stored with the trader's memory (ledger/memory_store.py)
and shown in later prompts when it is close to the situation at hand.

`reflect` never raises: a failed call or an empty answer gives (None, reason), and the reason goes to the
cycle's trace; the decision itself is not affected.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

REFLECTION_SYSTEM = """\
You are {name}, a trader on a simulated stock exchange floor. Your theory: {description}
Below are your recent decisions and what followed. Write ONE lesson for your future self, at most two \
sentences and {max_chars} characters: what worked, what did not, and what you will do differently. Plain \
text only, no preamble.\
"""
MAX_CHARS = 300


def outcome_lines(memories: Sequence[Any]) -> str:
    """Memories (ledger.memory_store.Memory with a known outcome) as one line each."""
    lines = ["cycle sym side qty value markout_bp pnl_dollars"]
    for m in memories:
        lines.append(f"{m.cycle} {m.symbol} {m.decision.get('side', '')} {m.decision.get('qty', 0)} {m.arm} "
                     f"{m.markout_bp:+.1f} {(m.realized_pnl or 0) / 100:+.2f}")
    return "\n".join(lines)


def reflect(model: Any, name: str, description: str, memories: Sequence[Any], *, budget: Any = None,
            cycle: int = 0) -> tuple[str | None, str | None]:
    """(lesson, None) or (None, why not). With the floor's LLM `budget`, a spent budget skips the call and
    the call's tokens are charged to it (kind "reflection")."""
    from langchain_core.messages import HumanMessage, SystemMessage

    if not memories:
        return None, "no outcome known yet"
    if budget is not None and budget.exhausted(cycle, name):
        return None, "the LLM budget is spent"
    messages = [SystemMessage(REFLECTION_SYSTEM.format(name=name, description=description.strip(),
                                                       max_chars=MAX_CHARS)),
                HumanMessage(outcome_lines(memories))]
    try:
        answer = model.invoke(messages)
    except Exception as exc:  # noqa: BLE001 - a failed reflection is traced, never stops the cycle
        return None, f"reflection failed ({type(exc).__name__}: {str(exc)[:120]})"
    usage = getattr(answer, "usage_metadata", None) or {}
    if budget is not None:
        budget.charge(cycle, name, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)),
                      kind="reflection")
    text = answer.content if isinstance(getattr(answer, "content", None), str) else ""
    text = " ".join(text.split())
    if not text:
        return None, "the model's reflection was empty"
    return (text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"), None
