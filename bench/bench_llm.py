"""`bench llm`: six LLM traders against the OpenAI stub (its own process, 300 ms per answer).

The stub answers like a small model that behaves: a chat request gets a sentence; a decision's first turn
calls the first read tool it is offered, its second turn calls `submit_decision` (holding). Every request
body is recorded by the stub and measured here afterwards ("replays the recorded requests"):

- tokens per decision against the 5k target: o200k_base token counts (the gpt-4o family's encoding) from
  `bpe-openai`, which ships its vocabulary in the wheel (tiktoken downloads its encodings at run time,
  which fails offline). A request counts its messages' text and tool-call arguments, 4 tokens per message
  and 3 for the reply, plus the tool schemas as compact JSON; OpenAI renders schemas in a terser form of
  its own, so this errs high. The tool loop's chars/4 estimate is printed next to it;
- requests per cycle, and turns per decision;
- cycle time against one latency per sequential stage (the chat rounds held, then the decision's turns):
  about 1x when the traders' calls run in parallel, 6x if they ran one after another;
- under a 10% error rate (alternately HTTP 429 with `Retry-After: 1` and HTTP 500), the share of decisions
  that fall back (target under 2%), with the reasons, and the same timing figures.

The floor's decisions are sent the way graphs/nodes/decide.py builds them today. When it does not yet pass
the trader's config to `render_view` and trim the tools with `tools_for_theory`, the bench also sends the
same cycles' decisions that way itself, through `llm_decide_detailed`, and reports both.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LATENCY = 0.3
ERROR_RATE = 0.10
TARGET_TOKENS = 5000
TARGET_FALLBACK = 0.02
CYCLES = 6  # timed clean cycles, after one warm-up cycle
ERROR_CYCLES = 40  # 240 decisions under the error rate
TESTS = Path(__file__).resolve().parents[1] / "tests"
READ_ARGS = {"quote": {"symbol": "NVDA"}, "depth": {"symbol": "NVDA", "levels": 5},
             "price_history": {"symbol": "NVDA", "cycles": 30}, "recent_trades": {"symbol": "NVDA", "limit": 10}}
HOLD = {"orders": [], "actions": {}, "rationale": "Holding: my theory sees nothing to trade (bench model)."}


# The stub, in its own process ---------------------------------------------------------------------------


def _policy_stub(latency: float, error_rate: float, seed: int):
    """An OpenAIStub whose answer depends on the request (so parallel traders need no per-trader script),
    and that fails a seeded `error_rate` share of requests."""
    import random
    import threading

    sys.path.insert(0, str(TESTS))
    from support.openai_stub import OpenAIStub, Reply

    def rate_limited() -> Reply:
        try:
            return Reply.error(429, "rate limited (bench)", retry_after=1.0)
        except TypeError:  # a stub without Retry-After support
            return Reply.error(429, "rate limited (bench)")

    class PolicyStub(OpenAIStub):
        rng = random.Random(seed)
        lock = threading.Lock()
        failures = 0

        log: list = []  # (arrival time, body digest, status) per request

        def _next(self, body):
            super()._next(body)  # records the request; the script queue stays empty
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            with self.lock:
                fail = self.rng.random() < error_rate
                if fail:
                    self.failures += 1
                    status = 429 if self.failures % 2 else 500
                    self.log.append((time.monotonic(), digest, status))
                    return rate_limited() if status == 429 else Reply.error(500, "internal error (bench)")
                self.log.append((time.monotonic(), digest, 200))
            tools = [t["function"]["name"] for t in body.get("tools") or []]
            if not tools:
                return Reply.text("NVDA looks steady to me; I hold and watch the spread.")
            turns = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
            reads = [n for n in tools if n != "submit_decision"]
            if turns == 0 and reads:
                return Reply.tool_calls((reads[0], READ_ARGS.get(reads[0], {})))
            return Reply.tool_calls(("submit_decision", HOLD))

    return PolicyStub(latency_s=latency)


def _serve(conn, latency: float, error_rate: float, seed: int) -> None:
    """Child process: the stub; answers "requests" with the bodies recorded so far, until "stop"."""
    with _policy_stub(latency, error_rate, seed) as stub:
        conn.send(stub.base_url)
        while (command := conn.recv()) != "stop":
            conn.send(list(stub.log) if command == "log" else stub.requests)


class _Server:
    def __init__(self, latency: float, error_rate: float, seed: int = 15) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, there = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(there, latency, error_rate, seed), daemon=True)
        self.proc.start()
        if not self.conn.poll(60):
            raise RuntimeError("the stub server process did not start")
        self.base_url = self.conn.recv()

    def requests(self) -> list[dict]:
        self.conn.send("requests")
        return self.conn.recv()

    def log(self) -> list[tuple[float, str, int]]:
        self.conn.send("log")
        return self.conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send("stop")
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def retry_gaps(log: list[tuple[float, str, int]]) -> dict[int, list[float]]:
    """Seconds from each failed request to the client's next identical request (its retry), by status."""
    gaps: dict[int, list[float]] = defaultdict(list)
    for i, (at, digest, status) in enumerate(log):
        if status != 200:
            again = next((t for t, d, _ in log[i + 1:] if d == digest), None)
            if again is not None:
                gaps[status].append(again - at)
    return gaps


# Measuring recorded requests --------------------------------------------------------------------------


def _encoder():
    import warnings

    import bpe_openai

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bpe_openai.get_encoding("o200k_base")


def _text(content) -> str:
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content or ""


def request_tokens(enc, body: dict) -> int:
    """o200k tokens of one chat-completions request (see the module docstring for what is counted)."""
    n = 3
    for m in body.get("messages", []):
        n += 4 + len(enc.encode(_text(m.get("content"))))
        if m.get("tool_calls"):
            n += len(enc.encode(json.dumps(m["tool_calls"], separators=(",", ":"))))
    if body.get("tools"):
        n += len(enc.encode(json.dumps(body["tools"], separators=(",", ":"))))
    return n


def chars4_tokens(body: dict) -> int:
    """The tool loop's estimate when a server reports no usage: characters of the messages / 4."""
    return sum(len(_text(m.get("content"))) for m in body.get("messages", [])) // 4 + 1


def _who(body: dict) -> tuple[str | None, int | None]:
    msgs = body.get("messages", [])
    system = next((_text(m.get("content")) for m in msgs if m.get("role") == "system"), "")
    user = next((_text(m.get("content")) for m in msgs if m.get("role") == "user"), "")
    name, cycle = re.search(r"You are (\w+)", system), re.search(r"\bCycle (\d+)\.", user)
    return (name.group(1) if name else None), (int(cycle.group(1)) if cycle else None)


def decisions_of(requests: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """Decision requests (those offering tools) grouped by (trader, cycle), in the order sent."""
    out: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for body in requests:
        if body.get("tools"):
            name, cycle = _who(body)
            if name is not None and cycle is not None:
                out[(name, cycle)].append(body)
    return out


def _token_figures(enc, decisions: dict[tuple[str, int], list[dict]]) -> dict:
    per = [sum(request_tokens(enc, b) for b in bodies) for bodies in decisions.values()]
    first = [request_tokens(enc, bodies[0]) for bodies in decisions.values()]
    by_trader: dict[str, list[int]] = defaultdict(list)
    for (name, _), bodies in decisions.items():
        by_trader[name].append(sum(request_tokens(enc, b) for b in bodies))
    schemas = [len(enc.encode(json.dumps(bodies[0]["tools"], separators=(",", ":")))) for bodies in decisions.values()]
    est = [sum(chars4_tokens(b) for b in bodies) for bodies in decisions.values()]
    return {"mean": statistics.mean(per), "max": max(per), "first": statistics.mean(first),
            "schemas": statistics.mean(schemas), "chars4": statistics.mean(est),
            "turns": statistics.mean(len(b) for b in decisions.values()), "n": len(per),
            "by_trader": {k: statistics.mean(v) for k, v in sorted(by_trader.items())}}


def _print_tokens(label: str, f: dict) -> None:
    print(f"{label}: {f['mean']:,.0f} input tokens per decision on average (max {f['max']:,}; target <= "
          f"{TARGET_TOKENS:,}) -> {f['mean'] / TARGET_TOKENS:.2f}x the target; {f['n']} decisions, "
          f"{f['turns']:.2f} turns each; first request {f['first']:,.0f} tokens, of which tool schemas "
          f"{f['schemas']:,.0f}; chars/4 estimate {f['chars4']:,.0f} ({f['chars4'] / f['mean']:.2f}x o200k)")
    print("  per trader: " + ", ".join(f"{k} {v:,.0f}" for k, v in f["by_trader"].items()))


# The floor ----------------------------------------------------------------------------------------------


def _config(base_url: str, max_retries: int):
    from floor.config import load_config

    base = load_config()
    llm = {"name": "stub", "model": "stub-model", "base_url": base_url, "api_key_env": None, "use_cache": False,
           "max_retries": max_retries, "timeout_s": 10}
    return load_config(llm_configs=[llm], traders=[
        t.model_dump(mode="json") | {"mode": "llm", "llm": "stub"} for t in base.traders])


def _stages(session, cycles: range, decisions: dict[tuple[str, int], list[dict]]) -> float:
    """Mean sequential stages per cycle: the chat rounds held plus the most turns any decision took."""
    rounds: dict[int, set] = defaultdict(set)
    for t in session.floor.ledger.traces(kind="chat_llm", limit=None):
        rounds[t["cycle"]].add((t.get("payload") or {}).get("round"))
    turns: dict[int, int] = defaultdict(int)
    for (_, cycle), bodies in decisions.items():
        turns[cycle] = max(turns[cycle], len(bodies))
    return statistics.mean(len(rounds[c]) + turns[c] for c in cycles)


def _run_floor(tmp: Path, name: str, error_rate: float, cycles: int, max_retries: int, also=None):
    """Run the floor against a fresh stub; returns (seconds per cycle, requests, session figures)."""
    from floor.session import FloorSession

    server = _Server(LATENCY, error_rate)
    try:
        cfg = _config(server.base_url, max_retries)
        session = FloorSession(tmp / f"{name}.db", cfg)
        session.start()
        session.run(1)  # warm-up: imports, client construction
        before = len(server.requests())
        seconds = []
        for _ in range(cycles):
            start = time.perf_counter()
            session.run(1)
            seconds.append(time.perf_counter() - start)
            if also is not None:
                also(session, cfg)
        requests = server.requests()[before:]
        gaps = retry_gaps(server.log())
        first = 2
        timed = range(first, first + cycles)
        decisions = {k: v for k, v in decisions_of(requests).items() if k[1] in timed}
        stages = _stages(session, timed, decisions)
        modes = Counter()
        reasons = Counter()
        retries = sum(int((t.get("payload") or {}).get("llm_retries") or 0)
                      for t in session.floor.ledger.traces(kind="llm_transcript", limit=None) if t["cycle"] in timed)
        for t in session.floor.ledger.traces(kind="decision", limit=None):
            if t["cycle"] in timed:
                payload = t.get("payload") or {}
                modes[payload.get("mode")] += 1
                if payload.get("mode") == "fallback":
                    reasons[str(payload.get("fallback_reason"))[:70]] += 1
        session.close()
    finally:
        server.stop()
    return {"per_cycle": statistics.mean(seconds), "requests": len(requests) / cycles, "decisions": decisions,
            "stages": stages, "modes": modes, "reasons": reasons, "traders": len(cfg.traders), "retries": retries,
            "gaps": gaps}


def _briefed_sender(base_url: str, records: list):
    """After each cycle: the same views sent as decide.py would with `render_view(view, cfg)` and
    `tools_for_theory`, through `llm_decide_detailed`, in parallel (no budget, no cache)."""
    from tools.desk import TraderDesk
    from tools.toolset import make_trader_tools
    from traders.base import rule_decision
    from traders.llm.tool_specs import tools_for_theory
    from traders.llm.trader import llm_decide_detailed
    from traders.view_text import render_view

    def one(floor, llm_cfg, cfg, view):
        desk = TraderDesk(trader=cfg.name, exchange=floor.exchange, ledger=floor.ledger, cycle=view.cycle,
                          lock=floor.lock, staged_orders=[], staged_cancels=[], staged_messages=[])
        tools = tools_for_theory(make_trader_tools(desk), cfg.theory)
        return llm_decide_detailed(render_view(view, cfg), tools, llm_cfg, None, None,
                                   lambda: rule_decision(view, cfg), cfg, view.cycle, symbols=list(floor.by_symbol))

    def send(session, cfg) -> None:
        floor = session.floor
        llm_cfg = cfg.llm_configs[0].model_copy(update={"base_url": base_url})
        with ThreadPoolExecutor(len(cfg.traders)) as pool:
            results = list(pool.map(lambda t: one(floor, llm_cfg, t, floor.work.views[t.name]), cfg.traders))
        records.extend(r.decision.mode for r in results)

    return send


def main() -> bool:
    enc = _encoder()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clean = _run_floor(tmp, "clean", 0.0, CYCLES, max_retries=2)
        floor_tokens = _token_figures(enc, clean["decisions"])
        sample = next(iter(clean["decisions"].values()))[0]
        wired = "Your risk limits" in _text(next(m["content"] for m in sample["messages"] if m["role"] == "user"))
        print(f"LLM mode, {clean['traders']} traders, stub latency {1000 * LATENCY:.0f} ms (its own process), "
              f"{CYCLES} cycles after a warm-up:")
        _print_tokens("  tokens, as the floor sends decisions" + ("" if wired else
                      " (decide.py: render_view(view), every tool)"), floor_tokens)
        ratio = clean["per_cycle"] / (clean["stages"] * LATENCY)
        print(f"  {clean['requests']:.1f} requests per cycle; {clean['per_cycle']:.2f}s per cycle in "
              f"{clean['stages']:.1f} sequential stages (chat rounds + decision turns) -> {ratio:.2f}x one "
              f"latency per stage (about 1 when parallel; {clean['traders']} if the traders ran one by one)")
        ok_tokens = floor_tokens["mean"] <= TARGET_TOKENS
        if not wired:
            stub = _Server(LATENCY, 0.0)
            try:
                modes: list[str] = []
                _run_floor_briefed = _briefed_sender(stub.base_url, modes)
                _run_floor(tmp, "briefed", 0.0, 3, max_retries=2, also=_run_floor_briefed)
                briefed = _token_figures(enc, decisions_of(stub.requests()))
            finally:
                stub.stop()
            _print_tokens("  tokens, the same views briefed (render_view(view, cfg)) with tools_for_theory",
                          briefed)
            print(f"  (decide.py does not pass the config and trimmed tools yet; {Counter(modes)} decisions sent so)")
            ok_tokens = briefed["mean"] <= TARGET_TOKENS

        faulty = _run_floor(tmp, "errors", ERROR_RATE, ERROR_CYCLES, max_retries=2)
        total = sum(faulty["modes"].values())
        fell = faulty["modes"].get("fallback", 0)
        share = fell / total if total else 1.0
        bound = f"; none of {total}: the true share is below {3 / total:.1%} at 95%" if total and not fell else ""
        print(f"  {ERROR_RATE:.0%} of requests failing (429 with Retry-After: 1 s, and 500, alternately), "
              f"max_retries 2: {fell} of {total} decisions fell back = {share:.1%} (target < "
              f"{TARGET_FALLBACK:.0%}{bound}); "
              f"{faulty['retries']} retries in the decisions; {faulty['per_cycle']:.2f}s per cycle "
              f"({faulty['per_cycle'] / clean['per_cycle']:.2f}x the clean run), {faulty['requests']:.1f} requests per cycle")
        for status, label in ((429, "429 (Retry-After: 1 s)"), (500, "500")):
            g = sorted(faulty["gaps"].get(status, []))
            if g:
                print(f"    after a {label}: the client retried {len(g)} times, after {g[0]:.2f}s at the least, "
                      f"{statistics.median(g):.2f}s median (the stub's 300 ms latency included)")
        for reason, n in faulty["reasons"].most_common(5):
            print(f"    {n} x {reason}")
    return ok_tokens and share < TARGET_FALLBACK and ratio < 2.0


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
