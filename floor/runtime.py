"""The Floor runtime: the objects a cycle works on, reached by nodes through the LangGraph runtime context.

A Floor owns the exchange (market/), the ledger (ledger/), the market-snapshot store, the run's config
and the LLM budget and cache. It never lives in graph state: the state holds this cycle's data and the
references (run, branch, cycle) that say where the run is.

`align(run_id, branch_id, cycle)` is the heart of rollback. Before a cycle changes anything, the books
and the ledger are brought to the checkpoint's (branch, cycle). When the branch's ledger has already moved
past that cycle (a rollback, LangGraph time travel, or a crash after the ledger committed), the branch is
forked at the cycle and the run continues on the fork: the discarded future stays intact as its own
branch and can still be inspected.

A branch runs with its thread's config (`use_config`), and a fork's config may differ from its parent's
(floor/fork_config.py says what may change). Two settings live outside `config` once a branch exists,
so aligning makes them follow it (`_follow_config`): the fee, stored per branch in the ledger, and the
background market's settings, which ride inside the exchange snapshots. A fork whose `market` differs
stores a keyframe of its own at its fork cycle, with the background reconfigured (same random streams,
other settings): every later restore on the fork's lineage starts from it, and the parent's keyframes
and journals keep the parent's settings.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from floor.config import FloorConfig
from floor.cycle_work import CycleWork
from floor.event_bus import EventBus
from floor.fork_config import check_fork_config
from floor.scenario_setup import SCENARIO_ACCOUNT, check_endowment_traders, endowments
from ledger.errors import LedgerError
from ledger.market_history import MarketSnapshots
from ledger.store import Ledger
from market.background import BackgroundMarket
from market.exchange import Exchange
from market.instruments import DEFAULT_UNIVERSE, Instrument
from market.journal import CycleJournal, ReplayError, restore_at
from market.scenarios import attach as attach_scenario
from market.warmup import warm_up
from tools import market_tools

BACKGROUND_PREFIX = "bg:"
BACKGROUND_CASH = 10**13  # cents: background classes are deep-pocketed liquidity providers
BACKGROUND_SHARES = 10**8
# A whole exchange snapshot (a keyframe, 40-90 KB) is stored every this many cycles; every cycle stores its
# journal (a few hundred bytes). Restoring a cycle replays at most KEYFRAME_EVERY - 1 cycles of the market
# (2-4 ms a cycle: at most ~0.3 s for a rollback, a fork or a resume). 100 rather than 20 (issue 21): the
# keyframes were a seventh of a run's file; a file made with keyframes every 20 cycles reads the same (the
# newest keyframe at or before a cycle is used, whatever the spacing).
KEYFRAME_EVERY = 100


class AlignmentError(RuntimeError):
    """The books or the ledger cannot be brought to the checkpoint's cycle."""


@dataclass
class Floor:
    config: FloorConfig
    ledger: Ledger
    instruments: tuple[Instrument, ...] = DEFAULT_UNIVERSE
    exchange: Exchange | None = None
    at: tuple[int, int, int] | None = None  # (run_id, branch_id, cycle) the exchange and ledger stand at
    work: CycleWork | None = None  # the cycle in progress (in memory only)
    lock: threading.Lock = field(default_factory=threading.Lock)
    llm_models: dict[str, object] = field(default_factory=dict)  # injected chat models by trader (tests)
    llm_budget: object | None = None
    llm_cache: object | None = None
    bus: EventBus = field(default_factory=EventBus)  # live feed of settled cycles (servers, UI)
    last_marks: dict[str, int] | None = None
    db_path: str | None = None  # the run database (MCP tool servers open it in their own processes)
    mcp_sessions: dict[str, object] = field(default_factory=dict)  # trader -> open MCP tool session
    lease: object | None = None  # the run database's single-writer lease while this process owns it
    scenario: object | None = None  # a market.scenarios.Scenario for the next start_run or fork (then cleared)

    def __post_init__(self) -> None:
        self.snapshots = MarketSnapshots(self.ledger.db.conn)
        self.trader_names = tuple(t.name for t in self.config.traders)
        self.by_symbol = {i.symbol: i for i in self.instruments}
        self._seed_cache: tuple[int, int] | None = None
        self._accounts: dict[str, str] = {}  # exchange owner -> ledger account (asked twice per trade)

    # ----- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, db_path: str | Path, config: FloorConfig, **kwargs) -> Floor:
        if str(db_path) != ":memory:" and not str(db_path).startswith(("postgresql://", "postgres://")):
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        ledger = Ledger.open(db_path, fee_bps=config.fee_bps, symbols=[i.symbol for i in DEFAULT_UNIVERSE])
        return cls(config=config, ledger=ledger, db_path=str(db_path), **kwargs)

    def start_run(self, *, seed: int | None = None, name: str | None = None) -> tuple[int, int]:
        """A new run: accounts for the traders and one per background class, the books at cycle 0."""
        seed = self.config.seed if seed is None else seed
        self.ledger.fee_bps = self.config.fee_bps  # the run's (and its main branch's) fee: this config's
        self._accounts.clear()  # whether `bg:scenario` exists is the run's (account_of)
        ref = self.ledger.start_run(
            config=self.config.model_dump(mode="json"), seed=seed, name=name,
            symbols=[i.symbol for i in self.instruments],
        )
        scenario, symbols = self.scenario, [i.symbol for i in self.instruments]
        if scenario is not None:
            check_endowment_traders(scenario, self.trader_names, symbols)
        deposits = endowments(scenario, self.config.traders, symbols, seed)
        with self.ledger.transaction():
            for t in self.config.traders:
                cash, holdings = deposits[t.name]
                self.ledger.open_account(t.name, theory=t.theory, cash=cash, holdings=holdings)
            if scenario is not None:
                self._open_scenario_account()
            for cls_name in ("mm", "noise", "value"):
                self.ledger.open_account(
                    BACKGROUND_PREFIX + cls_name, theory=f"background {cls_name}", kind="background",
                    cash=BACKGROUND_CASH, holdings={i.symbol: BACKGROUND_SHARES for i in self.instruments},
                )
            # A short tape and id window keep the per-cycle snapshot small; the full trade history is in
            # the ledger, and floor order ids are unique by construction (trader-c<cycle>-<n>).
            self.exchange = Exchange(self.instruments, background=BackgroundMarket(self.config.market, seed=seed),
                                     tape_size=100, id_memory_cycles=1, bar_history=256)
            self.exchange.cycle = 1  # the exchange stamps events with the cycle in progress
            self._warm_up()
            if scenario is not None:
                attach_scenario(self.exchange, scenario, start_cycle=0)
                self.scenario = None
            self.snapshots.save(ref.run_id, ref.branch_id, 0, self.exchange.snapshot())
        self.at = (ref.run_id, ref.branch_id, 0)
        return ref.run_id, ref.branch_id

    def _warm_up(self) -> None:
        """Background-only cycles before cycle 1 (`warmup_cycles`), so the theories start with a history.
        Their trades are settled in the ledger at cycle 0, with the opening deposits."""
        cycles = self.config.warmup_cycles
        if not cycles:
            return
        trades = warm_up(self.exchange, cycles, self.config.market.ticks_per_cycle)
        result = self.ledger.settle_rows(0, self.fill_rows(trades, 0))
        if not result.ok:
            raise RuntimeError(f"warm-up: the ledger refused the background market's fills: {result.rejection}")

    def seed(self) -> int:
        """The active run's master seed (cached per run: asked for several times every cycle)."""
        run_id = self.ledger.run_id
        if self._seed_cache is None or self._seed_cache[0] != run_id:
            self._seed_cache = (run_id, next(r.seed for r in self.ledger.list_runs() if r.run_id == run_id))
        return self._seed_cache[1]

    def use_config(self, config: FloorConfig) -> None:
        """Switch to another thread's config (a fork may run other traders' parameters, fees, market)."""
        if config.fee_bps != self.config.fee_bps or config.market != self.config.market:
            self.at = None  # the next align restores the books and makes the branch follow this config
        self.config = config
        self.trader_names = tuple(t.name for t in config.traders)
        self._accounts.clear()

    # ----- accounts ------------------------------------------------------------------------------
    def account_of(self, owner: str) -> str:
        """Exchange owner -> ledger account: traders trade as themselves, background agents by class."""
        account = self._accounts.get(owner)
        if account is None:
            account = owner if owner in self.trader_names else BACKGROUND_PREFIX + owner.split(":", 1)[0]
            if account == SCENARIO_ACCOUNT and account not in {a.name for a in self.ledger.accounts(kinds=("background",))}:
                account = BACKGROUND_PREFIX + "value"  # see _open_scenario_account
            self._accounts[owner] = account
        return account

    def fill_rows(self, trades: Iterable, cycle: int) -> list[tuple]:
        """The exchange's trades as the ledger's fill rows of `cycle` (`Fill` field order, what
        `Ledger.settle_rows` takes): no dataclass per trade. Two agents of one background class trade
        within one account: that moves nothing, so it is left out.

        Called for every trade of every cycle (~130): the owner -> account map is read directly, and
        `account_of` is called only for an owner not seen yet (it fills the map)."""
        known = self._accounts.get
        account = self.account_of
        return [(t.trade_id, cycle, t.tick, t.symbol, t.price, t.qty, buyer, seller, t.buy_order_id, t.sell_order_id)
                for t in trades
                if (buyer := known(t.buyer) or account(t.buyer)) != (seller := known(t.seller) or account(t.seller))]

    def marks(self) -> dict[str, int]:
        """Mark price per symbol (last trade, else mid, else initial price): `tools.market_tools.marks`."""
        return market_tools.marks(self.exchange)

    # ----- alignment (rollback, fork, time travel, crash recovery) ------------------------------
    def align(self, run_id: int, branch_id: int, cycle: int) -> int:
        """Bring ledger and books to the end of `cycle` on `branch_id`; return the branch to continue on."""
        if self.at == (run_id, branch_id, cycle) and self.exchange is not None:
            return branch_id
        ledger = self.ledger
        ledger.use(run_id, branch_id)
        last = ledger.last_cycle() or 0
        if last > cycle and not self.snapshots.has_cycle(run_id, branch_id, last):
            ledger.truncate_after(cycle)  # an incomplete cycle (a crash before settle): nothing to keep
        elif last > cycle:
            branch_id = ledger.fork(cycle, name=f"continued from cycle {cycle} (branch {branch_id} kept)")
        elif last < cycle:
            raise AlignmentError(
                f"the checkpoint is at cycle {cycle} but branch {branch_id}'s ledger ends at cycle {last}"
            )
        self.exchange = self.exchange_at(run_id, branch_id, cycle)
        self._follow_config(self.config, run_id, branch_id, cycle)
        self.at = (run_id, branch_id, cycle)
        self.work = None
        return branch_id

    def _follow_config(self, config: FloorConfig, run_id: int, branch_id: int, cycle: int) -> None:
        """Make the active branch, standing at `cycle` with `self.exchange` restored, run with `config`:
        the ledger charges its fee, the background market runs its `market` settings.

        The fee can change only while the branch has recorded nothing of its own (a fresh fork, or a run
        at cycle 0); otherwise AlignmentError says why. A change of market settings is stored as a
        keyframe of the branch at `cycle`, so that every later restore of the branch's books carries it;
        nothing is written when both already match (the common case, and a fork with an unchanged config)."""
        ledger, bg = self.ledger, self.exchange.background
        fee_differs = ledger.branch_fee_bps != config.fee_bps
        market_differs = bg is not None and bg.config != config.market.model_copy(update={"seed": bg.config.seed})
        if not (fee_differs or market_differs):
            return
        try:
            with ledger.transaction():
                if fee_differs:
                    try:
                        ledger.set_fee(config.fee_bps)
                    except LedgerError as e:
                        raise AlignmentError(f"the config of branch {branch_id}'s thread says fee_bps="
                                             f"{config.fee_bps}, which the branch cannot honour: {e.message}") from e
                if market_differs:
                    bg.reconfigure(config.market, self.exchange)
                    self.snapshots.save(run_id, branch_id, cycle, self.exchange.snapshot())
        except BaseException:
            self.exchange, self.at = None, None  # the books may have been reconfigured: restore them again
            raise

    def exchange_at(self, run_id: int, branch_id: int, cycle: int) -> Exchange:
        """The books at the end of `cycle` as seen from `branch_id`: the newest keyframe at or before it,
        with the journals of the cycles since replayed (following the branch's fork lineage)."""
        hist = self.snapshots.history(run_id, branch_id, cycle)
        if hist is None:
            raise AlignmentError(f"no market snapshot for run {run_id}, branch {branch_id}, cycle {cycle}")
        try:
            return restore_at(hist.keyframe, hist.journals)
        except ReplayError as e:
            raise AlignmentError(f"the books of run {run_id}, branch {branch_id}, cycle {cycle} cannot be "
                                 f"rebuilt from cycle {hist.keyframe_cycle}: {e}") from e

    def record_market(self, run_id: int, branch_id: int, cycle: int, journal: CycleJournal) -> None:
        """Store the end of `cycle`: its journal always, a whole snapshot every KEYFRAME_EVERY cycles, and the
        cycle's LLM spend (ledger/llm_spend.py). Called inside the settle transaction."""
        self.snapshots.save_journal(run_id, branch_id, cycle, journal.encode())
        if cycle % KEYFRAME_EVERY == 0:
            self.snapshots.save(run_id, branch_id, cycle, self.exchange.snapshot())
        if self.llm_budget is not None:  # the cycle's LLM spend, a history table like the others
            from ledger import llm_spend

            llm_spend.record(self.ledger.conn, run_id, branch_id, cycle, self.llm_budget.take(cycle))

    def fork(self, run_id: int, branch_id: int, at_cycle: int, *, name: str | None = None,
             config: FloorConfig | None = None) -> int:
        """A new branch continuing from `at_cycle`; the original branch is untouched.

        With `config` (the fork's, checked against this Floor's by `check_fork_config`), the new branch
        gets its fee and background settings now, so readers see them before its first cycle. Without it,
        the branch follows its thread's config when it is first aligned."""
        if config is not None:
            check_fork_config(self.config, config)
        self.ledger.use(run_id, branch_id)
        last = self.ledger.last_cycle() or 0
        if at_cycle > last:
            raise AlignmentError(f"branch {branch_id} has no cycle {at_cycle} yet (it ends at {last})")
        new_branch = self.ledger.fork(at_cycle, name=name or f"fork of branch {branch_id} at cycle {at_cycle}")
        self.at = None  # the exchange is restored on the next align
        if config is not None and (config.fee_bps != self.ledger.branch_fee_bps or config.market != self.config.market):
            self.exchange = self.exchange_at(run_id, new_branch, at_cycle)
            self._follow_config(config, run_id, new_branch, at_cycle)
        if self.scenario is not None:  # `fork --scenario`: the what-if line's books carry it from its fork cycle
            self.exchange = self.exchange_at(run_id, new_branch, at_cycle)
            attach_scenario(self.exchange, self.scenario, start_cycle=at_cycle)
            self.snapshots.save(run_id, new_branch, at_cycle, self.exchange.snapshot())
            self.scenario, self.at = None, None
        return new_branch

    def _open_scenario_account(self) -> None:
        """The background account the scenario's flash-crash seller (`scenario:flash`) settles to, opened
        at cycle 0 of a run started with a scenario. A run started without one has no such account (a
        branch cannot open accounts in its parent's past): there the seller settles to `bg:value`."""
        self.ledger.open_account(SCENARIO_ACCOUNT, theory="background scenario", kind="background",
                                 cash=BACKGROUND_CASH, holdings={i.symbol: BACKGROUND_SHARES for i in self.instruments})

    def mcp_tools(self, trader: str) -> list:
        """The trader's tools from the MCP market and accounts servers (started once, kept open)."""
        if trader not in self.mcp_sessions:
            if not self.db_path or self.db_path == ":memory:":
                raise AlignmentError("MCP tools need a run database file: the servers open it in their own process")
            from tools.mcp_client_tools import mcp_tools_for_trader

            self.mcp_sessions[trader] = mcp_tools_for_trader(self.db_path, trader)
        return self.mcp_sessions[trader].tools

    def close(self) -> None:
        for session in self.mcp_sessions.values():
            session.close()
        self.mcp_sessions.clear()
        self.ledger.close()
