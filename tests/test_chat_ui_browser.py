"""End to end in a real browser: the real Chainlit server on 127.0.0.1 with a temp database, driven with
Playwright through Debian's chromium. Runs 3 cycles from the chat, sees the cycle steps and a chart, asks a
trader a question, rolls back one cycle and sees the state change. Screenshots go to artifacts/ui/.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from floor_helpers import fast_config, free_port, write_config

from cli.ui import ui_command, ui_environment

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "ui"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                               "(apt-get install chromium)")



@pytest.fixture
def server(tmp_path):
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, fast_config(seed=11))
    port = free_port()
    env = ui_environment(tmp_path / "floor.db", "127.0.0.1", port, cfg)
    log = (tmp_path / "server.log").open("w")  # noqa: SIM115 - open for the server's lifetime, closed below
    proc = subprocess.Popen(ui_command("127.0.0.1", port), env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
        else:
            pytest.fail("the Chainlit server did not start: " + (tmp_path / "server.log").read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _send(page, text: str) -> None:
    box = page.locator("#chat-input")
    box.click()
    box.fill(text)
    box.press("Enter")


def _scroll_to(locator) -> None:
    """Scroll to an element for a screenshot. Chainlit may re-render a message while we scroll (the element
    is then detached); the locator finds the new one on the next try."""
    from playwright.sync_api import Error

    for attempt in range(5):
        try:
            locator.scroll_into_view_if_needed(timeout=5_000)
            return
        except Error as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


def test_run_question_rollback_in_browser(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(server)
        expect(page.get_by_text("No run yet")).to_be_visible(timeout=30_000)

        _send(page, "/run 3")
        expect(page.get_by_text("Floor at cycle 3")).to_be_visible(timeout=60_000)
        cycle3_tape = page.locator("td", has_text=re.compile(r"^\(3, \d+\)$"))
        expect(cycle3_tape.first).to_be_visible()  # the tape shows cycle 3's trades
        for c in (1, 2, 3):  # Chainlit shows a finished step as "Used <name>"
            expect(page.get_by_text(f"Used Cycle {c}", exact=True)).to_be_visible()
        chart = page.locator(".js-plotly-plot").first
        expect(chart).to_be_visible(timeout=30_000)
        _scroll_to(chart)
        page.screenshot(path=str(ARTIFACTS / "1-after-3-cycles.png"))
        etf = page.locator(".js-plotly-plot", has_text="FLOR vs NAV")
        expect(etf).to_have_count(1)
        expect(page.locator(".js-plotly-plot", has_text="PnL per trader")).to_have_count(1)
        _scroll_to(etf)
        page.screenshot(path=str(ARTIFACTS / "1b-etf-vs-nav.png"))

        page.get_by_text("Used Cycle 3", exact=True).click()  # open the step: its nested node steps
        for node in ("market tick", "discussion", "decide", "risk", "execution", "fills"):
            expect(page.get_by_text(f"Used {node}", exact=True).last).to_be_visible(timeout=10_000)
        page.get_by_text("Used decide", exact=True).last.click()
        page.get_by_text("Used momentum", exact=True).last.click()
        reasoning = page.get_by_text("(rule mode)").last
        expect(reasoning).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Signals:").last).to_be_visible()
        _scroll_to(reasoning)
        page.screenshot(path=str(ARTIFACTS / "2-cycle-steps.png"))

        _send(page, "@arbitrage what is your position and PnL?")
        expect(page.get_by_text("I'm arbitrage, at cycle 3")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Portfolio value").last).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "3-question.png"), full_page=False)

        _send(page, "/rollback 2")
        expect(page.get_by_text("Rolled back to cycle 2")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Floor at cycle 2")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Floor at cycle 3")).to_have_count(0)  # the old dashboard was replaced
        expect(cycle3_tape).to_have_count(0)  # and cycle 3's trades are gone from the tape
        _scroll_to(page.get_by_text("Floor at cycle 2"))
        page.screenshot(path=str(ARTIFACTS / "4a-dashboard-after-rollback.png"))
        _send(page, "@arbitrage what is your position and PnL?")
        answer = page.get_by_text("I'm arbitrage, at cycle 2")
        expect(answer).to_be_visible(timeout=30_000)
        _scroll_to(answer)
        page.screenshot(path=str(ARTIFACTS / "4-after-rollback.png"), full_page=False)

        # Chainlit's Stop button pauses after the cycle in progress; the run then continues from there.
        _send(page, "/run 300")  # from cycle 2: it would end at cycle 302
        stop = page.locator("#stop-button")
        stop.wait_for(timeout=20_000)
        page.wait_for_timeout(800)  # a few cycles run (the browser renders them later)
        stop.dispatch_event("click")
        expect(page.get_by_text("Task manually stopped")).to_be_visible(timeout=30_000)
        answers = page.get_by_text(re.compile(r"^I'm arbitrage, at cycle \d+"))
        _send(page, "@arbitrage what is your position and PnL?")
        expect(answers).to_have_count(3, timeout=60_000)  # the two before, and this one
        stopped_at = int(re.search(r"at cycle (\d+)", answers.last.inner_text()).group(1))
        assert 2 <= stopped_at < 302  # stopped early (2: before its first cycle began)
        _send(page, "/run 1")
        expect(page.get_by_text(f"Floor at cycle {stopped_at + 1}", exact=True)).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "5-after-stop-and-continue.png"))
        browser.close()
