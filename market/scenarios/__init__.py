"""Scenarios: news, shocks, halts and droughts applied to the market on a timeline (see spec.py, driver.py).

`attach(exchange, scenario, start_cycle=...)` puts a driver inside the exchange's background market; from
then on the events happen as the exchange advances, and ride along in its snapshots and journal replays.
"""
from __future__ import annotations

from market.scenarios.driver import FLASH_OWNER, EventFired, ScenarioDriver
from market.scenarios.spec import EVENT_KINDS, MAX_FEE_BPS, Endowment, Endowments, FeeChange, Scenario


def attach(exchange, scenario: Scenario, *, start_cycle: int) -> ScenarioDriver:
    """Attach `scenario` to `exchange` (which needs a background market), starting after `start_cycle`.
    The scenario's open (the reference of conditions and the breaker) is the market as it stands now."""
    bg = exchange.background
    if bg is None:
        raise ValueError("a scenario needs an exchange with a background market")
    scenario.check_against(exchange.instruments, start_cycle)
    driver = ScenarioDriver(scenario, start_cycle=start_cycle)
    driver._mark_open(bg, exchange)
    bg.scenario = driver
    return driver


def driver_of(exchange) -> ScenarioDriver | None:
    bg = getattr(exchange, "background", None)
    return getattr(bg, "scenario", None) if bg is not None else None


__all__ = ["EVENT_KINDS", "FLASH_OWNER", "MAX_FEE_BPS", "Endowment", "Endowments", "EventFired", "FeeChange",
           "Scenario", "ScenarioDriver", "attach", "driver_of"]
