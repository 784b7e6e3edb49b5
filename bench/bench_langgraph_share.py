"""LangGraph's own cost per cycle inside the floor, against an empty graph of the cycle's shape (issue 21).

- "in the floor": CPU time of a rule-floor cycle (`FloorSession.run`) minus the CPU time spent inside
  the six node functions: what LangGraph (task scheduling, channels, the checkpoint write) and the
  session around it cost per cycle.
- "empty graph": the same shape with nodes that do nothing (six nodes, six Sends to decide, SqliteSaver
  on a WAL file, durability "exit"), as `bench cycle` builds it.
Both are CPU time (time.process_time, every thread of this process) so that other load on the two cores
does not enter. Target: in the floor at most 1.5x the empty graph.
"""
from __future__ import annotations

import inspect
import tempfile
import time
from pathlib import Path

CYCLES = 300
TARGET = 1.5
NODES = ("market_tick", "discussion", "decide", "risk", "execution", "settle")


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
    print(f"empty graph of the same shape (6 nodes, 6 Sends, SqliteSaver): {per['empty']:.2f} ms CPU per cycle -> "
          f"LangGraph in the floor {ratio:.2f}x the empty graph (target <= {TARGET}x)")
    return ratio <= TARGET
