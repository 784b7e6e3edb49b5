"""A scenario's events on the live dashboard's price charts: the props carry, per chart, a marker per event
cycle (the symbol's own events and the market-wide ones, with their headlines), a run without a scenario
gets props as before, and in a real browser (the Chainlit server, Debian's chromium) each marker is a
vertical line on the chart with its headline on hover."""
from __future__ import annotations

import json
import os
import re
import tempfile

os.environ.setdefault("CHAINLIT_APP_ROOT", tempfile.mkdtemp(prefix="chainlit-root-"))  # before chainlit loads

from floor_helpers import fast_config  # noqa: E402
from ui_browser import needs_chromium  # noqa: E402

from chat_ui import dashboard  # noqa: E402
from floor.scenario_file import parse  # noqa: E402
from floor.session import FloorSession  # noqa: E402

SCENARIO = {"events": [
    {"kind": "news", "at": 2, "move_pct": -4, "headline": "Bad news for everyone"},
    {"kind": "halt", "at": 3, "symbol": "AAPL", "cycles": 1, "reason": "news pending"},
    {"kind": "fee_change", "at": 3, "fee_bps": 12},
]}


def _session(path, scenario=SCENARIO, seed=11) -> FloorSession:
    s = FloorSession(str(path), fast_config(seed=seed))
    s.floor.scenario = parse(scenario) if scenario is not None else None
    s.start(seed=seed)
    return s


def _props(s) -> dict:
    st = s.align_to_state()
    return dashboard.build(s.floor, cycle=st["cycle"], thread="run-1", branch=st["branch_id"], status="idle")


def test_price_charts_carry_the_scenario_events_of_their_symbol_and_the_market(tmp_path):
    s = _session(tmp_path / "floor.db")
    try:
        s.run(5)
        props = _props(s)
        json.dumps(props)
        charts = {p["symbol"]: p for p in props["prices"]}
        aapl, msft = charts["AAPL"]["events"], charts["MSFT"]["events"]
        assert [(m["cycle"], m["kinds"]) for m in aapl] == [(2, ["news"]), (3, ["halt", "fee_change"]),
                                                           (4, ["resume"])]
        assert [(m["cycle"], m["kinds"]) for m in msft] == [(2, ["news"]), (3, ["fee_change"])]
        assert aapl[0]["headline"] == "Bad news for everyone"
        assert aapl[1]["headline"].startswith("Trading in AAPL halted") and "12 bps" in aapl[1]["headline"]
    finally:
        s.close()


def test_markers_are_bounded_and_cut_to_the_charted_cycles():
    events = [{"cycle": c, "kind": "news", "symbol": None if c % 2 else "AAPL", "headline": f"h{c}"}
              for c in range(1, 200)]
    out = dashboard.event_markers(events, "MSFT", first_cycle=10, limit=5)
    assert [m["cycle"] for m in out] == [189, 191, 193, 195, 197, 199][-5:]
    assert dashboard.event_markers(events, "AAPL", first_cycle=None) == []  # no chart yet: no markers


def test_a_run_without_a_scenario_has_no_event_markers(tmp_path):
    s = _session(tmp_path / "floor.db", scenario=None)
    try:
        s.run(2)
        assert all("events" not in p for p in _props(s)["prices"])
    finally:
        s.close()


@needs_chromium
def test_the_dashboard_draws_a_marker_with_its_headline_on_the_price_chart(tmp_path):
    from playwright.sync_api import expect
    from ui_browser import browser, open_page, send, shot, ui_server, wait_for_dashboard_cycle

    s = _session(tmp_path / "floor.db")  # the UI continues this run (started with the scenario)
    s.run(1)
    s.close()
    with ui_server(tmp_path, seed=11) as (url, _), browser() as b:
        page = open_page(b, url)
        send(page, "/run 3")
        expect(page.get_by_text(re.compile(r"^✓ Ran 3 cycles, now at cycle 4\."))).to_be_visible(timeout=60_000)
        assert wait_for_dashboard_cycle(page, 4) == 4
        chart = page.locator("#side-view-content .floor-price[data-symbol='AAPL']")
        markers = chart.locator("g.floor-event")
        expect(markers).to_have_count(3)
        assert markers.evaluate_all("gs => gs.map(g => g.dataset.cycle)") == ["2", "3", "4"]
        assert markers.first.locator("title").text_content() == "cycle 2: Bad news for everyone"
        assert markers.first.locator("line").first.get_attribute("x1") == \
            markers.first.locator("line").first.get_attribute("x2")  # vertical
        expect(page.locator("#side-view-content .floor-price[data-symbol='MSFT'] g.floor-event")).to_have_count(2)
        markers.nth(1).hover()
        shot(page, "dashboard-scenario-markers")
