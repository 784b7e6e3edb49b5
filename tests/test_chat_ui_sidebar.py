"""The dashboard's sidebar stays as the person left it while a run updates it (issue 16): resized, it keeps
its width; closed, it stays closed, and the run goes on in the chat; `/status` opens it again, up to date.
Real server, Debian's chromium; screenshots in artifacts/ui/."""
from __future__ import annotations

import re
import time

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
STEP = re.compile(r"^\s*Cycle (\d+) · run-1/branch 1 · ")


def _last_step(page) -> int:
    """The newest cycle step in the chat (its text, not innerText: a step out of view is not rendered)."""
    steps = page.get_by_text(STEP)
    return int(STEP.search(steps.last.text_content()).group(1)) if steps.count() else 0


def _wait_for_step(page, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (c := _last_step(page)) >= at_least:
            return c
        page.wait_for_timeout(200)
    raise AssertionError(f"the chat did not reach cycle {at_least} (it shows {_last_step(page)})")


def test_a_resized_or_closed_sidebar_stays_so_while_the_run_updates_it(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.1) as ui:
        page = ui.page
        send(page, "/run 400")
        wait_for_dashboard_cycle(page, 3)
        panel = page.locator("#side-view-content")
        width = panel.bounding_box()["width"]

        # resized: the person drags the handle between the chat and the sidebar 150 px to the right
        handle = page.locator("[data-panel-resize-handle-id]").last
        box = handle.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 75, y, steps=5)
        page.mouse.move(x + 150, y, steps=5)
        page.mouse.up()
        resized = panel.bounding_box()["width"]
        assert resized < width - 100, (width, resized)
        seen = dashboard_cycle(page)
        wait_for_dashboard_cycle(page, seen + 8)  # several updates later
        assert abs(panel.bounding_box()["width"] - resized) <= 1
        shot(page, "sidebar-1-resized")

        # closed: it stays closed while the run goes on in the chat
        page.locator("#side-view-title button").first.click()
        expect(page.locator("#floor-dashboard")).to_have_count(0)
        now = _last_step(page)
        _wait_for_step(page, now + 12)  # a dashboard update is published every second or so
        expect(page.locator("#floor-dashboard")).to_have_count(0)
        expect(page.locator("#side-view-content")).to_have_count(0)
        shot(page, "sidebar-2-closed-while-running")

        # asked for, it opens again, up to date, and follows the run to its pause
        send(page, "/status")
        expect(page.locator("#floor-dashboard")).to_be_visible(timeout=30_000)
        assert dashboard_cycle(page) >= now + 12
        send(page, "/pause")
        done = page.get_by_text(re.compile(r"^■ Paused after \d+ of 400 cycles, now at cycle (\d+)"))
        expect(done).to_be_visible(timeout=30_000)
        at = int(re.search(r"now at cycle (\d+)", done.text_content()).group(1))
        wait_for_dashboard_at(page, at)
        shot(page, "sidebar-3-reopened")
