"""Answers to a person's questions about the traders, built from what the ledger recorded.

Rule mode (offline, the default) is pure over the ledger: the stored decision traces (a Decision's
rationale, signals, orders and mode), the risk checks, the orders, the fills, positions and PnL. Answers
are factual and specific (numbers, cycles, prices), and say so plainly when no such decision or trade
exists. In LLM mode (`answer_with_llm`) the trader's own model answers with read-only tools only.

Questions understood: "@momentum why did you sell NVDA in cycle 12?", "@arbitrage what is your position
and PnL?", "why did arbitrage lose money?" (its PnL attributed per symbol: realized, unrealized, fees, and
the trades that mattered), "who is winning and why?", and "@trader what did you do in cycle 7?" /
"@trader why?". A trader may be named with or without "@". Anything else gets `HELP` ("I can answer
questions about ..."), never a guess; a claim about an order says whether it filled.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.store import Ledger

HELP = ("I can answer questions about the traders' decisions, positions and PnL, for example: "
        "`@momentum why did you sell NVDA in cycle 12?`, `@arbitrage what is your position and PnL?`, "
        "`why did arbitrage lose money?`, `who is winning and why?`.")


def _usd(cents: float | int | None) -> str:
    return "n/a" if cents is None else f"{'-' if cents < 0 else ''}${abs(cents) / 100:,.2f}"


def _signed(cents: float | int) -> str:
    if round(cents) == 0:
        return "$0.00"
    return f"{'+' if cents > 0 else '-'}${abs(cents) / 100:,.2f}"


def _pct(value: float) -> str:
    """Sign-correct: a loss too small for 2 decimals reads "-0.004%", never "-0.00%"."""
    if value == 0:
        return "0.00%"
    return f"{value:+.2g}%" if abs(value) < 0.005 else f"{value:+.2f}%"


def _shares(qty: int) -> str:
    return f"{qty:,} share" + ("" if abs(qty) == 1 else "s")


def parse_question(text: str, traders: Sequence[str], symbols: Sequence[str]) -> dict[str, Any]:
    """Who is asked, and the cycle, symbol and side the question is about (None when not named)."""
    lower = text.lower()
    mention = re.search(r"@([a-z_][a-z0-9_]*)", lower)
    trader = mention.group(1) if mention and mention.group(1) in traders else None
    unknown = mention.group(1) if mention and trader is None else None
    if mention is None:  # "why did arbitrage lose money?": a trader named without the @
        trader = next((t for t in traders if re.search(rf"\b{re.escape(t.lower())}\b", lower)), None)
    cycle = re.search(r"cycle\s*#?\s*(\d+)", lower)
    symbol = next((s for s in symbols if re.search(rf"\b{s.lower()}\b", lower)), None)
    side = "sell" if re.search(r"\b(sell|sold|selling|short)\b", lower) else (
        "buy" if re.search(r"\b(buy|bought|buying)\b", lower) else None)
    if re.search(r"\b(lose|loses|lost|losing|loss|losses|make|made|making|earn|earned|profit|profits|"
                 r"profitable|gain|gained|gains)\b", lower):
        intent = "pnl"
    elif re.search(r"\b(position|positions|pnl|p&l|holding|holdings|portfolio|cash)\b", lower):
        intent = "position"
    elif re.search(r"\b(winning|winner|leader|leading|best|ahead|who is)\b", lower) and trader is None:
        intent = "winner"
    elif re.search(r"\b(why|what did|did you|decide|decided|decision|buy|bought|sell|sold|trade|traded|order|"
                   r"orders|hold|held|cycle)\b", lower) or (trader and lower.strip().rstrip("?") == f"@{trader}"):
        intent = "decision"
    else:
        intent = "unknown"
    return {"trader": trader, "unknown": unknown, "cycle": int(cycle.group(1)) if cycle else None,
            "symbol": symbol, "side": side, "intent": intent}


def answer(ledger: Ledger, question: str, marks: Mapping[str, int], traders: Sequence[str],
           symbols: Sequence[str]) -> str:
    q = parse_question(question, traders, symbols)
    if q["unknown"]:
        return f"There is no trader called @{q['unknown']} on this floor. Traders: " + ", ".join(
            f"@{t}" for t in traders) + "."
    if q["intent"] == "winner":
        return explain_winner(ledger, marks)
    if q["trader"] is None or q["intent"] == "unknown":
        if q["intent"] == "pnl":
            return "Whose money? Name a trader: " + ", ".join(f"@{t}" for t in traders) + ".\n\n" + HELP
        return HELP
    if q["intent"] == "pnl":
        return explain_pnl(ledger, q["trader"], marks)
    if q["intent"] == "position":
        return explain_position(ledger, q["trader"], marks)
    return explain_decision(ledger, q["trader"], cycle=q["cycle"], symbol=q["symbol"], side=q["side"])


def _decision(ledger: Ledger, trader: str, cycle: int) -> dict | None:
    rows = ledger.traces(cycle=cycle, agent=trader, kind="decision", limit=1)
    return rows[0]["payload"] if rows else None


def _last_fill_cycle(ledger: Ledger, trader: str, symbol: str | None, side: str | None) -> int | None:
    for f in ledger.fills(account=trader, symbol=symbol, limit=None):  # newest first
        if side is None or (f["buyer"] if side == "buy" else f["seller"]) == trader:
            return f["cycle"]
    return None


def explain_decision(ledger: Ledger, trader: str, *, cycle: int | None = None, symbol: str | None = None,
                     side: str | None = None) -> str:
    last = ledger.last_cycle() or 0
    if cycle is None and (symbol or side):
        cycle = _last_fill_cycle(ledger, trader, symbol, side)
        if cycle is None:
            what = f"{'bought' if side == 'buy' else 'sold' if side == 'sell' else 'traded'} {symbol or 'anything'}"
            return (f"I ({trader}) have not {what} on this branch (it is at cycle {last}), so there is no such "
                    f"decision to explain.")
    if cycle is None:
        cycle = last
    if cycle < 1 or cycle > last:
        return f"There is no cycle {cycle} on this branch: it runs from cycle 1 to cycle {last}."
    d = _decision(ledger, trader, cycle)
    if d is None:
        return f"I ({trader}) have no decision recorded in cycle {cycle}."
    lines = []
    own = [o for o in d.get("orders", []) if (symbol is None or o["symbol"] == symbol)
           and (side is None or o["side"] == side)]
    if (symbol or side) and not own:
        what = " ".join(x for x in (side and {"buy": "buy", "sell": "sell"}[side], symbol) if x)
        lines.append(f"No — in cycle {cycle} I did not decide to {what}. What I did decide:")
    else:
        lines.append(f"In cycle {cycle} ({d.get('mode', 'rule')} mode):")
    lines.append(f"- Reasoning: {d['rationale']}")
    if d.get("fallback_reason"):
        lines.append(f"- My LLM failed ({d['fallback_reason']}), so this came from my rule logic.")
    orders = d.get("orders", [])
    if orders:
        lines.append("- Orders I proposed: " + "; ".join(
            f"{o['side']} {o['qty']} {o['symbol']}" + (f" limit {_usd(o['limit_price'])}" if o.get("limit_price")
                                                       else f" {o.get('order_type', '')}") for o in orders))
    else:
        lines.append("- I proposed no orders.")
    sig = d.get("signals", {})
    if symbol:
        sig = {k: v for k, v in sig.items() if k.startswith(symbol + ".")} or sig
    if sig:
        top = sorted(sig.items(), key=lambda kv: -abs(kv[1]))[:6]
        lines.append("- Signals: " + ", ".join(f"{k} = {v:+.4g}" for k, v in top))
    risk = ledger.traces(cycle=cycle, agent=trader, kind="risk_check", limit=1)
    if risk:
        p = risk[0]["payload"]
        rej = "; ".join(f"{r['reason']}: {r['message']}" for r in p.get("rejected", []))
        lines.append(f"- Risk check: {p.get('accepted', 0)} passed, {p.get('stop_losses', 0)} stop-loss orders added"
                     + (f", rejected — {rej}" if rej else "") + ".")
    fills = [f for f in ledger.fills(cycle=cycle, account=trader, symbol=symbol, limit=None)]
    if side:
        fills = [f for f in fills if (f["buyer"] if side == "buy" else f["seller"]) == trader]
    if fills:
        qty = sum(f["qty"] for f in fills)
        avg = sum(f["qty"] * f["price"] for f in fills) / qty
        lines.append(f"- Fills that cycle: {len(fills)} fill{'s' if len(fills) != 1 else ''}, {_shares(qty)} at an "
                     f"average {_usd(avg)} "
                     f"(ticks {', '.join(str(f['tick']) for f in sorted(fills, key=lambda f: f['tick']))}).")
    elif orders:
        lines.append("- None of it filled in that cycle.")
    return "\n".join(lines)


def explain_position(ledger: Ledger, trader: str, marks: Mapping[str, int]) -> str:
    positions = [p for p in ledger.positions(trader, marks) if p.qty]
    cash = ledger.cash(trader)
    row = next((r for r in ledger.leaderboard(marks) if r["account"] == trader), None)
    lines = [f"I'm {trader}, at cycle {ledger.last_cycle() or 0}. Cash {_usd(cash)} "
             f"(available {_usd(ledger.available_cash(trader))})."]
    if positions:
        for p in positions:
            upnl = "n/a" if p.unrealized_pnl is None else _signed(p.unrealized_pnl)
            lines.append(f"- {p.symbol}: {_shares(p.qty)}, cost basis {_usd(abs(p.cost_basis))} (avg {_usd(p.avg_cost)}),"
                         f" mark {_usd(p.mark)}, unrealized {upnl}, realized {_signed(p.realized_pnl)}")
    else:
        lines.append("- I hold no shares.")
    if row:
        lines.append(f"\nPortfolio value {_usd(row['value'])}: PnL {_signed(row['change'])} ({_pct(row['return_pct'])}), "
                     f"realized {_signed(row['realized_pnl'])}, unrealized {_signed(row.get('unrealized_pnl', 0))}, "
                     f"fees {_usd(row.get('fees', 0))}; rank {row.get('rank', '?')}.")
    return "\n".join(lines)


def explain_winner(ledger: Ledger, marks: Mapping[str, int]) -> str:
    board = ledger.leaderboard(marks)
    if not board:
        return "No run has started yet, so nobody is winning."
    top, bottom = board[0], board[-1]
    cycle = ledger.last_cycle() or 0
    if top["change"] == bottom["change"]:
        return f"Nobody is ahead at cycle {cycle}: every trader is at {_signed(top['change'])}."
    lines = [f"At cycle {cycle}, **{top['account']}** ({top.get('theory', '')}) leads with {_usd(top['value'])}, "
             f"PnL {_signed(top['change'])} ({_pct(top['return_pct'])}): realized {_signed(top['realized_pnl'])}, "
             f"unrealized {_signed(top.get('unrealized_pnl', 0))}."]
    fills = ledger.fills(account=top["account"], limit=None)
    if fills:
        lines.append(f"It traded {len(fills)} time{'s' if len(fills) != 1 else ''}, "
                     f"{_shares(sum(f['qty'] for f in fills))} in all.")
    positions = sorted((p for p in ledger.positions(top["account"], marks) if p.qty),
                       key=lambda p: -abs(p.unrealized_pnl or 0))
    if positions:
        p = positions[0]
        lines.append(f"Its biggest contributor is {p.symbol}: {_shares(p.qty)} at avg {_usd(p.avg_cost)}, mark "
                     f"{_usd(p.mark)}, unrealized {_signed(p.unrealized_pnl or 0)}.")
    for t in ledger.traces(agent=top["account"], kind="decision", limit=50):
        if t["payload"].get("orders"):
            lines.append(f"Its latest trading decision (cycle {t['cycle']}): {t['payload']['rationale']} "
                         + _filled_text(ledger, top["account"], t["cycle"], len(t["payload"]["orders"])))
            break
    lines.append(f"\nLast is **{bottom['account']}** at PnL {_signed(bottom['change'])} ({_pct(bottom['return_pct'])}).")
    return "\n\n".join(lines)


def _filled_text(ledger: Ledger, trader: str, cycle: int, orders: int) -> str:
    """Whether a cycle's orders filled (in that cycle), in words."""
    fills = ledger.fills(cycle=cycle, account=trader, limit=None)
    noun = "order" if orders == 1 else "orders"
    if not fills:
        return f"Its {orders} {noun} did not fill in that cycle."
    return (f"Its {orders} {noun} filled in that cycle: {len(fills)} fill{'s' if len(fills) != 1 else ''}, "
            f"{_shares(sum(f['qty'] for f in fills))}.")


def explain_pnl(ledger: Ledger, trader: str, marks: Mapping[str, int], *, top: int = 3) -> str:
    """Why a trader made or lost money: its PnL attributed per symbol (realized, unrealized, fees), with the
    trades that mattered most (the biggest realized results) and the biggest open positions."""
    row = next((r for r in ledger.leaderboard(marks) if r["account"] == trader), None)
    cycle = ledger.last_cycle() or 0
    if row is None:
        return f"I have no account for {trader} on this branch."
    change = row["change"]
    verdict = ("lost money" if change < 0 else "made money" if change > 0 else "neither made nor lost money")
    lines = [f"At cycle {cycle}, **{trader}** has {verdict}: PnL {_signed(change)} ({_pct(row['return_pct'])}) "
             f"against what it started with, valued at today's marks. Realized {_signed(row['realized_pnl'])}, "
             f"unrealized {_signed(row.get('unrealized_pnl', 0))}, fees {_usd(row.get('fees', 0))}."]
    rows = []
    for p in ledger.positions(trader, marks):
        unreal = p.unrealized_pnl or 0
        total = p.realized_pnl + unreal - p.fees
        if p.realized_pnl or unreal or p.fees:
            rows.append((total, p, unreal))
    if rows:
        rows.sort(key=lambda r: (r[0], r[1].symbol))  # the biggest losses first
        if change > 0:
            rows.reverse()  # the biggest gains first
        lines.append("By symbol:")
        for i, (total, p, unreal) in enumerate(rows, 1):
            held = (f"; holds {_shares(p.qty)} at avg {_usd(p.avg_cost)}, mark {_usd(p.mark)}" if p.qty else "; flat")
            lines.append(f"{i}. {p.symbol}: {_signed(total)} — realized {_signed(p.realized_pnl)}, unrealized "
                         f"{_signed(unreal)}, fees {_usd(p.fees)}{held}")
    else:
        lines.append("It has not traded, so no symbol contributed.")
    fills = ledger.fills(account=trader, limit=None)
    mattered = sorted((((f["buyer_realized"] if f["buyer"] == trader else f["seller_realized"]) or 0, f)
                       for f in fills), key=lambda m: m[0])
    mattered = [m for m in (mattered if change <= 0 else mattered[::-1]) if m[0]][:top]
    if mattered:
        lines.append("The trades that mattered most (realized on closing):")
        for i, (realized, f) in enumerate(mattered, 1):
            verb = "bought" if f["buyer"] == trader else "sold"
            lines.append(f"{i}. cycle {f['cycle']}: {verb} {_shares(f['qty'])} of {f['symbol']} @ {_usd(f['price'])}, "
                         f"realized {_signed(realized)}")
    elif fills:
        lines.append(f"None of its {len(fills)} fills closed a position yet: the result is unrealized, "
                     "it moves with the marks.")
    return "\n".join(lines)


def decisions_tool(ledger: Ledger, trader: str):
    """A read-only tool over the trader's own stored decisions and risk checks (its traces)."""
    from langchain_core.tools import StructuredTool

    def my_decisions(cycle: int | None = None, limit: int = 5) -> list[dict]:
        """My recorded decisions (rationale, signals, orders, mode) and their risk checks, newest first;
        one cycle when `cycle` is given."""
        rows = ledger.traces(cycle=cycle, agent=trader, kind="decision", limit=max(1, min(limit, 20)))
        out = []
        for r in rows:
            risk = ledger.traces(cycle=r["cycle"], agent=trader, kind="risk_check", limit=1)
            out.append({"cycle": r["cycle"], "decision": r["payload"], "risk": risk[0]["payload"] if risk else None})
        return out or [{"note": f"no decision recorded{'' if cycle is None else f' in cycle {cycle}'}"}]

    return StructuredTool.from_function(my_decisions, name="my_decisions")


def answer_with_llm(floor: Any, trader: str, question: str, *, model: Any = None, max_rounds: int = 4) -> str:
    """The trader's LLM answers, with read-only tools over its traces, ledger and the market."""
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    from tools.desk import TraderDesk
    from tools.toolset import make_trader_tools
    from traders.llm.model_factory import build_chat_model

    cfg = floor.config.trader(trader)
    desk = TraderDesk(trader=trader, exchange=floor.exchange, ledger=floor.ledger,
                      cycle=floor.ledger.last_cycle() or 0, lock=floor.lock)
    tools = {t.name: t for t in [*make_trader_tools(desk, read_only=True), decisions_tool(floor.ledger, trader)]}
    llm = model or floor.llm_models.get(trader) or build_chat_model(floor.config.llm_for(cfg))
    bound = llm.bind_tools(list(tools.values()))
    msgs = [SystemMessage(f"You are {trader}, a {cfg.theory} trader on a simulated floor. Answer the person's "
                          "question about your decisions factually, using your read-only tools; say so when no "
                          "such decision exists. Prices are in cents in tool output."), HumanMessage(question)]
    for _ in range(max_rounds):
        reply = bound.invoke(msgs)
        msgs.append(reply)
        if not getattr(reply, "tool_calls", None):
            return str(reply.content)
        for call in reply.tool_calls:
            tool = tools.get(call["name"])
            out = tool.invoke(call["args"]) if tool else f"no tool {call['name']}"
            msgs.append(ToolMessage(str(out), tool_call_id=call["id"]))
    return str(msgs[-1].content) if hasattr(msgs[-1], "content") else "I could not finish answering."
