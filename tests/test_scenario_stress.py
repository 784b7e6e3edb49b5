"""`trading-floor stress`, kept tiny: one scenario, one seed, a few cycles, in a separate process."""
from __future__ import annotations

from cli_processes import tf
from floor_helpers import fast_config, write_config


def test_stress_tabulates_a_scenario_against_the_calm_baseline(tmp_path):
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config(warmup_cycles=2))
    scn = tmp_path / "tiny.yaml"
    scn.write_text("name: tiny\nevents:\n  - {kind: news, at: 2, move_pct: -15}\n"
                   "  - {kind: flash_crash, at: 2, symbol: NVDA, qty: 5000}\n")
    out = tf("stress", "--scenario", str(scn), "--seeds", "1", "--cycles", "4", "--config", str(cfg))
    assert out.returncode == 0, out.stdout
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("│ tiny")]
    theories = {ln.split("│")[2].strip() for ln in lines}
    assert {"momentum", "sentiment", "arbitrage"} <= theories
    assert "Stress: 1 seed(s) x 4 cycles" in out.stdout
    late = tf("stress", "--scenario", "drought", "--seeds", "1", "--cycles", "2", "--config", str(cfg))
    assert late.returncode == 2 and "error: scenario 'drought' starts at cycle 4, after the 2 cycles" in late.stdout


def test_the_stress_measures_on_a_known_run():
    from floor.scenario_file import parse
    from floor.scenario_stress import _drawdown_pct, event_window_start, run_once

    assert _drawdown_pct([100, 120, 90, 130, 117]) == 25.0
    scn = parse({"events": [{"kind": "rumour", "when": {"symbol": "NVDA", "falls_pct": 5}, "text": "x", "source": "y"},
                            {"kind": "news", "at": 3, "move_pct": -5}]})
    assert event_window_start(scn) == 3 and event_window_start(None) == 1
    cfg = fast_config()  # the default warm-up: the theories have a history and trade from cycle 1
    stats = run_once(cfg, scn, 2, 4, 3)
    assert set(stats) == {t.theory for t in cfg.traders}
    assert all(s.drawdown_pct >= 0 and s.provided >= 0 and s.taken >= 0 for s in stats.values())
    assert sum(s.provided + s.taken for s in stats.values()) > 0  # the floor traded in the window
