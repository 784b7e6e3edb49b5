"""The whole cycle graph: a rule-based run, flat cost per cycle, and LLM-mode parallelism.

Figures (issue 5):
- a 1,000-cycle rule-based run with six traders, the default background market and checkpoints on:
  >= 10,000 trades in <= 20 s; printed next to the bare background market over the same cycles
  (exchange only, no graph, no ledger) measured in the same run;
- flat cost: cycles 4,900-5,000 take at most 1.1x the time of cycles 100-200 (issue 21; the same cycles of a
  fresh run of the same seed, timed in blocks alternating with the late ones); the database's growth over
  the same windows is bench_storage's;
- today's speed against the floor before issue 21 (commit REFERENCE), both run as fresh processes in
  alternating turns on this machine: issue 21's target is at most 0.5x the reference's time;
- LLM mode against the local stub server with a fixed 300 ms latency and six LLM traders: seconds per
  cycle in units of the latency (about 1 when decisions run in parallel; 6 if they ran one after another).
"""
from __future__ import annotations

import json
import multiprocessing
import operator
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from floor.config import load_config
from floor.session import FloorSession
from market.background import BackgroundMarket
from market.exchange import Exchange


class _EmptyState(TypedDict, total=False):
    cycle: int
    decisions: Annotated[list, operator.add]


CYCLES = 1000
LONG = 5000
WINDOW = 100  # cycles 100-200 against cycles 4,900-5,000
BLOCK = 10
FLAT_TARGET = 1.1  # issue 21 (issue 5 had 1.2)
LATENCY = 0.3
# the last commit before issue 21's first change: "today's time" of the issue, measured again in this run
REFERENCE = "68f30f30266c60855aa7fc42fc36b935ccfedd24"
REFERENCE_ROUNDS = 3
SPEED_TARGET = 0.5
ROOT = Path(__file__).resolve().parents[1]


def _bare_market(cycles: int, cfg) -> float:
    ex = Exchange(background=BackgroundMarket(cfg.market, seed=cfg.seed))
    start = time.perf_counter()
    for _ in range(cycles):
        ex.advance(cfg.market.ticks_per_cycle)
        ex.end_cycle()
    return time.perf_counter() - start


def _empty_graph(tmp: Path, cycles: int) -> float:
    """Seconds for `cycles` invocations of a graph of the cycle's shape when issue 21 was filed, whose nodes do
    nothing (six nodes, one Send per trader, SqliteSaver, durability "exit"): the issue's measure of LangGraph's
    own cost per cycle on this machine (the floor now runs five nodes: graphs/cycle_graph.py)."""
    g = StateGraph(_EmptyState)
    for name in ("market_tick", "discussion", "risk", "execution"):
        g.add_node(name, lambda s: {})
    g.add_node("decide", lambda s: {"decisions": [1]})
    g.add_node("settle", lambda s: {"cycle": s.get("cycle", 0) + 1})
    g.add_edge(START, "market_tick")
    g.add_edge("market_tick", "discussion")
    g.add_conditional_edges("discussion", lambda s: [Send("decide", {}) for _ in range(6)], ["decide"])
    for a, b in (("decide", "risk"), ("risk", "execution"), ("execution", "settle"), ("settle", END)):
        g.add_edge(a, b)
    conn = sqlite3.connect(tmp / "empty-graph.db", check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")  # as FloorSession's checkpoint file
    conn.execute("PRAGMA synchronous=NORMAL")
    app = g.compile(checkpointer=SqliteSaver(conn))
    cfg = {"configurable": {"thread_id": "bench"}}
    start = time.perf_counter()
    for _ in range(cycles):
        app.invoke({}, cfg, durability="exit")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _rule_run(tmp: Path) -> bool:
    cfg = load_config()
    session = FloorSession(tmp / "bench.db", cfg)
    session.start()
    stamps, trades = [time.perf_counter()], []
    cpu0 = time.process_time()
    for report in session.iter_cycles(LONG - WINDOW):
        stamps.append(time.perf_counter())
        trades.append(report.summary["trades"])
        if len(trades) == CYCLES:
            t1000 = stamps[-1] - stamps[0]
            cpu1000 = time.process_time() - cpu0
            n1000 = sum(trades)
            bare = _bare_market(CYCLES, cfg)
            empty = _empty_graph(tmp, CYCLES)
            print(f"rule run, {CYCLES} cycles, 6 traders, checkpoints on: {t1000:.2f}s, {n1000:,} trades "
                  f"(targets <= 20 s, >= 10,000 trades); CPU time {cpu1000:.2f}s (what other load cannot inflate)")
            print(f"  bare background market, same cycles: {bare:.2f}s -> graph + ledger + checkpoints cost "
                  f"{t1000 / bare:.2f}x the market alone; {1000 * t1000 / CYCLES:.1f} ms per cycle")
            print(f"  an empty graph of the issue's shape (6 nodes, 6 Sends, SqliteSaver), same cycles: {empty:.2f}s; "
                  f"bare market + empty graph = {bare + empty:.2f}s, the floor's own work the other "
                  f"{t1000 - bare - empty:.2f}s")
        if len(trades) % 1000 == 0:
            print(f"  ... {len(trades)} cycles, {stamps[-1] - stamps[0]:.1f}s", flush=True)
    early, late, same, block_ratio = _flat_cost(tmp, cfg, session, trades)
    print(f"cost per cycle: cycles {LONG - WINDOW}-{LONG} {1000 * late:.2f} ms vs cycles {WINDOW}-{2 * WINDOW} "
          f"{1000 * early:.2f} ms, ratio {late / early:.2f}x (target <= {FLAT_TARGET}x); median of the {WINDOW // BLOCK} "
          f"paired blocks' ratios {block_ratio:.2f}x (a ratio far above it means a slow spell hit a few blocks)")
    print(f"  (the early window is a fresh run of the same seed, its cycles {'identical' if same else 'NOT identical'} "
          f"to this run's, timed in blocks of {BLOCK} cycles alternating with the late window so that the "
          f"machine's drift over the run does not enter the ratio)")
    db_mb = sum(f.stat().st_size for f in tmp.glob("bench.*")) / 1e6
    print(f"  database files after {LONG} cycles: {db_mb:.1f} MB (bytes per 1,000 cycles and their growth: "
          "`python -m bench storage`)")
    session.close()
    return t1000 <= 20 and n1000 >= 10_000 and late / early <= FLAT_TARGET and same


def _flat_cost(tmp: Path, cfg, long_session: FloorSession,
               long_trades: list[int]) -> tuple[float, float, bool, float]:
    """Mean seconds per cycle of cycles WINDOW..2*WINDOW and of the long run's last WINDOW cycles.

    Same seed, same cycles: a fresh run's cycles 1..2*WINDOW are the long run's. The two windows are run
    in alternating blocks, so a slower or faster spell of this shared machine falls on both alike. Also
    returns the median over block pairs of late/early, which a short spike in a few blocks does not move."""
    fresh = FloorSession(tmp / "bench-fresh.db", cfg)
    fresh.start()
    fresh_trades = [r.summary["trades"] for r in fresh.iter_cycles(WINDOW)]
    early_it, late_it = fresh.iter_cycles(WINDOW), long_session.iter_cycles(WINDOW)
    blocks: dict[str, list[float]] = {"early": [], "late": []}
    for _ in range(WINDOW // BLOCK):
        for name, it in (("late", late_it), ("early", early_it)):
            start = time.perf_counter()
            for _ in range(BLOCK):
                report = next(it)
                if name == "early":
                    fresh_trades.append(report.summary["trades"])
            blocks[name].append(time.perf_counter() - start)
    fresh.close()
    same = fresh_trades == long_trades[: 2 * WINDOW]
    ratio = statistics.median(b / a for a, b in zip(blocks["early"], blocks["late"], strict=True))
    return sum(blocks["early"]) / WINDOW, sum(blocks["late"]) / WINDOW, same, ratio


TESTS = Path(__file__).resolve().parents[1] / "tests"


def _serve_stub(conn, latency: float) -> None:
    """Child process: the OpenAI-compatible stub (as a real endpoint, it does not share our GIL). Sends its
    base URL, then answers each "count" with the number of requests served, until "stop"."""
    sys.path.insert(0, str(TESTS))
    from support.openai_stub import OpenAIStub, Reply

    # one answer serves both stages: a chat message (any text) and a decision (JSON content)
    answer = Reply.text('{"orders": [], "rationale": "holding for the benchmark"}')
    with OpenAIStub(latency_s=latency, default=answer) as stub:
        conn.send(stub.base_url)
        while conn.recv() != "stop":
            conn.send(len(stub.requests))


def _llm_run(tmp: Path) -> bool:
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    server = ctx.Process(target=_serve_stub, args=(there, LATENCY), daemon=True)
    server.start()
    try:
        if not here.poll(60):
            raise RuntimeError("the stub server process did not start")
        base_url = here.recv()

        def served() -> int:
            here.send("count")
            return here.recv()

        base = load_config()
        llm = {"name": "stub", "model": "stub-model", "base_url": base_url, "api_key_env": None,
               "use_cache": False, "max_retries": 0, "timeout_s": 10}
        cfg = load_config(llm_configs=[llm], traders=[
            t.model_dump(mode="json") | {"mode": "llm", "llm": "stub"} for t in base.traders])
        session = FloorSession(tmp / "llm.db", cfg)
        session.start()
        session.run(1)  # warm-up: imports, client construction
        before = served()
        start = time.perf_counter()
        session.run(5)
        per_cycle = (time.perf_counter() - start) / 5
        requests = (served() - before) / 5
        stages = sum(1 for t in session.floor.ledger.traces(kind="chat_llm", limit=None)
                     if t["cycle"] > 1) / 5 / len(cfg.traders) + 1  # chat rounds held + the decision
        session.close()
        here.send("stop")
    finally:
        server.join(10)
        if server.is_alive():
            server.kill()
    ratio = per_cycle / (stages * LATENCY)
    print(f"LLM mode, 6 traders, stub latency {1000 * LATENCY:.0f} ms (stub in its own process): "
          f"{per_cycle:.2f}s per cycle, {requests:.0f} requests per cycle in {stages:.1f} sequential stages "
          f"(chat rounds + decide) -> {ratio:.2f}x one latency per stage (about 1 when parallel; 6 if the "
          f"traders ran one by one)")
    return ratio < 2.0  # parallel: ~1 plus client overhead; one trader after another would be ~6


def _reference_tree(tmp: Path) -> Path | None:
    """The REFERENCE commit's files under `tmp`, with today's compiled order book (so both trees match orders
    with the same engine); None, with the reason printed, when git or the commit is not there (an exported
    tarball, a shallow clone)."""
    tree = tmp / "reference"
    tree.mkdir()
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", REFERENCE], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        same_book = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", REFERENCE, "--",
                                    "market/_book_core.pyx"]).returncode == 0
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"against the reference: skipped, commit {REFERENCE[:7]} not readable here ({exc})")
        return None
    # Today's compiled engine, for the reference too: its source has since only gained functions (the
    # exchange's compiled reads) and moved a cancel's body into a C method, none of which the reference's
    # Python calls or can tell apart. Without it the reference would run the pure-Python book, several times
    # slower, and flatter today. The trades the bench prints must be the same in both trees.
    for so in (ROOT / "market").glob("_book_core.*.so"):
        shutil.copy2(so, tree / "market" / so.name)
    if not same_book:
        print(f"  (the reference runs today's compiled order book, built from a later market/_book_core.pyx than "
              f"commit {REFERENCE[:7]}'s)")
    return tree


def _timed_floor(tree: Path, cycles: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "LANGSMITH_TRACING": "false"}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "reference_floor.py"), str(cycles)], cwd=tree,
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _against_reference(tmp: Path) -> bool:
    """Issue 21's speed target: a 1,000-cycle rule floor with checkpoints in at most 0.5x the time of the
    floor before the issue, on the same machine. Both are fresh processes taking turns, REFERENCE_ROUNDS
    each; the figure is the median CPU time (other load on the two cores inflates wall time, not CPU)."""
    tree = _reference_tree(tmp)
    if tree is None:
        return True
    runs: dict[str, list[dict]] = {"reference": [], "today": []}
    for _ in range(REFERENCE_ROUNDS):
        runs["reference"].append(_timed_floor(tree, CYCLES))
        runs["today"].append(_timed_floor(ROOT, CYCLES))
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
    wall = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
    same = len({r["trades"] for v in runs.values() for r in v}) == 1
    ratio = cpu["today"] / cpu["reference"]
    print(f"{CYCLES} rule cycles, today against commit {REFERENCE[:7]} (before issue 21), {REFERENCE_ROUNDS} "
          f"alternating runs each: CPU {cpu['today']:.2f}s vs {cpu['reference']:.2f}s -> {ratio:.2f}x "
          f"(target <= {SPEED_TARGET}x); wall {wall['today']:.2f}s vs {wall['reference']:.2f}s")
    print(f"  trades {runs['today'][0]['trades']:,} today, {runs['reference'][0]['trades']:,} in the reference "
          f"({'the same' if same else 'NOT the same'}); each run's CPU: today "
          + ", ".join(f"{r['cpu']:.2f}" for r in runs["today"]) + "; reference "
          + ", ".join(f"{r['cpu']:.2f}" for r in runs["reference"]))
    return ratio <= SPEED_TARGET and same


def main() -> bool:
    with tempfile.TemporaryDirectory() as d:
        ok = _llm_run(Path(d))
        ok = _against_reference(Path(d)) and ok
        ok = _rule_run(Path(d)) and ok
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
