"""The decide node reuses the rule decision taken before the chat only where the chat cannot change it.

A theory declares `reads_chat = False` when its `decide` never looks at the view's chat fields; the
discussion's pre-chat decision then stands in the decide node. These tests check that declaration
against real floor cycles: recomputing on the view with the chat must give the same decision.
"""
from __future__ import annotations

from floor_helpers import fast_config

import graphs.nodes.decide as decide_node
from floor.session import FloorSession
from traders.base import rule_decision
from traders.registry import get_theory, theory_names


def test_every_theory_that_says_it_ignores_the_chat_decides_the_same_with_it(tmp_path, monkeypatch):
    checked: dict[str, int] = {}
    changed_by_chat: dict[str, int] = {}
    chat_seen = 0
    reuse = decide_node.rule_decision_after_chat

    def checking(view, cfg, before_chat):
        nonlocal chat_seen
        chat_seen += bool(view.market.chat_messages)
        fresh = rule_decision(view, cfg)
        theory = cfg.theory
        if get_theory(theory).reads_chat:
            changed_by_chat[theory] = changed_by_chat.get(theory, 0) + (fresh != before_chat)
        else:
            assert before_chat == fresh, f"{theory} changed its decision after the chat at cycle {view.cycle}"
            checked[theory] = checked.get(theory, 0) + 1
        out = reuse(view, cfg, before_chat)
        assert out == fresh
        return out

    monkeypatch.setattr(decide_node, "rule_decision_after_chat", checking)
    session = FloorSession(tmp_path / "floor.db", fast_config())
    session.start()
    session.run(40)
    session.close()

    assert chat_seen > 0, "the traders saw no chat: the comparison would prove nothing"
    blind = {n for n in theory_names() if not get_theory(n).reads_chat}
    assert blind and set(checked) == blind and all(v == 40 for v in checked.values())
    # the check can tell: the sentiment trader, which reads the chat, does decide differently after it
    assert changed_by_chat.get("sentiment", 0) > 0
