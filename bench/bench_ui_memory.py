"""The chat UI's page over a long run: its memory after 100 and after 500 cycles. `trading-floor ui` (the real
Chainlit server on 127.0.0.1, the test suite's fast config, cycles unpaced but for 10 ms) in Debian's
chromium at 1400x900: `/run 100`, then `/run 400`, the page's JS heap and DOM node count read after each
(Chrome's counters, after a garbage collection). Twice: with the page keeping its last 200 cycle steps (the
default, TRADING_FLOOR_UI_KEEP_CYCLES), and, the baseline in the same run, keeping them all. Target: with
the cap, nodes and heap after 500 cycles within 2x of after 100 (200 steps against 100), where the baseline
grows with every cycle."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
TARGET = 2.0


def measure(keep: int) -> tuple[dict, dict]:
    sys.path.insert(0, str(TESTS))
    try:
        from ui_browser import page_memory, run_to_end, ui_page
    finally:
        sys.path.pop(0)
    with tempfile.TemporaryDirectory() as tmp, ui_page(Path(tmp), pace=0.01,
                                                       TRADING_FLOOR_UI_KEEP_CYCLES=str(keep)) as ui:
        run_to_end(ui.page, 100, 100)
        at_100 = page_memory(ui.page)
        run_to_end(ui.page, 400, 500)
        return at_100, page_memory(ui.page)


def main() -> bool:
    if not Path("/usr/bin/chromium").exists():
        print("skipped: needs Debian's chromium at /usr/bin/chromium")
        return True
    load = os.getloadavg()[0]
    ok = True
    for label, keep in (("all cycles kept (baseline)", 1_000_000), ("the last 200 kept (default)", 200)):
        a, b = measure(keep)
        nodes, heap = b["nodes"] / a["nodes"], b["heap"] / a["heap"]
        print(f"{label}: after 100 cycles {a['nodes']:.0f} DOM nodes, {a['heap'] / 1e6:.1f} MB JS heap; after 500 "
              f"{b['nodes']:.0f} nodes ({nodes:.2f}x), {b['heap'] / 1e6:.1f} MB ({heap:.2f}x); {b['steps']} steps")
        if keep == 200:
            ok = nodes <= TARGET and heap <= TARGET
    print(f"target with the cap: after 500 within {TARGET:.0f}x of after 100; load average (1 min) {load:.2f} "
          f"before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
