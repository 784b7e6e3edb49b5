"""How the decide step fans out, and the node that takes what it sends.

- Some trader calls a model: one Send per trader, so that their requests run in parallel (LangGraph runs
  a super-step's tasks in threads).
- Every trader is rule-based: no decide task at all. The discussion node decides for every trader in
  config order (graphs/cycle_graph.py), as one decide task did before; then, with approval on, the edge
  goes on to the risk node; without, the discussion node executes and settles the cycle too, and the edge
  ends it (`settles_here`). Rule decisions are pure Python, which threads do not speed up, while each task
  costs LangGraph about as much as a whole node (scheduling, a thread hand-off, its writes): six tasks were
  a third of an empty graph's cycle, and the one task, a super-step of its own, was 1.2 M of a rule cycle's
  36 M instructions (callgrind). The decisions, traces and rows are the same either way, in the same order.
"""
from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import END
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import Send

from graphs.context import passed_floor
from graphs.state import CycleState, DecideInput, DecideStep


def rule_floor(runtime: Runtime | None, names) -> bool:
    """Whether the run's context names its floor and every one of `names` (the state's traders) decides by
    rule: then the discussion node decides for them itself (graphs/cycle_graph.py) and the edge after it
    skips the decide node. The node and the edge ask this same question of the same context."""
    floor = passed_floor(runtime)
    return floor is not None and not any(floor.config.trader(name).mode == "llm" for name in names)


def settles_here(state: CycleState) -> bool:
    """On a rule floor (`rule_floor`), whose decisions the discussion node made: whether that node also runs
    the settle node's stages, which is when the cycle has traders and will not pause for approval (the step
    after decide would be settle: graphs/nodes/risk.py `approval_step`). The node and the edge after it ask
    this same question of the same state."""
    from graphs.nodes.risk import approval_step

    return bool(state.get("traders")) and approval_step(state) == "settle"


def fan_out(state: CycleState) -> list[Send] | str:
    """Where the discussion step goes (module docstring): the per-trader Sends in config order; or, on a rule
    floor, whose decisions the discussion node made, the end of the cycle when that node settled it too
    (`settles_here`), else the next step after decide (`approval_step`: the risk node, for approval).
    Without the floor in the runtime's context (`update_state` runs this edge without one; `langgraph dev`
    may build its floor later), one Send per trader, which is right for any floor."""
    cycle = state["cycle"] + 1
    names = list(state.get("traders", ()))
    if not rule_floor(get_runtime(), names):  # get_runtime(): None under update_state
        return [Send("decide", DecideInput(trader=name, cycle=cycle)) for name in names]
    if not names:
        return []
    return END if settles_here(state) else "risk"  # not settled here: `approval_step` asked for the risk node


def decide_each(decide_one: Callable[[DecideInput, Runtime], dict]) -> Callable[[DecideStep, Runtime], dict]:
    """The decide node: `decide_one` for a trader's Send, or for each of the state's traders in turn."""

    # annotated DecideStep: LangGraph takes the node's input schema (the channels it reads when the edge
    # triggers it) from it; a Send's argument reaches the node as it is
    def decide(payload: DecideStep, runtime: Runtime) -> dict:
        if "trader" in payload:
            return decide_one(payload, runtime)
        cycle = payload["cycle"] + 1  # the state's cycle is the last completed one
        decisions: list[dict] = []
        for name in payload["traders"]:
            decisions += decide_one(DecideInput(trader=name, cycle=cycle), runtime)["decisions"]
        return {"decisions": decisions}

    decide.__doc__ = decide_one.__doc__
    return decide
