"""`make bench`: run every bench/bench_*.py module's main() in turn.

Each benchmark prints its figures next to a baseline measured in the same run where possible.
Pass module names to run a subset: `python -m bench book ledger`.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = {f"bench_{a.removeprefix('bench_')}" for a in argv}
    failures = 0
    for name in names:
        if wanted and name not in wanted:
            continue
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        ok = module.main()
        print(f"--- {name}: {'ok' if ok is not False else 'BELOW TARGET'} ({time.perf_counter() - start:.1f}s)")
        failures += ok is False
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
