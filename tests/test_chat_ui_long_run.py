"""A page watched for an hour (issue 16).

A run of 100 cycles with the dashboard open, measured in the browser (defect 3): frames and the echo of
typed text. The figures against the targets are bench/bench_ui.py's job (this machine is shared): here only
a loose sanity check that the page never freezes, and a screenshot at the end.

And a page that lasts: 500 fast cycles with the page keeping its last 50 cycle steps
(TRADING_FLOOR_UI_KEEP_CYCLES); the page's JS heap and DOM node count read after 100 cycles and after 500
(Chrome's own counters, after a garbage collection) stay flat, within the factors below."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from ui_browser import needs_chromium, page_memory, run_to_end, scroll_to, shot, ui_page

from bench.bench_ui import measure

pytestmark = needs_chromium
KEEP = 50
NODES_FACTOR = 1.25  # DOM nodes after 500 cycles / after 100: the page holds 50 cycle steps at both
HEAP_FACTOR = 1.5  # JS heap after 500 cycles / after 100


def test_100_cycles_with_the_dashboard_open_keep_the_page_responsive():
    m = measure(100, pace=0.1, screenshot="long-run-100-cycles")
    run, echo = m["run"], m["echo"]
    assert run["n"] > 50 and echo["n"] >= 12, m  # it measured frames, and keys typed during the run
    assert run["median"] < 250, m  # loose: the targets are 100 ms median, 1 s max, 300 ms echo
    assert run["max"] < 3_000, m
    assert echo["median"] < 1_000, m


def test_500_cycles_keep_the_last_cycles_on_the_page_and_its_memory_flat(tmp_path: Path):
    with ui_page(tmp_path, pace=0.01, TRADING_FLOOR_UI_KEEP_CYCLES=str(KEEP)) as ui:
        page = ui.page
        run_to_end(page, 100, 100)
        at_100 = page_memory(page)
        note = page.get_by_text("Older cycles are no longer on this page")
        expect(note).to_have_count(1)
        run_to_end(page, 400, 500)
        at_500 = page_memory(page)
        expect(note).to_have_count(1)  # one line, however many cycles went
        expect(page.get_by_text("Cycle 451 ·")).to_have_count(1)  # the 50th-last cycle is there,
        expect(page.get_by_text("Cycle 450 ·")).to_have_count(0)  # the one before it is not
        scroll_to(note)
        page.wait_for_timeout(800)  # steps that come into view are rendered (floor.css: content-visibility)
        shot(page, "long-run-older-cycles-note")
    print(f"after 100 cycles: {at_100}; after 500: {at_500}")
    assert at_500["nodes"] <= NODES_FACTOR * at_100["nodes"], (at_100, at_500)
    assert at_500["heap"] <= HEAP_FACTOR * at_100["heap"], (at_100, at_500)
