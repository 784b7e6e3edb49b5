"""floor/gc_policy.py: the collector's settings while a cycle runs, each case in a fresh interpreter (the
settings are the process's)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TRADING_FLOOR_GC"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**base, "PYTHONPATH": str(ROOT), **env})
    return out.stdout.strip()


def test_a_cycle_runs_with_the_raised_thresholds_and_the_defaults_come_back_after_it(tmp_path):
    out = _run(f"""
import gc
from floor import gc_policy
from floor.config import load_config
from floor.session import FloorSession
seen = []
inner = FloorSession._invoke_graph
def spy(self, payload):
    seen.append(gc.get_threshold())
    return inner(self, payload)
FloorSession._invoke_graph = spy
s = FloorSession({str(tmp_path / 'f.db')!r}, load_config())
s.start()
list(s.iter_cycles(2))
s.close()
print(seen, gc.get_threshold(), gc.get_freeze_count())
""")
    assert out == "[(20000, 50, 50), (20000, 50, 50)] (700, 10, 10) 0"


def test_a_process_s_own_thresholds_are_left_alone():
    out = _run("""
import gc
from floor import gc_policy
gc.set_threshold(1000, 10, 10)
with gc_policy.cycle_gc() as tuned:
    inside = gc.get_threshold()
print(tuned, inside, gc.get_threshold())
""")
    assert out == "False (1000, 10, 10) (1000, 10, 10)"


def test_trading_floor_gc_default_keeps_the_interpreter_s_defaults():
    out = _run("""
import gc
from floor import gc_policy
with gc_policy.cycle_gc() as tuned:
    inside = gc.get_threshold()
print(tuned, inside)
""", TRADING_FLOOR_GC="default")
    assert out == "False (700, 10, 10)"


def test_the_defaults_come_back_when_the_cycle_fails():
    out = _run("""
import gc
from floor import gc_policy
try:
    with gc_policy.cycle_gc():
        raise RuntimeError("a node failed")
except RuntimeError:
    pass
print(gc.get_threshold())
""")
    assert out == "(700, 10, 10)"
