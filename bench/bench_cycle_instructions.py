"""Issue 21's speed target counted in instructions: a rule cycle today against the floor before the issue.

`bench cycle` times both trees in alternating turns, but these 2-core machines change speed by up to 1.5x
from hour to hour and from minute to minute when other jobs run, so a CPU-time ratio moves by several
hundredths between runs. Valgrind's callgrind counts the instructions a process executes instead, which no
other load changes (repeat runs agree within 0.3%). Each tree runs bench/reference_floor.py as a fresh
process under callgrind twice, for SHORT and for SHORT + CYCLES cycles; the difference over CYCLES is the
cost of a cycle without the start-up (imports, the database, warm-up). The reference is the same as
`bench cycle`'s (commit 68f30f3 with today's compiled order book when its source is the same).

Instructions are a proxy for time, not time: a cycle that waits on memory or the disk costs more time per
instruction. It takes about five minutes (callgrind runs Python some 50 times slower); without valgrind it is
skipped with a note.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_cycle import REFERENCE, ROOT, SPEED_TARGET, _reference_tree

SHORT = 5
CYCLES = 100
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _instructions(tree: Path, cycles: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "LANGSMITH_TRACING": "false", "PYTHONHASHSEED": "0"}
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          str(ROOT / "bench" / "reference_floor.py"), str(cycles)],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no instruction count: {out.stderr[-300:]}")
    return int(found.group(1))


def _per_cycle(tree: Path) -> float:
    return (_instructions(tree, SHORT + CYCLES) - _instructions(tree, SHORT)) / CYCLES


def main() -> bool:
    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (apt-get install valgrind)")
        return True
    with tempfile.TemporaryDirectory() as d:
        tree = _reference_tree(Path(d))
        if tree is None:
            return True
        reference = _per_cycle(tree)
        today = _per_cycle(ROOT)
    ratio = today / reference
    print(f"instructions per rule cycle (callgrind, cycles {SHORT + 1}-{SHORT + CYCLES}): today {today / 1e6:.1f} M "
          f"against {reference / 1e6:.1f} M for commit {REFERENCE[:7]} (before issue 21) -> {ratio:.3f}x "
          f"(target <= {SPEED_TARGET}x)")
    return ratio <= SPEED_TARGET


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
