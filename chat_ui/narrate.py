"""One cycle's ledger records as readable sentences: the text of the UI's nested steps.

Read from the ledger after the cycle settled (traces, messages, fills), never from graph nodes, so the
same text can be rebuilt for any past cycle of any branch. Rule-mode traces read as reasoning: a
decision is its actions, its orders and its rationale, with its signals as a short list of named
numbers, never a JSON dump.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from chat_ui.numbers import plural, shares, usd
from ledger.store import Ledger

__all__ = ["usd", "order_text", "decision_text", "cycle_story", "cycle_title", "summary_text", "CycleStory"]


def order_text(o: dict) -> str:
    kind = o.get("order_type", "limit")
    price = f" @ {usd(o['limit_price'])}" if o.get("limit_price") else (" at market" if kind == "market" else "")
    stop = f" (stop {usd(o['stop_price'])})" if o.get("stop_price") else ""
    return f"{o['side'].upper()} {o['qty']:,} {o['symbol']}{price}{stop}"


def signals_text(signals: dict, limit: int = 8) -> str:
    """The named numbers behind a decision, biggest magnitude first."""
    items = sorted(signals.items(), key=lambda kv: -abs(kv[1]))[:limit]
    return ", ".join(f"{k} = {v:+.4g}" for k, v in items)


def decision_text(d: dict, llm: dict | None = None) -> str:
    mode = d.get("mode", "rule")
    lines = [f"**{d['trader']}** ({mode} mode) — {d['rationale']}"]
    if d.get("fallback_reason"):
        lines.append(f"⚠️ LLM fell back to its rule logic: {d['fallback_reason']}")
    actions = {s: a for s, a in (d.get("actions") or {}).items() if a != "HOLD"}
    if actions:
        lines.append("Actions: " + ", ".join(f"{a} {s}" for s, a in sorted(actions.items())))
    if d.get("orders"):
        lines.append("Proposed orders: " + "; ".join(order_text(o) for o in d["orders"]))
    else:
        lines.append("No orders proposed.")
    if d.get("cancel_order_ids"):
        lines.append("Cancels: " + ", ".join(d["cancel_order_ids"]))
    if d.get("signals"):
        lines.append("Signals: " + signals_text(d["signals"]))
    if llm:
        calls = llm.get("tool_calls") or []
        if calls:
            lines.append("Tool calls: " + "; ".join(
                f"{c['name']}({', '.join(f'{k}={v}' for k, v in (c.get('args') or {}).items())})"
                + ("" if c.get("ok", True) else " failed") for c in calls))
        lines.append(f"Tokens (estimated): {llm.get('tokens_estimated', 0)}, retries {llm.get('llm_retries', 0)}, "
                     f"cache hits {llm.get('llm_cache_hits', 0)}")
    return "\n".join(lines)


def transcript_text(payload: dict) -> str:
    """An LLM decision's transcript (prompts, answers, tool calls and results) as Markdown, rendered by
    traders/llm/trace_text.py; empty when that renderer is not available."""
    try:
        from traders.llm.trace_text import render_transcript
    except ImportError:
        return ""
    try:
        return "\n\n**Transcript**\n\n" + render_transcript(payload, markdown=True)
    except Exception as exc:  # noqa: BLE001 - a trace the renderer cannot read is said so, not fatal
        return f"\n\n_(transcript not shown: {type(exc).__name__})_"


def risk_text(agent: str, p: dict) -> str:
    parts = [f"**{agent}**: {plural(p.get('accepted', 0), 'order')} passed"]
    if p.get("stop_losses"):
        parts.append(f"{plural(p['stop_losses'], 'stop-loss order')} added")
    text = ", ".join(parts) + "."
    for r in p.get("rejected", []):
        text += f"\n  ✗ rejected ({r['reason']}): {r['message']}"
    for n in p.get("notes", []):
        text += f"\n  note: {n}"
    return text


def fill_text(agent: str, p: dict) -> str:
    verb, prep = ("bought", "from") if p["side"] == "buy" else ("sold", "to")
    return (f"tick {p['tick']}: **{agent}** {verb} {shares(p['qty'])} of {p['symbol']} @ {usd(p['price'])} "
            f"{prep} {p['counterparty']}")


def approval_text(p: dict, orders: int | None = None) -> str:
    """One line per approval decision: what the person answered, in words."""
    kept, answer = p.get("kept") or [], p.get("answer")
    of = f" of {orders}" if orders is not None else ""
    if answer is True or (orders is not None and orders and len(kept) == orders):
        return f"✓ **A person approved** all{of} proposed orders."
    if not kept:
        return f"✗ **A person rejected** all{of} proposed orders: none reached the exchange."
    return (f"✓ **A person kept** {plural(len(kept), 'order')}{of} (numbers "
            f"{', '.join(str(i + 1) for i in kept)}); the others were rejected.")


@dataclass
class CycleStory:
    """One cycle, section by section (the nested steps of the cycle's step)."""

    cycle: int
    market: str = ""
    discussion: list[str] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)
    risk: list[str] = field(default_factory=list)
    execution: list[str] = field(default_factory=list)
    fills: list[str] = field(default_factory=list)
    summary: str = ""
    floor_fills: int = 0
    headline: list[str] = field(default_factory=list)  # the cycle's biggest floor trades: "momentum BUY 80 NVDA"
    thread: str = ""
    branch: int | None = None
    events: list[str] = field(default_factory=list)  # a scenario's events this cycle, one line each


def event_text(p: dict) -> str:
    """A scenario event as a line of the market tick step: "⚑ **halt** AAPL: Trading in AAPL halted ..."."""
    source = f" (source: {p['source']})" if p.get("source") and f"({p['source']})" not in p["headline"] else ""
    return f"⚑ **{p['kind']}** {p.get('symbol') or 'market'}: {p['headline']}{source}"


def cycle_story(ledger: Ledger, cycle: int) -> CycleStory:
    story = CycleStory(cycle)
    traces = list(reversed(ledger.traces(cycle=cycle, limit=None)))  # oldest first
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for t in traces:
        by_kind[t["kind"]].append(t)
    for t in by_kind["market_moved"][:1]:
        quotes = t["payload"].get("quotes", {})
        story.market = "Quotes (bid / ask / last): " + "; ".join(
            f"{s} {usd(q.get('bid'))} / {usd(q.get('ask'))} / {usd(q.get('last'))}" for s, q in quotes.items())
    story.events = [event_text(t["payload"]) for t in sorted(by_kind["scenario_event"],
                                                              key=lambda t: t["payload"].get("tick", 0))]
    if story.events:  # shown first in the market tick step, and counted in the cycle's title
        story.market = "\n\n".join([*story.events, story.market] if story.market else story.events)
    for t in by_kind["topic"][:1]:
        story.discussion.append(f"Topic: *{t['payload'].get('headline', '')}*")
    for m in reversed(ledger.messages(cycle=cycle, limit=None)):
        to = f" → @{', @'.join(m['recipients'])}" if m.get("recipients") else ""
        story.discussion.append(f"[round {m['round']}] **{m['sender']}**{to} (sentiment {m['sentiment']:+.2f}): "
                                f"{m['text']}")
    llm = {t["agent"]: t["payload"] for t in by_kind["llm_transcript"]}
    for t in sorted(by_kind["decision"], key=lambda t: t["agent"]):
        text = decision_text(t["payload"], llm.get(t["agent"]))
        if t["agent"] in llm:
            text += transcript_text(llm[t["agent"]])
        story.decisions[t["agent"]] = text
    # an approval cycle runs the risk node twice (before the pause and on resume): one line per trader
    risk = {t["agent"]: t for t in by_kind["risk_check"]}
    for agent in sorted(risk):
        story.risk.append(risk_text(agent, risk[agent]["payload"]))
    proposed = sum(t["payload"].get("accepted", 0) + t["payload"].get("stop_losses", 0) for t in risk.values())
    for t in by_kind["approval"][-1:]:
        story.risk.append(approval_text(t["payload"], proposed))
    for t in by_kind["rejected"]:
        p = t["payload"]
        story.execution.append(f"**{t['agent']}** order {p['order_id']} rejected ({p['reason']}): {p['message']}")
    for t in by_kind["order"]:
        p = t["payload"]
        story.execution.append(f"**{t['agent']}** order {p['order_id']} arrived #{p['arrival']}: "
                               f"{', '.join(p.get('result', []))}")
    for t in by_kind["cancel"]:
        story.execution.append(f"**{t['agent']}** cancelled {t['payload']['order_id']}")
    fills = sorted(by_kind["fill"], key=lambda t: t["payload"]["tick"])
    story.fills = [fill_text(t["agent"], t["payload"]) for t in fills]
    story.floor_fills = len({(t["payload"]["tick"], t["payload"]["symbol"], t["payload"]["price"], t["payload"]["qty"],
                              frozenset((t["agent"], t["payload"]["counterparty"]))) for t in fills})
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for t in fills:
        totals[(t["agent"], t["payload"]["side"].upper(), t["payload"]["symbol"])] += t["payload"]["qty"]
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    story.headline = [f"{a} {side} {qty:,} {sym}" for (a, side, sym), qty in top]
    return story


def cycle_title(story: CycleStory) -> str:
    """The collapsed step's title: "Cycle 23 · run-1/branch 2 · 2 floor fills · momentum BUY 80 NVDA"."""
    parts = [f"Cycle {story.cycle}"]
    if story.thread:
        parts.append(story.thread + (f"/branch {story.branch}" if story.branch is not None else ""))
    parts.append(plural(story.floor_fills, "floor fill") if story.floor_fills else "no floor fills")
    if story.events:
        parts.append("⚑ " + plural(len(story.events), "scenario event"))
    parts.extend(story.headline)
    return " · ".join(parts)


def summary_text(summary: dict) -> str:
    if not summary:
        return ""
    return (f"{plural(summary.get('trades', 0), 'trade')} ({summary.get('floor_trades', 0)} with floor traders), "
            f"{plural(summary.get('orders', 0), 'floor order')}, {summary.get('rejections', 0)} rejected")
