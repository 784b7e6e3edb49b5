"""The UI's cycle steps mark a scenario's events: a line per event in the market tick step, a count in the
cycle's title; the rumour shows in the discussion as the newswire's injected message."""
from __future__ import annotations

from floor_helpers import fast_config

from chat_ui.narrate import cycle_story, cycle_title
from floor.scenario_file import parse
from floor.session import FloorSession


def test_cycle_steps_mark_the_scenario_events(tmp_path):
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.floor.scenario = parse({"events": [
        {"kind": "halt", "at": 2, "symbol": "AAPL", "cycles": 1, "reason": "news pending"},
        {"kind": "rumour", "at": 2, "symbol": "AMZN", "text": "AMZN misses", "source": "a blog"}]})
    s.start(seed=6)
    try:
        s.run(3)
        quiet, busy, resumed = (cycle_story(s.floor.ledger, c) for c in (1, 2, 3))
    finally:
        s.close()
    assert quiet.events == [] and "scenario event" not in cycle_title(quiet)
    assert quiet.market.startswith("Quotes (bid / ask / last): ")
    assert sorted(busy.events) == ["⚑ **halt** AAPL: Trading in AAPL halted for 1 cycles: news pending",
                                   "⚑ **rumour** AMZN: Rumour (a blog): AMZN misses"]
    assert busy.market.startswith("⚑ **") and "Quotes (bid / ask / last): " in busy.market
    assert "⚑ 2 scenario events" in cycle_title(busy)
    assert len(resumed.events) == 1 and resumed.events[0].startswith("⚑ **resume** AAPL: ")
    assert "⚑ 1 scenario event" in cycle_title(resumed)
    assert any("**newswire**" in line and "[injected rumour, source: a blog] AMZN misses" in line
               for line in busy.discussion)
