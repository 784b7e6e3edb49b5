"""End to end in a real browser (the real Chainlit server on 127.0.0.1, Debian's chromium): run 3 cycles from
the chat, see each cycle as a step titled with its summary (no "Used" prefix) and the live dashboard in the
sidebar (never a chat message), open a cycle's nested steps, ask a trader a question, roll back a cycle.
Screenshots go to artifacts/ui/.
"""
from __future__ import annotations

import re

from ui_browser import (
    browser,
    dashboard_cycle,
    needs_chromium,
    open_page,
    scroll_to,
    send,
    shot,
    ui_server,
    wait_for_dashboard_cycle,
)

pytestmark = needs_chromium


def test_run_steps_dashboard_question_rollback(tmp_path):
    from playwright.sync_api import expect

    with ui_server(tmp_path) as (url, _), browser() as b:
        page = open_page(b, url)
        expect(page.get_by_text("No run yet").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("LLMs can make mistakes")).to_have_count(0)  # rule mode: no LLM footer

        send(page, "/run 3")
        expect(page.get_by_text(re.compile(r"^✓ Ran 3 cycles, now at cycle 3\."))).to_be_visible(timeout=60_000)
        assert wait_for_dashboard_cycle(page, 3) == 3
        for c in (1, 2, 3):  # each cycle's step is titled with its summary, without Chainlit's "Used"
            title = page.get_by_text(re.compile(rf"^\s*Cycle {c} · run-1/branch 1 · "))
            expect(title).to_have_count(1)
        expect(page.get_by_text(re.compile(r"^Used "))).to_have_count(0)
        # the page style is installed: steps out of view are not rendered (a long run's chat stays cheap)
        assert page.locator(".step").first.evaluate("e => getComputedStyle(e).contentVisibility") == "auto"

        side = page.locator("#side-view-content")
        expect(side.locator("#floor-dashboard")).to_be_visible()
        expect(side.get_by_text("Leaderboard")).to_be_visible()
        expect(side.get_by_text("FLOR NAV")).to_be_visible()  # the ETF against its NAV
        # the leaderboard's columns all fit: its last cell ends inside the sidebar
        last_cell = side.locator("table").first.locator("tr").nth(1).locator("td").last
        box, panel = last_cell.bounding_box(), side.bounding_box()
        assert box["x"] + box["width"] <= panel["x"] + panel["width"] + 1, (box, panel)
        # the charts use the page's theme: light text on the dark background, integer cycles on the x axis
        color = side.locator("#floor-dashboard").evaluate("e => getComputedStyle(e).color")
        assert sum(int(v) for v in re.findall(r"\d+", color)[:3]) > 3 * 150, color
        xlabels = side.locator("svg text[text-anchor='middle']").evaluate_all("es => es.map(e => e.textContent)")
        assert xlabels and all(re.fullmatch(r"-?\d+", t) for t in xlabels), xlabels  # warm-up cycles are <= 0
        for svg in side.locator("svg").all():  # y labels as precise as needed: never "166, 166, 166"
            ylabels = svg.locator("text[text-anchor='end']").evaluate_all("es => es.map(e => e.textContent)")
            assert len(ylabels) == len(set(ylabels)), ylabels
        # the tape shows the floor traders' trades; background traffic is a toggle
        tape = side.locator("section").filter(has=page.locator("h3", has_text="Tape")).locator("tbody tr")

        def background_rows() -> int:
            rows = tape.evaluate_all("rs => rs.map(r => [...r.cells].slice(-2).map(c => c.textContent))")
            return sum(all(c.startswith("bg:") for c in r) for r in rows)

        assert background_rows() == 0
        side.locator("#tape-background").check()
        page.wait_for_timeout(300)
        assert background_rows() > 0
        side.locator("#tape-background").uncheck()
        # the dashboard is not in the chat
        expect(page.get_by_text("Floor at cycle")).to_have_count(0)
        shot(page, "1-after-3-cycles")

        page.get_by_text(re.compile(r"^\s*Cycle 3 · ")).click()  # open the step: its nested node steps
        for node in ("market tick", "discussion", "decide", "risk", "execution", "fills"):
            expect(page.locator(f"[id='step-{node}']").last).to_be_visible(timeout=10_000)
        page.locator("[id='step-decide']").last.click()
        page.locator("[id='step-momentum']").last.click()
        reasoning = page.get_by_text("(rule mode)").last
        expect(reasoning).to_be_visible(timeout=10_000)
        scroll_to(reasoning)
        shot(page, "2-cycle-steps")

        send(page, "@arbitrage what is your position and PnL?")
        expect(page.get_by_text("I'm arbitrage, at cycle 3")).to_be_visible(timeout=30_000)
        shot(page, "3-question")

        send(page, "/rollback 2")
        expect(page.get_by_text("Rolled back to cycle 2")).to_be_visible(timeout=30_000)
        page.wait_for_function("() => /Cycle 2\\b/.test(document.querySelector('#dashboard-cycle')?.innerText)",
                               timeout=30_000)
        assert dashboard_cycle(page) == 2
        expect(page.locator("#dashboard-status")).to_contain_text("idle")
        shot(page, "4-after-rollback")
        send(page, "@arbitrage what is your position and PnL?")
        expect(page.get_by_text("I'm arbitrage, at cycle 2")).to_be_visible(timeout=30_000)
