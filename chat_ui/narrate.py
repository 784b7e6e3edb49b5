"""One cycle's ledger records as readable sentences: the text of the UI's nested steps.

Read from the ledger after the cycle settled (traces, messages, fills), never from graph nodes, so the
same text can be rebuilt for any past cycle of any branch. Rule-mode traces read as reasoning: a
decision is its actions, its orders and its rationale, with its signals as a short list of named
numbers, never a JSON dump.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledger.store import Ledger


def usd(cents: float | int | None) -> str:
    return "n/a" if cents is None else f"${cents / 100:,.2f}"


def order_text(o: dict) -> str:
    kind = o.get("order_type", "limit")
    price = f" @ {usd(o['limit_price'])}" if o.get("limit_price") else (" at market" if kind == "market" else "")
    stop = f" (stop {usd(o['stop_price'])})" if o.get("stop_price") else ""
    return f"{o['side'].upper()} {o['qty']} {o['symbol']}{price}{stop}"


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


def risk_text(agent: str, p: dict) -> str:
    parts = [f"**{agent}**: {p.get('accepted', 0)} order(s) passed"]
    if p.get("stop_losses"):
        parts.append(f"{p['stop_losses']} stop-loss order(s) added")
    text = ", ".join(parts) + "."
    for r in p.get("rejected", []):
        text += f"\n  ✗ rejected ({r['reason']}): {r['message']}"
    for n in p.get("notes", []):
        text += f"\n  note: {n}"
    return text


def fill_text(agent: str, p: dict) -> str:
    verb, prep = ("bought", "from") if p["side"] == "buy" else ("sold", "to")
    return (f"tick {p['tick']}: **{agent}** {verb} {p['qty']} {p['symbol']} @ {usd(p['price'])} "
            f"{prep} {p['counterparty']}")


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
    for t in by_kind["topic"][:1]:
        story.discussion.append(f"Topic: *{t['payload'].get('headline', '')}*")
    for m in reversed(ledger.messages(cycle=cycle, limit=None)):
        to = f" → @{', @'.join(m['recipients'])}" if m.get("recipients") else ""
        story.discussion.append(f"[round {m['round']}] **{m['sender']}**{to} (sentiment {m['sentiment']:+.2f}): "
                                f"{m['text']}")
    llm = {t["agent"]: t["payload"] for t in by_kind["llm_transcript"]}
    for t in sorted(by_kind["decision"], key=lambda t: t["agent"]):
        story.decisions[t["agent"]] = decision_text(t["payload"], llm.get(t["agent"]))
    for t in sorted(by_kind["risk_check"], key=lambda t: t["agent"]):
        story.risk.append(risk_text(t["agent"], t["payload"]))
    for t in by_kind["approval"]:
        story.risk.append(f"**human approval**: answer {t['payload'].get('answer')!r}, kept orders "
                          f"{t['payload'].get('kept')}")
    for t in by_kind["rejected"]:
        p = t["payload"]
        story.execution.append(f"**{t['agent']}** order {p['order_id']} rejected ({p['reason']}): {p['message']}")
    for t in by_kind["order"]:
        p = t["payload"]
        story.execution.append(f"**{t['agent']}** order {p['order_id']} arrived #{p['arrival']}: "
                               f"{', '.join(p.get('result', []))}")
    for t in by_kind["cancel"]:
        story.execution.append(f"**{t['agent']}** cancelled {t['payload']['order_id']}")
    story.fills = [fill_text(t["agent"], t["payload"]) for t in sorted(by_kind["fill"], key=lambda t: t["payload"]["tick"])]
    return story


def summary_text(summary: dict) -> str:
    if not summary:
        return ""
    return (f"{summary.get('trades', 0)} trades ({summary.get('floor_trades', 0)} with floor traders), "
            f"{summary.get('orders', 0)} floor orders, {summary.get('rejections', 0)} rejected")
