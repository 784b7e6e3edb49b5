"""floor/gc_policy.py: the collector's settings for a process that runs cycles, each case in a fresh
interpreter (the settings are the process's)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    return out.stdout.strip()


def test_a_floor_run_freezes_the_start_up_objects_and_raises_the_thresholds(tmp_path):
    out = _run(f"""
import gc
from floor.config import load_config
from floor.session import FloorSession
s = FloorSession({str(tmp_path / 'f.db')!r}, load_config())
s.start()
before = gc.get_threshold(), gc.get_freeze_count()
list(s.iter_cycles(2))
s.close()
print(before[0], before[1] == 0, gc.get_threshold(), gc.get_freeze_count() > 10_000)
""")
    assert out == "(700, 10, 10) True (20000, 50, 50) True"


def test_it_applies_once_and_leaves_a_process_s_own_settings_alone():
    out = _run("""
import gc
from floor import gc_policy
gc.set_threshold(1000, 10, 10)
first = gc_policy.tune_for_cycles()
print(first, gc.get_threshold(), gc.get_freeze_count() == 0, gc_policy.tune_for_cycles())
""")
    assert out == "False (1000, 10, 10) True False"


def test_trading_floor_gc_default_keeps_the_interpreter_s_defaults():
    out = _run("""
import gc
from floor import gc_policy
print(gc_policy.tune_for_cycles(), gc.get_threshold())
""", TRADING_FLOOR_GC="default")
    assert out == "False (700, 10, 10)"


def test_applied_once_per_process():
    out = _run("""
import gc
from floor import gc_policy
print(gc_policy.tune_for_cycles(), gc_policy.tune_for_cycles(), gc.get_threshold())
""")
    assert out == "True False (20000, 50, 50)"
