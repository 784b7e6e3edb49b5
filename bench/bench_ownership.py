"""What one owner per run costs: the single-writer lease per cycle, against the same floor without it.

Two sessions of the same seed run side by side in alternating blocks of cycles, so the machine's drift
enters both alike:
- "lease": the real thing: the lease's heartbeat thread, the fencing check inside every settle
  transaction, and a look at the control-command queue at every cycle boundary;
- "no lease": the same session with a private lease (no heartbeat, no fencing) and no command queue.
The figures are the difference per cycle in milliseconds, the ratio of the two totals, and the median
of the paired blocks' ratios, which a slow spell of the machine in a few blocks does not move. On a busy
machine even that median moves by a few per cent either way, so the lease's own calls are also timed
directly inside the "lease" run (the command-queue look at each boundary and the fencing check in each
settle; the heartbeat thread renews once every 5 s on a connection of its own): the verdict (the lease
adds at most 2% to a cycle) is judged on that direct share. The two runs must make the same trades.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from floor.config import load_config
from floor.ownership.lease import PrivateLease
from floor.session import FloorSession

CYCLES = 600
BLOCK = 20
TARGET_RATIO = 1.02


class _Timed(FloorSession):
    """The real session, with the time inside the lease's own per-cycle calls added up."""

    inside = 0.0

    def serve_commands(self) -> None:
        start = time.perf_counter()
        super().serve_commands()
        self.inside += time.perf_counter() - start

    def own(self, **kw):
        lease = super().own(**kw)
        if getattr(lease, "timed", False):
            return lease
        lease.timed, check = True, lease.assert_held

        def timed_check(conn) -> None:
            start = time.perf_counter()
            check(conn)
            self.inside += time.perf_counter() - start

        lease.assert_held = timed_check
        return lease


class _Unowned(FloorSession):
    """The floor as it ran before the lease existed."""

    def own(self, **kw):
        if self.lease is None:
            self.lease = PrivateLease()
            self.floor.lease = None
        return self.lease

    def serve_commands(self) -> None:
        pass


def main() -> bool:
    cfg = load_config()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ownership-"))
    sessions = {"lease": _Timed(tmp / "lease.db", cfg), "no lease": _Unowned(tmp / "plain.db", cfg)}
    times = {k: [] for k in sessions}
    trades = {k: 0 for k in sessions}
    for s in sessions.values():
        s.start()
        s.run(5)  # warm up: imports, first snapshots
    sessions["lease"].inside = 0.0
    for block in range(CYCLES // BLOCK):
        order = list(sessions) if block % 2 == 0 else list(reversed(sessions))
        for name in order:
            start = time.perf_counter()
            reports = sessions[name].run(BLOCK)
            times[name].append(time.perf_counter() - start)
            trades[name] += sum(r.summary.get("trades", 0) for r in reports)
    for s in sessions.values():
        s.close()
    same = trades["lease"] == trades["no lease"]
    with_lease, without = sum(times["lease"]), sum(times["no lease"])
    ratio = with_lease / without
    per_cycle_ms = (with_lease - without) / CYCLES * 1000
    paired = statistics.median(a / b for a, b in zip(times["lease"], times["no lease"], strict=True))
    print(f"{CYCLES} cycles each, alternating blocks of {BLOCK}: lease {with_lease:.2f} s, no lease {without:.2f} s")
    print(f"lease overhead: {per_cycle_ms:+.3f} ms per cycle = {ratio:.3f}x (median of paired blocks "
          f"{paired:.3f}x); same trades: {same} ({trades['lease']:,})")
    inside = sessions["lease"].inside
    share = inside / with_lease
    print(f"time inside the lease's own calls (command queue + fencing), timed directly: {inside / CYCLES * 1000:.3f} "
          f"ms per cycle = {1 + share:.4f}x a cycle without them (the verdict's figure; target <= {TARGET_RATIO}x)")
    return same and 1 + share <= TARGET_RATIO
