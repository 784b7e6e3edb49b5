"""Default learning grids per theory: the parameter a rule-mode learner tunes and the values it picks from.

Used by `trading-floor learn-eval` and the memory benchmark to switch learning on for every trader whose
theory is listed; a config's own `learning:` always wins where it is set.
"""
from __future__ import annotations

GRIDS: dict[str, tuple[str, tuple[float, ...]]] = {
    "momentum": ("threshold", (0.005, 0.015, 0.03)),
    "mean_reversion": ("entry_z", (1.0, 2.0, 3.0)),
    "trend_following": ("band", (0.001, 0.002, 0.005)),
    "sentiment": ("threshold", (0.2, 0.3, 0.5)),
    "arbitrage": ("threshold", (0.001, 0.002, 0.004)),
    "risk_parity": ("band", (0.02, 0.03, 0.05)),
}


def with_learning(cfg, grids: dict[str, tuple[str, tuple[float, ...]]] = GRIDS):
    """A FloorConfig like `cfg` with `learning:` on for each trader whose theory has a grid (and none yet)."""
    traders = [t.model_dump() | ({"learning": {"param": grids[t.theory][0], "grid": grids[t.theory][1]}}
                                 if t.theory in grids and t.learning is None else {}) for t in cfg.traders]
    return type(cfg).model_validate(cfg.model_dump() | {"traders": traders})
