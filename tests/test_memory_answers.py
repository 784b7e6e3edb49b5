"""Asking a learning trader about its memory: "what have you learned?" and "why did you change your
threshold?", answered from its memories and traced choices, in the UI (FloorController.ask) and on the
command line (`trading-floor memory TRADER --why / --ask`)."""
from __future__ import annotations

import asyncio
import re

import pytest
from test_memory_floor import learning_config
from typer.testing import CliRunner

from floor.session import FloorSession
from ledger.memory_store import load_memories
from traders.memory.answers import kind_of, memory_answer, why_text


def test_questions_are_recognised_and_others_left_alone():
    assert kind_of("what have you learned?") == "learned"
    assert kind_of("why did you change your threshold?") == "why"
    assert kind_of("Why did you switch entry_z?", ["entry_z"]) == "why"
    assert kind_of("why did you sell NVDA in cycle 12?") is None
    assert kind_of("what is your position and PnL?") is None


def test_why_names_the_last_change_and_its_reason():
    choices = [(1, {"param": "threshold", "arm": "0.005", "reason": "r1"}),
               (2, {"param": "threshold", "arm": "0.015", "reason": "r2", "similar": 7}),
               (3, {"param": "threshold", "arm": "0.015", "reason": "r3"}),
               (4, {"param": "threshold", "arm": "0.03", "reason": "r4", "similar": 9}),
               (5, {"param": "threshold", "arm": "0.03", "reason": "r5"})]
    said = why_text("momentum", choices)
    assert said.startswith("At cycle 4 I changed threshold from 0.015 to 0.03") and "r4" in said and "9 of them" in said
    kept = why_text("momentum", [(c, p | {"arm": "0.015"}) for c, p in choices])
    assert kept.startswith("I have not changed threshold: it has been 0.015 since cycle 1") and "r5" in kept


@pytest.fixture(scope="module")
def learned_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("answers") / "floor.db"
    s = FloorSession(db, learning_config())
    s.start(seed=5)
    s.run(30)
    led = s.floor.ledger
    known = [m.trader for m in load_memories(led.conn, led.branch_id) if m.markout_bp is not None]
    s.close()
    assert known, "some learning trader should have outcomes after 30 cycles"
    return db, max(sorted(set(known)), key=known.count)  # the trader with the most outcomes


def _truth(db, trader):
    s = FloorSession(db, learning_config())
    try:
        led = s.floor.ledger
        mems = load_memories(led.conn, led.branch_id, trader)
        choices = [(t["cycle"], t["payload"]) for t in led.traces(agent=trader, kind="learning", limit=None)]
        return mems, choices, memory_answer(led, trader, "what have you learned?"), \
            memory_answer(led, trader, "why did you change your threshold?")
    finally:
        s.close()


def test_answers_come_from_the_memory(learned_db):
    db, trader = learned_db
    mems, choices, learned, why = _truth(db, trader)
    param = choices[-1][1]["param"]
    known = [m for m in mems if m.markout_bp is not None]
    assert learned.startswith(f"From my memory ({len(mems)} decisions, {len(known)} with a known outcome)")
    for arm in {m.arm for m in known}:
        xs = [m.markout_bp for m in known if m.arm == arm]
        assert f"{param} {arm}: {sum(xs) / len(xs):+.1f} bp mean markout over {len(xs)} outcomes" in learned
    assert f"Now (cycle {choices[-1][0]}) I use {param} {choices[-1][1]['arm']}" in learned
    changes = [c1 for (_, p0), (c1, p1) in zip(choices, choices[1:], strict=False) if p0["arm"] != p1["arm"]]
    if changes:
        assert why.startswith(f"At cycle {changes[-1]} I changed {param}")
    else:
        assert why.startswith(f"I have not changed {param}")


def test_command_line_why_and_ask(learned_db):
    from cli.app import app

    db, trader = learned_db
    _, _, learned, why = _truth(db, trader)
    out = CliRunner().invoke(app, ["memory", trader, "--db", str(db), "--why"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == why.strip()
    out = CliRunner().invoke(app, ["memory", trader, "--db", str(db), "--ask", "what have you learned?"])
    assert out.exit_code == 0 and out.output.strip() == learned.strip()
    bad = CliRunner().invoke(app, ["memory", trader, "--db", str(db), "--ask", "what is your PnL?"])
    assert bad.exit_code != 0 and "not a question about what the trader learned" in bad.output
    lessons = CliRunner().invoke(app, ["memory", trader, "--db", str(db), "--lessons"])
    assert lessons.exit_code == 0 and "lessons (0, none vectors)" in lessons.output


def test_the_ui_answers_from_the_memory(learned_db):
    from chat_ui.controller import FloorController

    db, trader = learned_db
    _, _, learned, why = _truth(db, trader)

    async def ask():
        ctl = await FloorController.open(db, learning_config())
        try:
            return (await ctl.ask(f"@{trader} what have you learned?"),
                    await ctl.ask(f"@{trader} why did you change your threshold?"),
                    await ctl.ask(f"@{trader} what is your position and PnL?"))
        finally:
            await ctl.close()

    a, b, other = asyncio.run(ask())
    assert a == learned and b == why
    assert not re.match(r"From my memory|At cycle \d+ I changed|I have not changed", other)  # explain answers it
