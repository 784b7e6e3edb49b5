"""Steering a run from the page while it goes on (issue 16, defect 2): the Pause button and a typed `/pause`
stop it at the cycle boundary with "paused after N of M cycles" and the dashboard at that cycle; an approval
pause is scrolled to and highlighted, and after the answer the remaining cycles of the `/run` go on.
Real server, Debian's chromium; screenshots in artifacts/ui/."""
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
PAUSED = re.compile(r"^■ Paused after (\d+) of (\d+) cycles(?: \(stopped\))?, now at cycle (\d+)")


def _paused(page, nth: int):
    from playwright.sync_api import expect

    msg = page.get_by_text(PAUSED)
    expect(msg).to_have_count(nth, timeout=30_000)
    done, of, at = map(int, PAUSED.search(msg.nth(nth - 1).text_content()).groups())
    wait_for_dashboard_at(page, at)
    return done, of, at


def test_pause_button_typed_pause_and_stop_mid_run(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.15) as ui:
        page = ui.page
        send(page, "/run 300")
        wait_for_dashboard_cycle(page, 3)
        page.get_by_role("button", name="Pause", exact=True).first.click()  # the run message's button
        done, of, at = _paused(page, 1)
        assert of == 300 and 3 <= done < 300 and at == done
        expect(page.locator("#dashboard-status")).to_contain_text(f"paused after {done} of 300 cycles")
        shot(page, "pause-1-button")

        send(page, "/run 300")
        wait_for_dashboard_cycle(page, at + 3)
        send(page, "/pause")  # typed while the run goes on: the input is free
        done2, _, at2 = _paused(page, 2)
        assert at2 == at + done2 and 3 <= done2 < 300

        send(page, "/run 300")
        wait_for_dashboard_cycle(page, at2 + 3)
        page.locator("#dashboard-stop").click()  # the dashboard's Stop stays in view while the chat scrolls
        done3, _, at3 = _paused(page, 3)
        assert at3 == at2 + done3 and done3 < 300
        expect(page.get_by_text(PAUSED).last).to_contain_text("(stopped)")
        assert dashboard_cycle(page) == at3
        shot(page, "pause-2-stopped")


def test_approval_is_highlighted_and_the_run_goes_on_after_the_answer(tmp_path):
    from playwright.sync_api import expect

    with ui_page(tmp_path, pace=0.05) as ui:
        page = ui.page
        send(page, "/approval on")
        expect(page.get_by_text("Approval mode on")).to_be_visible(timeout=30_000)
        send(page, "/run 12")
        prompt = page.locator("#approval-waiting")
        expect(prompt).to_be_visible(timeout=60_000)
        expect(prompt).to_be_in_viewport()  # scrolled to
        border = prompt.evaluate("e => getComputedStyle(e).borderTopColor")
        assert border == "rgb(245, 158, 11)", border  # highlighted
        asked = int(re.search(r"Cycle (\d+)", prompt.inner_text()).group(1))
        expect(prompt.locator(".approval-orders > div").first).to_have_text(re.compile(r"^1\. \w+ \("))
        shot(page, "approval-1-prompt")
        send(page, "/approval off")  # the rest of the run goes on unattended
        page.get_by_role("button", name="Approve all").last.click()
        expect(page.get_by_text(re.compile(rf"^✓ Cycle {asked}: orders approved\. The run goes on"))).to_be_visible(
            timeout=30_000)
        expect(page.get_by_text(re.compile(r"^✓ Ran 12 cycles, now at cycle 12\."))).to_be_visible(timeout=60_000)
        expect(page.locator("#approval-waiting")).to_have_count(0)
        step = page.get_by_text(re.compile(rf"^\s*Cycle {asked} · run-1/branch 1 · "))
        step.click()
        page.locator("[id='step-risk']").last.click()
        expect(page.get_by_text(re.compile(r"A person approved all of \d+ proposed orders")).last).to_be_visible()
        shot(page, "approval-2-run-went-on")
        assert dashboard_cycle(page) == 12
