"""An LLM trader with `learning:` through the whole graph (scripted fake model): similar memories and lessons
in its prompt, a reflection every N cycles stored per branch (a rollback forgets it), lexical vectors
labelled as such; the embeddings endpoint of the stub server, misbehaving once, then garbage."""
from __future__ import annotations

import numpy as np
from floor_helpers import fast_config
from support.fake_chat import ScriptedChatModel, ai_text, ai_tool_calls
from typer.testing import CliRunner

from floor.session import FloorSession
from ledger.memory_store import load_lessons, load_memories
from traders.llm.embeddings import LEXICAL, TextEmbedder, lexical_vector

LESSON = "Buying NVDA right after a rise lost money; wait for a pullback near its mean before buying."


def submit(qty: int = 1):
    return ai_tool_calls(("submit_decision", {
        "orders": [{"symbol": "NVDA", "side": "buy", "qty": qty, "order_type": "limit", "limit_price": 1.0}],
        "rationale": "a small buy to learn from", "actions": {"NVDA": "BUY"}}))


def llm_learning_config(**learning):
    cfg = fast_config(chat={"enabled": False, "rounds": 1})
    lrn = {"param": "threshold", "grid": (0.005, 0.015), "horizon": 1, "reflect_every": 3} | learning
    traders = [t.model_dump() | ({"mode": "llm", "learning": lrn} if t.name == "momentum" else {})
               for t in cfg.traders]
    return type(cfg).model_validate(cfg.model_dump() | {"traders": traders})


def user_text(call) -> str:
    return "\n".join(str(m.content) for m in call if m.type == "human")


def test_memories_and_lessons_reach_the_prompt_and_rollback_forgets_lessons(tmp_path):
    # cycles 1-6: one decision each; cycles 3 and 6 reflect first (the reflection call comes before it)
    script = [submit(), submit(), ai_text(LESSON), submit(), submit(), submit(), ai_text("Second lesson: hold."),
              submit()]
    model = ScriptedChatModel(responses=script)
    db = tmp_path / "llm.db"
    s = FloorSession(db, llm_learning_config(), llm_models={"momentum": model})
    s.start(seed=3)
    try:
        s.run(6)
        assert model.i == len(script), "every scripted answer was used: 6 decisions and 2 reflections"
        led = s.floor.ledger
        lessons = load_lessons(led.conn, led.branch_id, "momentum")
        assert [(les.cycle, les.embedder) for les in lessons] == [(3, LEXICAL), (6, LEXICAL)]
        assert lessons[0].text == LESSON and lessons[0].vector.tolist() == np.float32(lexical_vector(LESSON)).tolist()
        mems = load_memories(led.conn, led.branch_id, "momentum")
        assert [m.cycle for m in mems] == [1, 2, 3, 4, 5, 6] and mems[0].markout_bp is not None
        # the reflection read the recorded outcomes; the decision prompt after it shows table and lesson
        reflection_call = model.calls[2]
        assert "markout_bp" in user_text(reflection_call) and "momentum" in str(reflection_call[0].content)
        prompt = user_text(model.calls[4])  # cycle 4's decision
        assert "Your memory: the " in prompt and "cycle sym side qty markout_bp pnl" in prompt
        assert "by lexical similarity" in prompt and LESSON in prompt
        assert len(prompt) - len(prompt.split("\n\nYour memory:")[0]) < 1200  # a compact section
        notes = {t["cycle"]: t["payload"] for t in led.traces(agent="momentum", kind="learning", limit=None)}
        assert notes[4]["embedder"] == LEXICAL and notes[4]["memories_in_prompt"] >= 1
        assert notes[3]["reflection"] == {"lesson": LESSON, "embedder": LEXICAL}
        assert notes[1].get("memories_in_prompt") == 0
        spent = led.conn.execute("SELECT cycle, calls, input_tokens FROM llm_spend WHERE trader='momentum' "
                                 "AND kind='reflection' ORDER BY cycle").fetchall()
        assert [tuple(r) for r in spent] == [(3, 1, 20), (6, 1, 20)]  # the fake's usage, charged to the budget
        s.rollback(4)
        assert [les.cycle for les in load_lessons(led.conn, s.floor.ledger.branch_id, "momentum")] == [3]
    finally:
        s.close()
    from cli.app import app

    out = CliRunner().invoke(app, ["memory", "momentum", "--db", str(db), "--lessons"])
    assert out.exit_code == 0, out.output
    assert "lessons (1, lexical" in out.output and LESSON in out.output
    listing = CliRunner().invoke(app, ["memory", "momentum", "--db", str(db)])
    assert listing.exit_code == 0 and f"cycle 3 [lexical]: {LESSON}" in listing.output


def test_embeddings_endpoint_misbehaving_then_garbage_falls_back_to_lexical(openai_stub):
    emb = TextEmbedder(openai_stub.base_url, "stub-embed", timeout_s=5.0)
    openai_stub.enqueue({"routes": {"embeddings": [{"kind": "error", "status": 500}]}})
    first = emb.embed(["NVDA up stretched high", "buy the dip"])
    assert first.embedder == "openai:stub-embed" and first.warning is None  # the retry got an answer
    assert len(first.vectors) == 2 and len(first.vectors[0]) == 16
    openai_stub.enqueue({"routes": {"embeddings": [{"kind": "garbage"}, {"kind": "garbage"}]}})
    second = emb.embed(["NVDA up stretched high"])
    assert second.embedder == LEXICAL and second.vectors[0] == lexical_vector("NVDA up stretched high")
    assert openai_stub.base_url in second.warning and "lexical" in second.warning
    bodies = [b for b in openai_stub.requests() if "input" in b]
    assert len(bodies) == 4 and bodies[0]["model"] == "stub-embed"


def test_lessons_embedded_by_the_endpoint_are_labelled_with_its_model(tmp_path, openai_stub):
    script = [submit(), submit(), ai_text(LESSON), submit()]
    model = ScriptedChatModel(responses=script)
    cfg = llm_learning_config(embeddings_base_url=openai_stub.base_url, embeddings_model="stub-embed")
    s = FloorSession(tmp_path / "emb.db", cfg, llm_models={"momentum": model})
    s.start(seed=3)
    try:
        s.run(3)
        led = s.floor.ledger
        (lesson,) = load_lessons(led.conn, led.branch_id, "momentum")
        assert lesson.embedder == "openai:stub-embed" and lesson.vector.shape == (16,)
        assert "by openai:stub-embed similarity" in user_text(model.calls[3])
    finally:
        s.close()
