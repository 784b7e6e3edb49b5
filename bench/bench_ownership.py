"""What one owner per run costs: the single-writer lease per cycle, against the same floor without it.

Two sessions of the same seed run side by side in alternating blocks of cycles, so the machine's drift
enters both alike:
- "lease": the real thing: the lease's heartbeat thread, the fencing check inside every settle
  transaction, and a look at the control-command queue at every cycle boundary;
- "no lease": the same session with a private lease (no heartbeat, no fencing) and no command queue.
The figures are the difference per cycle in milliseconds, the ratio of the two totals, and the median
of the paired blocks' ratios, which a slow spell of the machine in a few blocks does not move: the
verdict (the lease adds at most 2% to a cycle) is judged on it. The two runs must make the same trades.
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
    sessions = {"lease": FloorSession(tmp / "lease.db", cfg), "no lease": _Unowned(tmp / "plain.db", cfg)}
    times = {k: [] for k in sessions}
    trades = {k: 0 for k in sessions}
    for s in sessions.values():
        s.start()
        s.run(5)  # warm up: imports, first snapshots
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
          f"{paired:.3f}x, the verdict's figure; target <= {TARGET_RATIO}x); same trades: {same} ({trades['lease']:,})")
    return same and paired <= TARGET_RATIO
