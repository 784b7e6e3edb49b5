"""A page that lasts an hour (issue 16): it keeps its last TRADING_FLOOR_UI_KEEP_CYCLES cycle steps, the
oldest one becoming, in place, one line that says where the older cycles are. Driven through the handlers
under a mocked Chainlit session (tests/test_chat_ui_handlers.py); the events it receives are applied the
way Chainlit's page applies them, to see what the chat holds at the end."""
from __future__ import annotations

import re

from test_chat_ui_handlers import drive, run

from chat_ui import present


def page_after(events: list[tuple[str, dict]]) -> list[dict]:
    """The chat's top-level messages after these events, applied as Chainlit's frontend does: a new message
    is appended, an update replaces the fields it carries (its `steps` too), a delete takes it off."""
    chat: list[dict] = []
    for kind, msg in events:
        if kind == "new_message" and not msg.get("parentId"):
            chat.append(msg)
        elif kind == "update_message":
            chat = [{**m, **msg} if m["id"] == msg["id"] else m for m in chat]
        elif kind == "delete_message":
            chat = [m for m in chat if m["id"] != msg["id"]]
    return chat


def cycle_of(msg: dict) -> int | None:
    m = re.match(r"Cycle (\d+)\b", msg.get("name", "")) if msg.get("type") == "run" else None
    return int(m.group(1)) if m else None


def test_a_long_run_keeps_the_last_cycles_and_says_where_the_older_ones_are(tmp_path):
    async def script(ui):
        await run("/run 12")

    ui = drive(tmp_path, script, TRADING_FLOOR_UI_KEEP_CYCLES="5")
    events = [(c.args[0], c.args[1]) for c in ui.session.emit.call_args_list
              if c.args[0] in ("new_message", "update_message", "delete_message")]
    sent = [m for k, m in events if k == "new_message" and cycle_of(m)]
    assert [cycle_of(m) for m in sent] == list(range(1, 13))  # every cycle was shown as it ran
    chat = page_after(events)
    assert [cycle_of(m) for m in chat if cycle_of(m)] == [8, 9, 10, 11, 12]  # the last 5 stay
    notes = [m for m in chat if m["output"].startswith("Older cycles are no longer on this page")]
    assert len(notes) == 1 and notes[0]["id"] == sent[0]["id"]  # in cycle 1's place, one line, no children
    assert notes[0]["type"] == "assistant_message" and notes[0]["steps"] == []
    assert "last 5 cycles" in notes[0]["output"] and "trading-floor history" in notes[0]["output"]
    assert chat.index(notes[0]) < min(chat.index(m) for m in chat if cycle_of(m))  # above the cycles kept
    assert chat[-1]["output"].startswith("✓ Ran 12 cycles")  # the rest of the chat is untouched
    deleted = [m["id"] for k, m in events if k == "delete_message"]
    assert deleted == [m["id"] for m in sent[1:7]]  # cycles 2-7 taken off, each once


def test_the_cap_defaults_to_200_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv("TRADING_FLOOR_UI_KEEP_CYCLES", raising=False)
    assert present.keep_cycles() == 200
    monkeypatch.setenv("TRADING_FLOOR_UI_KEEP_CYCLES", "50")
    assert present.keep_cycles() == 50
    monkeypatch.setenv("TRADING_FLOOR_UI_KEEP_CYCLES", "0")
    assert present.keep_cycles() == 1
    monkeypatch.setenv("TRADING_FLOOR_UI_KEEP_CYCLES", "many")
    assert present.keep_cycles() == 200
