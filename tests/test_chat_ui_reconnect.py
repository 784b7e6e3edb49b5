"""A page that loses its connection, or is reloaded, during a run: the run goes on in the server, and the
page comes back to it (issue 16, defects 1 and 5). Real server, Debian's chromium; screenshots in
artifacts/ui/."""
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


def test_offline_for_8_seconds_then_status_answers_and_the_run_went_on(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.1) as ui:
        page = ui.page
        send(page, "/run 150")
        before = wait_for_dashboard_cycle(page, 3)
        ui.context.set_offline(True)
        page.wait_for_timeout(8_000)
        shot(page, "reconnect-1-offline")
        ui.context.set_offline(False)
        # the page is told it reconnected, and where the run is; the dashboard goes on updating
        expect(page.get_by_text(re.compile(r"^↻ Reconnected\."))).to_be_visible(timeout=30_000)
        after = wait_for_dashboard_cycle(page, before + 10)
        assert after > before
        send(page, "/status")
        answer = page.get_by_text(re.compile(r"^Thread run-1 \(branch 1\) is at cycle \d+"))
        expect(answer.last).to_be_visible(timeout=30_000)
        send(page, "/pause")
        expect(page.get_by_text(re.compile(r"^■ Paused after \d+ of 150 cycles"))).to_be_visible(timeout=30_000)
        shot(page, "reconnect-2-back-and-paused")
        send(page, "/run 1")  # every command works on the same session
        expect(page.get_by_text(re.compile(r"^✓ Ran 1 cycle, now at cycle \d+"))).to_be_visible(timeout=30_000)
        text = ui.log.read_text()
        assert "no active connection" not in text and "session has ended" not in text, text[-3000:]


def test_reload_mid_run_shows_where_the_run_is_and_it_can_be_paused(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.1) as ui:
        page = ui.page
        send(page, "/run 200")
        wait_for_dashboard_cycle(page, 4)
        page.reload()
        # a reloaded page: where the run is, that it is in progress, its last cycles, the live dashboard
        expect(page.get_by_text(re.compile(r"A run is in progress"))).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile(r"^\s*Cycle \d+ · run-1/branch 1 · ")).first).to_be_visible()
        first = wait_for_dashboard_cycle(page, 1)
        wait_for_dashboard_cycle(page, first + 5)  # the run goes on, shown live on the reloaded page
        expect(page.locator("#dashboard-status")).to_contain_text("running")
        shot(page, "reload-1-mid-run")
        page.locator("#dashboard-pause").click()  # the dashboard's own Pause button
        done = page.get_by_text(re.compile(r"^■ Paused after (\d+) of 200 cycles, now at cycle (\d+)"))
        expect(done).to_be_visible(timeout=30_000)
        n, at = map(int, re.search(r"after (\d+) of 200 cycles, now at cycle (\d+)", done.text_content()).groups())
        assert n == at and 5 < n < 200
        wait_for_dashboard_at(page, at)
        expect(page.locator("#dashboard-status")).to_contain_text(f"paused after {n} of 200 cycles")
        shot(page, "reload-2-paused")
        assert dashboard_cycle(page) == at
