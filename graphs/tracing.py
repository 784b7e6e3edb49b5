"""LangSmith traces of the cycle graph, for a LangGraph user who sets `LANGSMITH_TRACING=true`.

What a trace looks like (one per cycle, in the project named by `LANGSMITH_PROJECT`):

    cycle 23                                  root: the graph invocation of cycle 23
      discussion, risk, settle               LangGraph's own node runs (each stage's own name in the traces;
                                              an all-rule floor without approval runs only discussion)
      decide  (one per trader, in parallel; an all-rule floor decides in discussion, which they nest under)
        decision momentum                     inputs: the trader's view, as an LLM would read it;
                                              outputs: its signals and its decision (mode, orders)
          rule decision                       rule mode: the theory's @traceable decision
          ChatOpenAI ...                      LLM mode: the model calls and tool calls nest here

The root carries metadata and tags for the run, thread, branch, cycle and mode (`rule`, `llm` or
`mixed`), so a cycle, a thread or a branch can be filtered in LangSmith; `thread_id` also makes
LangSmith group a thread's cycles as one thread.

Nothing is sent unless tracing is on, and with it off nothing here runs but an environment lookup
(`traders.tracing.tracing_on`). With it on, the client is set up so that tracing can never slow or fail a
run: runs are queued (at most `QUEUE_MAX` run operations; beyond that LangSmith drops them and logs it),
sent by a daemon thread with short timeouts, and at exit whatever is still queued gets at most
`EXIT_FLUSH_SECONDS` to go out (none once sending has failed): a dead or hanging endpoint delays the end
of a command by no more.

`TracedCycleGraph` is the compiled cycle graph of the command line and the UI (`CycleGraphBuilder.compile`
with a checkpointer); only its `stream` (which `invoke` calls) differs, adding the cycle's run name, tags
and metadata when tracing is on. The graph `langgraph dev` serves is compiled without a checkpointer and
stays a plain LangGraph graph: the dev server names and tags its own runs.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any

from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graphs.context import floor_of
from graphs.state import DecideInput
from traders.tracing import tracing_on

QUEUE_MAX = 2_000  # run operations waiting to be sent (a cycle makes about 60)
TIMEOUT_MS = (2_000, 5_000)  # connect, read
EXIT_FLUSH_SECONDS = 0.5  # at exit, for the runs still queued; none when the endpoint already failed

_failures: list[str] = []  # what the SDK reported failing to send (the last few)

_client_lock = threading.Lock()
_client_ready = False


def ensure_client() -> None:
    """Once per process, before the first traced cycle: LangSmith's client with a bounded queue, daemon
    sender threads, short timeouts, and a bounded flush at exit."""
    global _client_ready
    if _client_ready:
        return
    with _client_lock:
        if _client_ready:
            return
        from langsmith import Client, utils
        from langsmith.run_trees import configure

        os.environ.setdefault("LANGSMITH_TRACING_QUEUE_MAX_SIZE", str(QUEUE_MAX))
        os.environ.setdefault("LANGSMITH_USE_DAEMON", "true")  # exit never waits for the sender threads
        utils.get_env_var.cache_clear()  # the SDK caches its environment reads
        client = Client(timeout_ms=TIMEOUT_MS, tracing_error_callback=_send_failed)
        configure(client=client)
        atexit.register(_flush_at_exit, client)
        _client_ready = True


def _send_failed(exc: Exception) -> None:
    _failures[:] = [*_failures[-4:], f"{type(exc).__name__}: {exc}"]


def _flush_at_exit(client: Any) -> None:
    if _failures:  # the endpoint is refusing or failing: waiting for it would only delay the exit
        return
    with contextlib.suppress(Exception):  # tracing never fails a run, not even at its end
        client.flush(timeout=EXIT_FLUSH_SECONDS)


def run_mode(floor: Any) -> str:
    modes = {t.mode for t in floor.config.traders}
    return modes.pop() if len(modes) == 1 else "mixed"


def cycle_config(graph: CompiledStateGraph, config: dict | None, context: Any) -> dict:
    """The invocation's config with the cycle's run name, tags and metadata."""
    ensure_client()
    config = dict(config or {})
    values = graph.get_state(config).values if config.get("configurable", {}).get("thread_id") else {}
    floor = getattr(context, "floor", None)
    cycle = int(values.get("cycle", 0)) + 1  # the cycle this invocation runs (or resumes, after an approval)
    thread = config.get("configurable", {}).get("thread_id")
    # not "run_id": with that metadata key, the next invocation ran the same cycle again (langgraph 1.2, seen
    # in this project; LangGraph keeps its own `run_id` in the checkpoint metadata), so the key is "run"
    fields = {"run": values.get("run_id"), "thread_id": thread, "branch": values.get("branch_id"),
              "cycle": cycle, "mode": run_mode(floor) if floor is not None else None}
    fields = {k: v for k, v in fields.items() if v is not None}
    tags = ["trading-floor", *(f"{k.removesuffix('_id')}:{v}" for k, v in fields.items())]
    if floor is not None:
        fields["seed"] = floor.config.seed
    config["run_name"] = f"cycle {cycle}"
    config["tags"] = [*config.get("tags", []), *tags]
    config["metadata"] = {**config.get("metadata", {}), **fields}
    return config


class TracedCycleGraph(CompiledStateGraph):
    """The compiled cycle graph; with tracing on, each invocation is a trace named for its cycle."""

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - LangGraph's name
        if tracing_on():
            config = cycle_config(self, config, kwargs.get("context"))
        return super().stream(input, config, **kwargs)


class CycleGraphBuilder(StateGraph):
    """`StateGraph` whose compiled form, with a checkpointer, is a `TracedCycleGraph`."""

    def compile(self, *args: Any, **kwargs: Any) -> CompiledStateGraph:
        graph = super().compile(*args, **kwargs)
        if graph.checkpointer is not None:
            graph.__class__ = TracedCycleGraph  # same object and state, one overridden method
        return graph


# ----- the decision of one trader ---------------------------------------------------------------------
def traced_decide(decide: Any) -> Any:
    """The decide node, with each trader's decision as a named child run while tracing is on."""

    def node(payload: DecideInput, runtime: Runtime) -> dict:
        if not tracing_on():
            return decide(payload, runtime)
        return _decision_run(decide, payload, runtime)

    node.__name__ = node.__qualname__ = getattr(decide, "__name__", "decide")
    node.__doc__ = decide.__doc__
    return node


def _decision_run(decide: Any, payload: DecideInput, runtime: Runtime) -> dict:
    from langsmith.run_helpers import trace

    from traders.view_text import render_view

    floor = floor_of(runtime)
    name = payload["trader"]
    cfg = floor.config.trader(name)
    view = floor.work.views[name]
    inputs = {"trader": name, "theory": cfg.theory, "mode": cfg.mode, "cycle": payload["cycle"],
              "view": render_view(view)}
    meta = {"trader": name, "theory": cfg.theory, "trader_mode": cfg.mode}
    with trace(f"decision {name}", run_type="chain", inputs=inputs, metadata=meta,
               tags=[f"trader:{name}"]) as run:
        out = decide(payload, runtime)
        decision = out["decisions"][0]
        run.end(outputs={"signals": decision.get("signals", {}), "decision": decision,
                         "mode": decision.get("mode"), "fallback_reason": decision.get("fallback_reason")})
    return out
