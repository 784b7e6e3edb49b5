"""The trading cycle as a LangGraph state machine: one invocation per cycle, on the run's thread.

    START -> discussion (market tick, the chat, and on an all-rule floor the decisions) -> decide (one Send
          per trader, in parallel, when some trader calls a model: graphs/nodes/fan_out.py)
          -> risk, only when approval is on -> settle ([risk,] execution, then settlement) -> END

The discussion node runs two stages in one LangGraph super-step: the market tick (graphs/nodes/market_tick.py:
align books and ledger with the checkpoint, then the background market's ticks) and the chat
(graphs/nodes/discussion.py). Nothing needs a step between them either: with durability "exit" no checkpoint
was written after the tick, and a cycle that fails in the chat starts again from its first stage, as before.
Folding them saved 1.1 M of a rule cycle's 39.8 M instructions (2.7%).

Without approval, nothing needs a step between the checks and execution: decide goes straight to settle
(graphs/nodes/risk.py `approval_step`), whose first stage is then the risk stage (the cycle's work notes that
it ran: `CycleWork.checked`). With approval on, the risk node runs them and pauses there for the person, and
settle does not run them again. A further 0.63 M instructions (1.6%) a rule cycle.

On an all-rule floor the discussion node also decides for every trader in config order (what one decide
task did before: the same calls, traces and decisions), and the edge skips the decide node: one super-step
less again. Without approval it then runs the settle node's stages as well ([risk,] execution, settlement),
and the edge ends the cycle: the whole rule cycle is one super-step (1.2 M of a rule cycle's 35.1 M
instructions, 3.5%, cycles 6-65). With approval on, or when some trader calls a model, the cycle goes on to
the risk, decide and settle nodes as above; the rows, traces and checkpoints are the same either way.

The settle node runs two stages in one LangGraph super-step: execution (graphs/nodes/execution.py: cancels,
reservations, orders to the exchange) and settlement (graphs/nodes/settle.py: the cycle's end, fills to the
ledger, everything recorded in one transaction). Each super-step costs LangGraph about 3.4% of a rule cycle
(scheduling, channels, the step's checkpoint bookkeeping; instructions counted under valgrind), and nothing
needs a step between the two: a person approves orders at risk, before either; with durability "exit" no
checkpoint was written between them; a crash anywhere in the cycle leaves the last completed cycle, as
before. Their traces keep their own stages ("execution", "settle"), which the chat UI shows as steps.

`build_graph()` returns the uncompiled builder; callers compile it with their checkpointer
(SqliteSaver on the command line, AsyncSqliteSaver in Chainlit, none for `langgraph dev`). Compiled with a
checkpointer it is a `graphs.tracing.TracedCycleGraph`: with LANGSMITH_TRACING=true each cycle is a
LangSmith trace named "cycle N", each trader's decision a child run (see graphs/tracing.py).
"""
from __future__ import annotations

from langgraph.graph import END, START
from langgraph.runtime import Runtime

from graphs.context import FloorContext, floor_of
from graphs.nodes.decide import decide
from graphs.nodes.discussion import discussion
from graphs.nodes.execution import execution
from graphs.nodes.fan_out import decide_each, fan_out, rule_floor, settles_here
from graphs.nodes.market_tick import market_tick
from graphs.nodes.risk import approval_step, risk
from graphs.nodes.settle import announce, settle
from graphs.state import CycleState
from graphs.tracing import CycleGraphBuilder, traced_decide

NODES = ("discussion", "decide", "risk", "settle")


decide_node = decide_each(traced_decide(decide))  # the decide node: a trader's Send, or every trader in turn


def tick_and_discuss(state: CycleState, runtime: Runtime) -> dict:
    """The discussion node: the background market moves, then the traders talk about it; on an all-rule
    floor they decide too, and without approval the cycle executes and settles here as well (module
    docstring; the edge after this node, graphs/nodes/fan_out.py `fan_out`, asks the same questions)."""
    update = market_tick(state, runtime)
    update = {**update, **discussion({**state, **update}, runtime)}
    merged = {**state, **update}
    if rule_floor(runtime, merged.get("traders", ())):
        update = {**update, **decide_node({"traders": merged["traders"], "cycle": merged["cycle"]}, runtime)}
        if settles_here(merged):
            update = {**update, **execute_and_settle({**state, **update}, runtime)}
    return update


def execute_and_settle(state: CycleState, runtime: Runtime) -> dict:
    """The settle node: the pre-trade checks unless the risk node made them, the approved orders reach the
    exchange, then the cycle settles (module docstring)."""
    floor = floor_of(runtime)
    update = {} if floor.work.checked else risk(state, runtime)
    # the orders' reservations and the cycle's records in ONE ledger commit: a cycle is wholly recorded or
    # wholly absent, and one commit a cycle instead of one more per cycle with orders
    with floor.ledger.transaction(savepoints=False):
        update = {**update, **execution({**state, **update}, runtime)}
        update = {**update, **settle({**state, **update}, runtime)}
    announce({**state, **update}, runtime)
    return update


def build_graph() -> CycleGraphBuilder:
    g = CycleGraphBuilder(CycleState, context_schema=FloorContext)
    g.add_node("discussion", tick_and_discuss)
    g.add_node("decide", decide_node)
    g.add_node("risk", risk)
    g.add_node("settle", execute_and_settle)
    g.add_edge(START, "discussion")
    g.add_conditional_edges("discussion", fan_out, ["decide", "risk", "settle", END])
    g.add_conditional_edges("decide", approval_step, ["risk", "settle"])
    g.add_edge("risk", "settle")
    g.add_edge("settle", END)
    return g
