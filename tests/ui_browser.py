"""Shared pieces of the browser tests (tests/test_chat_ui_*.py): the real Chainlit server on 127.0.0.1
with a temp database, Debian's chromium through Playwright, and small page helpers. Screenshots go to
artifacts/ui/ for a person to look at."""
from __future__ import annotations

import contextlib
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from floor_helpers import fast_config, free_port, write_config

from cli.ui import ui_command, ui_environment

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "ui"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 900}

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                   "(apt-get install chromium)")


@contextlib.contextmanager
def ui_server(tmp_path: Path, *, seed: int = 11, pace: float = 0.05, config=None, **env: str):
    """The `trading-floor ui` server process; yields (url, log path). Killed at the end."""
    cfg = tmp_path / "floor.yaml"
    write_config(cfg, config or fast_config(seed=seed))
    port = free_port()
    environ = ui_environment(tmp_path / "floor.db", "127.0.0.1", port, cfg)
    environ.update({"TRADING_FLOOR_UI_CYCLE_SECONDS": str(pace), **env})
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(ui_command("127.0.0.1", port), env=environ, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(160):
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
            assert proc.poll() is None, log_path.read_text()
        else:
            pytest.fail("the Chainlit server did not start: " + log_path.read_text())
        yield url, log_path
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


@contextlib.contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class UI:
    """A running UI server with a browser on it: the first page, its browser context, the server's log."""

    url: str
    log: Path
    browser: Any
    context: Any
    page: Any

    def new_page(self):
        """Another tab in the same browser context."""
        return open_page(self.browser, self.url, self.context)


@contextlib.contextmanager
def ui_page(tmp_path: Path, *, pace: float = 0.1, **server):
    """The server (`ui_server`), Debian's chromium and a first page on it (1400x900, dark). On a clean exit
    the server's log must hold no traceback."""
    with ui_server(tmp_path, pace=pace, **server) as (url, log), browser() as b:
        ctx = b.new_context(viewport=VIEWPORT, color_scheme="dark")
        yield UI(url, log, b, ctx, open_page(b, url, ctx))
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]


def open_page(b, url: str, context=None):
    from playwright.sync_api import expect

    ctx = context or b.new_context(viewport=VIEWPORT, color_scheme="dark")
    page = ctx.new_page()
    page.goto(url)
    expect(page.locator("#chat-input")).to_be_visible(timeout=30_000)
    # the session has started (a message typed before would be lost): the greeting is there
    expect(page.get_by_text(re.compile(r"^Trading Floor on ")).last).to_be_visible(timeout=30_000)
    return page


def send(page, text: str) -> None:
    box = page.locator("#chat-input")
    box.click()
    box.fill(text)
    box.press("Enter")


def dashboard_cycle(page) -> int:
    """The cycle the sidebar dashboard shows (0 when it is not there)."""
    loc = page.locator("#dashboard-cycle")
    if loc.count() == 0:
        return 0
    m = re.search(r"Cycle (\d+)", loc.first.inner_text())
    return int(m.group(1)) if m else 0


def wait_for_dashboard_cycle(page, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = dashboard_cycle(page)
        if c >= at_least:
            return c
        page.wait_for_timeout(200)
    raise AssertionError(f"the dashboard did not reach cycle {at_least} (it shows {dashboard_cycle(page)})")


def wait_for_dashboard_at(page, cycle: int, timeout_ms: int = 30_000) -> None:
    """Wait until the dashboard shows exactly this cycle (after a pause, a rollback)."""
    page.wait_for_function(f"() => /Cycle {cycle}\\b/.test(document.querySelector('#dashboard-cycle')?.innerText)",
                           timeout=timeout_ms)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def scroll_to(locator) -> None:
    """Scroll to an element for a screenshot; Chainlit may re-render it meanwhile (detached): retry."""
    from playwright.sync_api import Error

    for attempt in range(5):
        try:
            locator.scroll_into_view_if_needed(timeout=5_000)
            return
        except Error as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2)


# A frame and input-latency probe, installed before the page loads: every animation frame's interval, the
# long tasks and long animation frames (with the scripts that made them) the browser reports, and for each
# key typed its echo, measured two ways:
# - `echo`, the browser's own measure (Event Timing, as for Interaction to Next Paint): from the key's event
#   time (`timeStamp`, taken when the browser received the key, so time spent waiting for a busy main thread
#   counts) to the presentation of the frame painted after its handlers ran, i.e. the frame that shows the
#   character. The browser reports entries of 16 ms and more; a key with no entry counts as 16 ms.
# - `after_paint`, an upper bound taken in the page: to a task posted from the first animation frame after
#   the input event. That task runs after the paint, but also after every task queued before it (websocket
#   messages, say), so it can run long after the character is on screen.
# A key counts only when its character is in the field at the input event; keys whose character never
# showed are counted as `missed`.
PROBE = """
(() => {
  const probe = window.__probe = {frames: [], longtasks: [], loaf: [], keys: [], events: [], after_paint: [],
                                  missed: 0};
  let last = performance.now();
  const tick = (t) => { probe.frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const observe = (options, each) => {
    try { new PerformanceObserver((list) => list.getEntries().forEach(each)).observe(options); } catch (e) {}
  };
  observe({entryTypes: ['longtask']}, (e) => probe.longtasks.push(e.duration));
  observe({type: 'long-animation-frame'}, (e) => probe.loaf.push({start: e.startTime, duration: e.duration,
    scripts: (e.scripts || []).map((s) => ({invoker: s.invoker, duration: s.duration}))}));
  observe({type: 'event', durationThreshold: 16}, (e) => {
    if (e.name === 'keydown') probe.events.push({start: e.startTime, duration: e.duration});
  });
  const pending = [];
  document.addEventListener('keydown', (e) => {
    if (e.key.length === 1) pending.push({key: e.key, t0: e.timeStamp});
  }, true);
  document.addEventListener('input', (e) => {
    const k = pending.shift();
    if (!k) return;
    const text = e.target.value !== undefined ? e.target.value : e.target.textContent;
    if (!text || !text.endsWith(k.key)) { probe.missed += 1; return; }
    probe.keys.push(k.t0);
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => probe.after_paint.push(performance.now() - k.t0);
      channel.port2.postMessage(0);
    });
  }, true);
})();
"""
EVENT_TIMING_THRESHOLD = 16.0  # ms: the browser reports no shorter event


def install_probe(context) -> None:
    context.add_init_script(PROBE)


def reset_probe(page) -> None:
    page.evaluate("Object.assign(window.__probe, {frames: [], longtasks: [], loaf: [], keys: [], events: [], "
                  "after_paint: [], missed: 0})")


def probe_results(page) -> dict:
    """The probe's records, with `echo`: each key's echo (ms) as the browser measured it (Event Timing)."""
    page.wait_for_timeout(300)  # the last key's entry is reported after its frame
    out = page.evaluate("window.__probe")
    by_start = {}
    for e in out["events"]:
        by_start[round(e["start"], 1)] = max(e["duration"], by_start.get(round(e["start"], 1), 0.0))
    out["echo"] = [by_start.get(round(t0, 1), EVENT_TIMING_THRESHOLD) for t0 in out["keys"]]
    return out


def slow_frames(loaf: list[dict], over_ms: float = 100.0) -> dict:
    """Long animation frames over `over_ms`: how many, the longest, and the script invokers that took the
    most time in them (e.g. `DOMWebSocket.onmessage`: Chainlit handling a socket message)."""
    slow = [f for f in loaf if f["duration"] > over_ms]
    by_invoker: dict[str, float] = {}
    for f in slow:
        for sc in f["scripts"]:
            by_invoker[sc["invoker"]] = by_invoker.get(sc["invoker"], 0.0) + sc["duration"]
    top = sorted(by_invoker.items(), key=lambda kv: -kv[1])[:3]
    return {"n": len(slow), "max": max((f["duration"] for f in slow), default=0.0), "top": top}


def type_slowly(page, text: str, every_ms: int = 150) -> None:
    """Type into the chat input one key at a time (each key's echo is measured by the probe)."""
    box = page.locator("#chat-input")
    box.click()
    for ch in text:
        page.keyboard.type(ch)
        page.wait_for_timeout(every_ms)


def summarize(samples: list[float]) -> dict:
    xs = sorted(samples)
    if not xs:
        return {"n": 0, "median": 0.0, "p95": 0.0, "max": 0.0}
    return {"n": len(xs), "median": xs[len(xs) // 2], "p95": xs[min(len(xs) - 1, int(len(xs) * 0.95))],
            "max": xs[-1]}


def page_memory(page) -> dict:
    """The page's JS heap in use (bytes) and its DOM node count, after a full garbage collection (Chrome's
    own counters, through the DevTools protocol), and the chat's step count."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    finally:
        cdp.detach()
    return {"heap": metrics["JSHeapUsedSize"], "nodes": metrics["Nodes"], "steps": page.locator(".step").count()}


def run_to_end(page, cycles: int, to_cycle: int, timeout_ms: int = 120_000) -> None:
    """`/run N` from the chat, waiting for its result and for the dashboard at its last cycle."""
    from playwright.sync_api import expect

    send(page, f"/run {cycles}")
    expect(page.get_by_text(f"✓ Ran {cycles} cycles, now at cycle {to_cycle}.")).to_be_visible(timeout=timeout_ms)
    wait_for_dashboard_at(page, to_cycle)
