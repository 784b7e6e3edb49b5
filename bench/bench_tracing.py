"""What LangSmith tracing costs a rule run when it is off (issue 22): the hooks' checks against a cycle.

With tracing off, the traced hooks (the cycle graph's `stream`, the decide node, each `rule decision`)
each make one environment check, `traders.tracing.tracing_on()`, and call the plain function. This
bench runs rule cycles of the default floor with the checks counted, times the check itself, and prints
their cost per cycle as a share of the cycle's own time, measured in the same run. Target: under 0.1%.
"""
from __future__ import annotations

import os
import tempfile
import time
import timeit
from pathlib import Path

CYCLES = 200
TARGET = 0.001


def main() -> bool:
    os.environ["LANGSMITH_TRACING"] = "false"
    os.environ.pop("LANGSMITH_TRACING_V2", None)
    os.environ.pop("LANGCHAIN_TRACING_V2", None)
    import graphs.tracing as graph_hooks
    import traders.tracing as trader_hooks
    from floor.config import load_config
    from floor.session import FloorSession

    plain = trader_hooks.tracing_on
    calls = [0]

    def counted() -> bool:
        calls[0] += 1
        return plain()

    trader_hooks.tracing_on = graph_hooks.tracing_on = counted
    try:
        with tempfile.TemporaryDirectory() as d:
            session = FloorSession(Path(d) / "bench.db", load_config())
            session.start()
            session.run(5)  # warm-up: imports, the graph compiled
            calls[0] = 0
            start = time.perf_counter()
            session.run(CYCLES)
            seconds = time.perf_counter() - start
            session.close()
    finally:
        trader_hooks.tracing_on = graph_hooks.tracing_on = plain
    per_cycle = calls[0] / CYCLES
    number = 200_000
    check = min(timeit.repeat(plain, number=number, repeat=5)) / number
    share = per_cycle * check / (seconds / CYCLES)
    print(f"tracing off, {CYCLES} rule cycles: {seconds:.2f}s ({1e3 * seconds / CYCLES:.1f} ms per cycle); "
          f"{per_cycle:.0f} tracing checks per cycle at {1e9 * check:.0f} ns each = "
          f"{1e6 * per_cycle * check:.1f} us per cycle, {100 * share:.4f}% of a cycle (target < {100 * TARGET:.1f}%)")
    return share < TARGET


if __name__ == "__main__":
    import sys

    sys.exit(0 if main() else 1)
