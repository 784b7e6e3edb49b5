"""LangGraph's own cost per cycle inside the floor, against an empty graph of the cycle's shape (issue 21).

- "in the floor": CPU time of a rule-floor cycle (`FloorSession.run`) minus the CPU time spent inside
  the six stages' functions (five LangGraph nodes; settle runs execution first): what LangGraph (task scheduling, channels, the checkpoint write) and the
  session around it cost per cycle.
- "empty graph": the issue's yardstick, the cycle's shape when it was filed, with nodes that do nothing
  (six nodes, six Sends to decide, SqliteSaver on a WAL file, durability "exit"), as `bench cycle` builds it.
Both are CPU time (time.process_time, every thread of this process) so that other load on the two cores
does not enter. Target: in the floor at most 1.5x the empty graph.

Then what the knobs of the issue cost, on empty graphs with the floor's state schema (`VARIANTS`):
durability "exit" / "async" / "sync", six Sends against one, six nodes against fewer super-steps, an input
dict against `Command(goto="market_tick")` (floor/session_support.py `next_cycle`), and LangGraph's pool per
invocation against the floor's inline background work (graphs/inline_background.py). Only "exit" and "sync"
leave a complete checkpoint when `invoke` returns, which the kill -9 tests need ("async" may still be
writing); the floor runs "exit", one Send, five nodes (graphs/cycle_graph.py), inline background work, and
starts each cycle with the Command.
"""
from __future__ import annotations

import contextlib
import inspect
import sqlite3
import tempfile
import time
from pathlib import Path

CYCLES = 300
TARGET = 1.5
NODES = ("market_tick", "discussion", "decide", "risk", "execution", "settle")  # the stages' functions


def _timed_nodes(spent: list[float]) -> None:
    """Wrap the cycle graph's node functions (before the graph is built) to add up their CPU time."""
    import graphs.cycle_graph as cycle_graph

    def timed(fn):
        def node(*args, **kwargs):
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - start

        node.__name__, node.__doc__, node.__signature__ = fn.__name__, fn.__doc__, inspect.signature(fn)
        return node

    for name in NODES:
        setattr(cycle_graph, name, timed(getattr(cycle_graph, name)))


def main() -> bool:
    from bench.bench_cycle import _empty_graph
    from floor.config import load_config
    from floor.session import FloorSession

    spent = [0.0]
    _timed_nodes(spent)
    tmp = Path(tempfile.mkdtemp(prefix="bench-langgraph-"))
    session = FloorSession(tmp / "floor.db", load_config())
    session.start()
    session.run(10)  # warm-up: imports, the graph's compilation, first snapshots
    spent[0] = 0.0
    start = time.process_time()
    session.run(CYCLES)
    floor_cpu, inside = time.process_time() - start, spent[0]
    start = time.process_time()
    _empty_graph(tmp, CYCLES)  # includes building and compiling it once
    empty_cpu = time.process_time() - start
    session.close()
    per = {k: v / CYCLES * 1000 for k, v in (("floor", floor_cpu), ("inside", inside), ("empty", empty_cpu))}
    outside = per["floor"] - per["inside"]
    ratio = outside / per["empty"]
    print(f"{CYCLES} rule cycles, CPU per cycle: {per['floor']:.2f} ms, of which inside the nodes {per['inside']:.2f} ms "
          f"and LangGraph + session {outside:.2f} ms")
    print(f"empty graph of the issue's shape (6 nodes, 6 Sends, SqliteSaver): {per['empty']:.2f} ms CPU per cycle -> "
          f"LangGraph in the floor {ratio:.2f}x the empty graph (target <= {TARGET}x)")
    _variants(tmp)
    return ratio <= TARGET


SIX = ("market_tick", "discussion", "decide", "risk", "execution", "settle")  # the cycle when issue 21 was filed
FIVE = ("market_tick", "discussion", "decide", "risk", "settle")  # today's (execution is settle's first stage)
# label, nodes, Sends to decide, durability, background work inline, a cycle starts with Command(goto=...)
VARIANTS = (  # each changes one or two things from the first; the floor runs the last but one
    ('durability "exit", 1 Send, 6 nodes, LangGraph\'s pool', SIX, 1, "exit", False, False),
    ("  the same, background work inline", SIX, 1, "exit", True, False),
    ("  6 Sends (one per trader)", SIX, 6, "exit", False, False),
    ('  durability "sync" (every super-step written)', SIX, 1, "sync", False, False),
    ('  durability "async" (not complete on return)', SIX, 1, "async", False, False),
    ("  inline, started by Command(goto) (no __start__ task)", SIX, 1, "exit", True, True),
    ("  inline, Command(goto), 5 nodes (the floor)", FIVE, 1, "exit", True, True),
    ("  4 nodes (risk and execution folded away)", ("market_tick", "discussion", "decide", "settle"), 1, "exit",
     False, False),
)


def _variant_graph(nodes: tuple[str, ...], sends: int):
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    from graphs.state import CycleState

    g = StateGraph(CycleState)
    for name in nodes:
        if name == "decide":
            g.add_node(name, lambda s: {"decisions": []})
        elif name == nodes[-1]:
            g.add_node(name, lambda s: {"cycle": s.get("cycle", 0) + 1})
        else:
            g.add_node(name, lambda s: {})
    g.add_edge(START, nodes[0])
    for a, b in zip(nodes, nodes[1:], strict=False):
        if b == "decide":
            g.add_conditional_edges(a, lambda s, n=sends: [Send("decide", {}) for _ in range(n)], ["decide"])
        else:
            g.add_edge(a, b)
    g.add_edge(nodes[-1], END)
    return g


def _variants(tmp: Path) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    from floor.checkpoint_serde import CompressedSerializer
    from graphs.inline_background import inline_background

    print(f"empty graphs with the floor's state schema, SqliteSaver (msgpack+zlib), {CYCLES} invocations each:")
    base = None
    from langgraph.types import Command

    for k, (label, nodes, sends, durability, reuse, goto) in enumerate(VARIANTS):
        conn = sqlite3.connect(tmp / f"variant-{k}.db", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        app = _variant_graph(nodes, sends).compile(checkpointer=SqliteSaver(conn, serde=CompressedSerializer()))
        cfg = {"configurable": {"thread_id": "bench"}, "max_concurrency": 1}
        with inline_background() if reuse else contextlib.nullcontext():
            app.invoke({}, cfg, durability=durability)  # the first checkpoint
            start = time.process_time()
            for _ in range(CYCLES):
                app.invoke(Command(goto=nodes[0]) if goto else {}, cfg, durability=durability)
            per = (time.process_time() - start) / CYCLES * 1000
        conn.close()
        base = base or per
        print(f"  {label:<56} {per:5.2f} ms CPU per cycle ({per / base:.2f}x)")
