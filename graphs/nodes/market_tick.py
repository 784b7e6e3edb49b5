"""Node 1, market tick: align books and ledger with the checkpoint, then let the background market move."""
from __future__ import annotations

from langgraph.runtime import Runtime

from floor.cycle_work import CycleWork
from floor.scenario_fees import apply_fee_change
from floor.scenario_setup import fired_events, headlines
from graphs.context import floor_of
from graphs.state import CycleState
from traders.views import market_snapshot


def market_tick(state: CycleState, runtime: Runtime) -> dict:
    floor = floor_of(runtime)
    started = {}
    if "run_id" not in state:  # a fresh thread (e.g. POST /threads under `langgraph dev`): a new run
        run_id, branch_id = floor.start_run()
        started = {"run_id": run_id, "traders": list(floor.trader_names), "approval": floor.config.approval}
        state = {**state, "run_id": run_id, "branch_id": branch_id, "cycle": 0}
    branch = floor.align(state["run_id"], state["branch_id"], state["cycle"])
    cycle = state["cycle"] + 1
    ex = floor.exchange
    work = floor.work = CycleWork(cycle=cycle)
    apply_fee_change(floor, work, cycle)  # a scenario's fee change, before the first tick (floor/scenario_fees.py)
    work.events.extend(work.journal.advance(ex, floor.config.market.ticks_per_cycle))
    fired = fired_events(ex, cycle)  # a scenario's events of this cycle (floor/scenario_setup.py)
    work.market = market_snapshot(
        ex, floor.instruments, cycle=cycle, lookback=floor.config.history_lookback, fills=work.trades(),
        headlines=headlines(fired),
    )
    for event in fired:
        work.trace("market", "market_tick", "scenario_event", event)
    quotes = {
        sym: {"bid": q.bid, "ask": q.ask, "last": q.last, "mid": q.mid} for sym, q in work.market.quotes.items()
    }
    work.trace("market", "market_tick", "market_moved", {
        "ticks": floor.config.market.ticks_per_cycle,
        "trades": len(work.trades()),
        "quotes": quotes,
    })
    return {**started, "branch_id": branch, "cycle": state["cycle"], "quotes": quotes}
