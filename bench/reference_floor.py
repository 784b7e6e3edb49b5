"""One timed rule floor, run as its own process against either tree: `bench_cycle` starts it with
PYTHONPATH set to today's tree or to the reference commit's (issue 21's "today's time"), so it uses only the
FloorSession calls both trees have: FloorSession(path, config), start(), iter_cycles(n), close().

    python bench/reference_floor.py CYCLES   -> one JSON line: cpu and wall seconds, trades
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def main(cycles: int) -> dict:
    from floor.config import load_config
    from floor.session import FloorSession

    with tempfile.TemporaryDirectory(prefix="bench-reference-") as d:
        session = FloorSession(Path(d) / "floor.db", load_config())
        session.start()
        trades = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for report in session.iter_cycles(cycles):
            trades += report.summary["trades"]
        out = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "trades": trades}
        session.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
