"""Memory stays flat over a long rule-based run (issue 13).

Figure: a 10,000-cycle rule-based run of the default floor (the cycle bench's config: six traders, the
default background market, checkpoints on) with its resident set size (RSS) sampled every 250 cycles.
Target: after cycle 3,000 RSS grows at most 2 MiB per 1,000 cycles (the least-squares slope of the
samples from cycle 3,000 on). Also printed: the peak RSS, and the RSS at cycle 3,000 and at the end.

Caches that fill up and level off are not growth: SQLite's page cache (the ledger asks for up to 64 MiB,
the checkpointer's connection keeps SQLite's default 2 MiB) fills while the file grows and is full long
before cycle 3,000 is over; the slope is taken after it. The run is measured in a child process of its
own, so neither the benchmarks run before it nor this process's imports count in its RSS.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

CYCLES = 10_000
EVERY = 250
FROM = 3_000  # the slope is fitted from this cycle on
TARGET_MIB = 2.0  # per 1,000 cycles
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mib() -> float:
    """Current resident set size, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def _peak_mib() -> float:
    """Peak resident set size of this process (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(conn) -> None:
    """Run the floor; send (cycle, rss MiB, seconds) every EVERY cycles, then ("done", peak, cpu, trades)."""
    from floor.config import load_config
    from floor.session import FloorSession

    with tempfile.TemporaryDirectory() as d:
        session = FloorSession(Path(d) / "memory.db", load_config())
        session.start()
        trades = 0
        start, cpu0 = time.perf_counter(), time.process_time()
        conn.send((0, _rss_mib(), 0.0))
        for i, report in enumerate(session.iter_cycles(CYCLES), 1):
            trades += report.summary.get("trades", 0)
            if i % EVERY == 0:
                conn.send((i, _rss_mib(), time.perf_counter() - start))
        cpu = time.process_time() - cpu0
        session.close()
    conn.send(("done", _peak_mib(), cpu, trades))


def slope_per_1000(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of (cycle, MiB) points, in MiB per 1,000 cycles."""
    n = len(points)
    mx = sum(c for c, _ in points) / n
    my = sum(m for _, m in points) / n
    sxx = sum((c - mx) ** 2 for c, _ in points)
    return 1000 * sum((c - mx) * (m - my) for c, m in points) / sxx


def main() -> bool:
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(there,), daemon=True)
    child.start()
    there.close()
    samples: list[tuple[int, float]] = []
    done = None
    try:
        while done is None:
            msg = here.recv()
            if msg[0] == "done":
                done = msg
                break
            cycle, rss, secs = msg
            samples.append((cycle, rss))
            if cycle % 1000 == 0:
                print(f"  ... cycle {cycle:>6,}: RSS {rss:6.1f} MiB ({secs:.0f}s)", flush=True)
    except EOFError:
        print("the benchmark's child process died before the end of the run")
        return False
    finally:
        child.join(60)
    _, peak, cpu, trades = done
    late = [(c, m) for c, m in samples if c >= FROM]
    slope = slope_per_1000(late)
    at_from = dict(samples)[FROM]
    end_cycle, end_rss = samples[-1]
    early = slope_per_1000([(c, m) for c, m in samples if 0 < c <= FROM])
    print(f"rule run, {CYCLES:,} cycles, default floor, checkpoints on ({trades:,} trades, CPU {cpu:.0f}s): "
          f"RSS grows {slope:+.2f} MiB per 1,000 cycles after cycle {FROM:,} (least squares over "
          f"{len(late)} samples, one every {EVERY}; target <= {TARGET_MIB:.0f} MiB)")
    print(f"  RSS {at_from:.1f} MiB at cycle {FROM:,}, {end_rss:.1f} MiB at cycle {end_cycle:,}; "
          f"{early:+.2f} MiB per 1,000 cycles before cycle {FROM:,} (caches filling); "
          f"peak RSS {peak:.1f} MiB")
    return slope <= TARGET_MIB


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
