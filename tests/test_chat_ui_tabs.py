"""Two tabs on one run: the run belongs to the server, both pages are shown its cycles and dashboard, and
either one steers it (issue 16). Real server, Debian's chromium; screenshots in artifacts/ui/."""
from __future__ import annotations

import re

from ui_browser import (
    dashboard_cycle,
    needs_chromium,
    send,
    shot,
    ui_page,
    wait_for_dashboard_at,
    wait_for_dashboard_cycle,
)

pytestmark = needs_chromium


def test_two_tabs_watch_one_run_and_either_pauses_it(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.1) as ui:
        first, second = ui.page, ui.new_page()
        send(first, "/run 300")
        # the second tab did not ask for the run, and sees it cycle by cycle
        expect(second.get_by_text(re.compile(r"^\s*Cycle 3 · run-1/branch 1 · "))).to_be_visible(timeout=60_000)
        wait_for_dashboard_cycle(second, 5)
        send(second, "/run 5")  # one run at a time, whoever asks
        expect(second.get_by_text(re.compile(r"^⚠️ a run is already going \(running: \d+ of 300"))).to_be_visible(
            timeout=30_000)
        send(second, "/pause")
        done = re.compile(r"^■ Paused after (\d+) of 300 cycles, now at cycle (\d+)")
        for page in (first, second):  # both pages are told, and both dashboards stop at that cycle
            expect(page.get_by_text(done)).to_be_visible(timeout=30_000)
        at = int(done.search(first.get_by_text(done).text_content()).group(2))
        assert at == int(done.search(second.get_by_text(done).text_content()).group(2))
        for page in (first, second):
            wait_for_dashboard_at(page, at)
        shot(first, "tabs-1-first")
        shot(second, "tabs-2-second")
        send(first, "@momentum what is your position and PnL?")  # questions are answered in the asking tab
        expect(first.get_by_text(f"I'm momentum, at cycle {at}")).to_be_visible(timeout=30_000)
        expect(second.get_by_text(f"I'm momentum, at cycle {at}")).to_have_count(0)
        assert dashboard_cycle(first) == dashboard_cycle(second) == at
