"""A stored decision trace as readable text or Markdown: what the trader saw, asked, was told and decided.

`render_decision(cycle, trader, traces, markdown=False) -> str` takes the ledger's trace rows of one
trader in one cycle (`Ledger.traces(cycle=..., agent=...)`: dicts with `node`, `kind`, `payload`) and
renders, in order:
- the decision: mode (`llm`, `rule`, or `fallback` with its reason), actions, orders, rationale;
- for an LLM decision, each model turn: the prompt messages it added (each text once: later turns that
  resend it say so by reference), the model's answer, and each tool call with its arguments, whether it
  succeeded, and its result;
- what happened to the intents staged by the tools (sent, or dropped and why), chat posts, parse errors;
- the risk check and the fills of the cycle.

`render_transcript(payload, markdown=False)` renders one `llm_transcript` payload alone (the UI's
decision step can show it). Pure functions: no I/O, no LangChain; used by `trading-floor explain`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

MAX_TEXT = 6000  # characters of one prompt text or tool result shown; longer ones are cut, and say so


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f" …[{len(text) - limit} more characters]"


def _money(cents: Any) -> str:
    return "-" if cents is None else f"${cents / 100:,.2f}"


def _order(o: Mapping[str, Any]) -> str:
    kind = o.get("order_type", "limit")
    price = ""
    if o.get("limit_price") is not None:
        price += f" limit {_money(o['limit_price'])}"
    if o.get("stop_price") is not None:
        price += f" stop {_money(o['stop_price'])}"
    return f"{o.get('side', '?')} {o.get('qty', '?')} {o.get('symbol', '?')} {kind}{price} {o.get('tif', '')}".strip()


class _Out:
    def __init__(self, markdown: bool) -> None:
        self.md = markdown
        self.lines: list[str] = []

    def head(self, text: str, level: int = 2) -> None:
        self.lines.append(("#" * level + " " + text) if self.md else (text if level > 2 else text.upper()))

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def item(self, text: str, indent: int = 0) -> None:
        self.lines.append("  " * indent + "- " + text)

    def block(self, text: str, indent: int = 1) -> None:
        if self.md:
            self.lines += ["", "```", _cut(text).replace("```", "'''"), "```", ""]
        else:
            pad = "    " * indent
            self.lines += [pad + row for row in _cut(text).splitlines() or [""]]

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _decision(out: _Out, d: Mapping[str, Any]) -> None:
    mode = d.get("mode", "rule")
    out.item(f"mode: {mode}" + (f" (fallback: {d.get('fallback_reason')})" if mode == "fallback" else ""))
    actions = d.get("actions") or {}
    if actions:
        out.item("actions: " + ", ".join(f"{s} {a}" for s, a in sorted(actions.items())))
    orders = d.get("orders") or []
    out.item("orders: " + ("none" if not orders else "; ".join(_order(o) for o in orders)))
    if d.get("cancel_order_ids"):
        out.item("cancels: " + ", ".join(d["cancel_order_ids"]))
    out.item(f"rationale: {d.get('rationale', '')}")


def _args(args: Any) -> str:
    if isinstance(args, Mapping):
        return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in args.items())
    return json.dumps(args, default=str)


def _transcript(out: _Out, p: Mapping[str, Any]) -> None:
    texts: Mapping[str, Mapping[str, str]] = p.get("texts") or {}
    turns = p.get("turns") or []
    calls = p.get("tool_calls") or []
    seen: dict[str, int] = {}
    for turn in turns:
        step = turn.get("step", 0)
        usage = turn.get("usage") or [0, 0]
        refs = turn.get("prompt") or []
        again = [r for r in refs if r in seen and not texts.get(r, {}).get("role", "").startswith(("tool", "assistant"))]
        out.head(f"Turn {step}: {len(refs)} messages sent, {usage[0]:,} tokens in, {usage[1]:,} out", 3)
        if again:
            out.item("resent: " + ", ".join(f"{texts.get(r, {}).get('role', '?')} message of turn {seen[r]}"
                                            for r in again))
        for ref in refs:
            if ref in seen:
                continue
            seen[ref] = step
            t = texts.get(ref, {"role": "?", "text": f"(text {ref} not stored)"})
            role = t.get("role", "?")
            if role.startswith("tool") or role == "assistant":
                continue  # shown below as the tool calls' results and the model's answers
            out.item(f"{role} message:")
            out.block(t.get("text", ""))
        if turn.get("failed"):
            out.item(f"no answer: {turn['failed']}")
        else:
            out.item("model answered:")
            out.block(turn.get("answer") or "(empty)")
        for c in (c for c in calls if c.get("step") == step):
            mark = "ok" if c.get("ok") else "FAILED"
            out.item(f"tool {c.get('name')}({_args(c.get('args'))}) -> {mark}")
            if "result" in c:
                out.block(str(c["result"]), indent=2)
    if not turns and calls:  # a trace written before turns were stored
        for c in calls:
            out.item(f"tool {c.get('name')}({_args(c.get('args'))}) -> {'ok' if c.get('ok') else 'FAILED'}")
    summary = (f"{p.get('llm_steps', 0):g} turns, {p.get('llm_tool_calls', 0):g} tool calls, "
               f"{p.get('llm_input_tokens', 0):,.0f} tokens in, {p.get('llm_output_tokens', 0):,.0f} out"
               + (" (estimated)" if p.get("tokens_estimated") else "")
               + f", {p.get('llm_retries', 0)} retries, {p.get('llm_cache_hits', 0)} answers from the cache")
    out.head("Model use", 3)
    out.item(summary)
    if p.get("failure"):
        out.item(f"the loop failed: {p['failure']}")
    if p.get("circuit_opened"):
        out.item(f"this failure opened the circuit of {p['circuit_opened']}")
    for e in p.get("parse_errors") or []:
        out.item(f"unreadable answer: {e}")
    for r in p.get("rejected_orders") or []:
        problems = "; ".join(x.get("message", "") for x in r.get("problems", [])) if isinstance(r, Mapping) else r
        out.item(f"order rejected at the edge: {problems}")
    added, dropped = p.get("staged_added") or [], p.get("staged_dropped") or []
    if added or dropped:
        out.head("Staged by the tools", 3)
        for o in added:
            out.item(f"sent with the decision: {_order(o)}")
        for o in dropped:
            what = _order(o) if "side" in o else f"cancel {o.get('cancel_order_id')}"
            out.item(f"not sent: {what} ({o.get('why', '')})")
    posts = p.get("staged_messages") or []
    if posts:
        done = f"posted {p['messages_posted']}" if p.get("messages_posted") else p.get("messages_dropped", "")
        out.head("Chat posts", 3)
        for text in posts:
            out.item(json.dumps(text))
        out.item(done)


def render_transcript(payload: Mapping[str, Any], *, markdown: bool = False) -> str:
    """One `llm_transcript` trace payload as text (see the module docstring)."""
    out = _Out(markdown)
    _transcript(out, payload)
    return out.text()


def render_decision(cycle: int, trader: str, traces: Iterable[Mapping[str, Any]], *, markdown: bool = False) -> str:
    """A trader's cycle from its trace rows (see the module docstring)."""
    rows = list(traces)
    out = _Out(markdown)
    out.head(f"Cycle {cycle}, {trader}", 1 if markdown else 2)
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r.get("kind", ""), []).append(r.get("payload") or {})
    if not rows:
        out.line(f"no trace of {trader} in cycle {cycle}")
        return out.text()
    for d in by_kind.get("decision", []):
        out.head("Decision")
        _decision(out, d)
    for chat in by_kind.get("chat_llm", []):
        out.item(f"chat message round {chat.get('round')}: {chat.get('mode')}"
                 + (f" ({chat.get('fallback_reason')})" if chat.get("fallback_reason") else ""))
    for p in by_kind.get("llm_transcript", []):
        out.head("LLM transcript")
        _transcript(out, p)
    for risk in by_kind.get("risk_check", []):
        out.head("Risk check")
        out.item(f"accepted {risk.get('accepted', 0)}, stop-losses {risk.get('stop_losses', 0)}")
        for r in risk.get("rejected") or []:
            out.item(f"rejected ({r.get('reason')}): {r.get('message')}")
        for note in risk.get("notes") or []:
            out.item(f"note: {note}")
    fills = by_kind.get("fill", [])
    if fills:
        out.head("Fills")
        for f in fills:
            out.item(f"{f.get('side')} {f.get('qty')} {f.get('symbol')} at {_money(f.get('price'))} "
                     f"(tick {f.get('tick')}, with {f.get('counterparty')})")
    return out.text()
