"""`trading-floor report` marks a scenario's events on its price chart and lists them; a run without one has none."""
from __future__ import annotations

from floor_helpers import fast_config

from analysis.report import build_report
from analysis.report_events import EVENTS_TRACE, scenario_events
from floor.scenario_file import parse
from floor.session import FloorSession

EVIL = "<script>alert('x')</script> NVDA crashes"


def _report(tmp_path, scenario=None) -> tuple[str, list[dict]]:
    s = FloorSession(tmp_path / "floor.db", fast_config())
    s.floor.scenario = parse(scenario) if scenario is not None else None
    s.start(seed=2)
    try:
        s.run(5)
        return build_report(s.floor.ledger, s.floor.instruments), scenario_events(s.floor.ledger)
    finally:
        s.close()


def test_the_report_marks_and_lists_the_scenario_events(tmp_path):
    html, events = _report(tmp_path, {"events": [
        {"kind": "news", "at": 2, "symbol": "MSFT", "move_pct": 6},
        {"kind": "flash_crash", "at": 4, "symbol": "NVDA", "qty": 3000, "headline": EVIL},
        {"kind": "rumour", "at": 4, "text": "the Fed cuts", "source": "a newsletter"}]})
    assert [(e["cycle"], e["kind"]) for e in events] == [(2, "news"), (4, "flash_crash"), (4, "rumour")]
    assert f'"name":"{EVENTS_TRACE}"' in html and "triangle-down" in html
    assert html.count('"type":"line"') >= 2  # a dotted line at cycles 2 and 4
    assert "<td>2</td><td>news</td><td>MSFT</td>" in html
    assert "<td>market</td><td style='text-align:left'>Rumour (a newsletter): the Fed cuts</td>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; NVDA crashes" in html


def test_a_run_without_a_scenario_has_no_event_marks(tmp_path):
    html, events = _report(tmp_path)
    assert events == [] and EVENTS_TRACE not in html and "Scenario events" not in html
