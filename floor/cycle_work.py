"""What one cycle accumulates in memory between its nodes, until the settle node records it.

Graph state stays small (this cycle's summaries and references); the cycle's raw market events,
trader views and chat transcript live here, in the Floor runtime, and are written to the ledger
database in one transaction at the end of the cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from market.events import TradeExecuted
from market.journal import CycleJournal


@dataclass
class CycleWork:
    cycle: int
    events: list = field(default_factory=list)  # every market event of the cycle, in order
    market: Any = None  # the MarketSnapshot every trader sees this cycle
    views: dict[str, Any] = field(default_factory=dict)  # trader -> TraderView (with this cycle's chat)
    transcript: Any = None  # ChatTranscript
    pre_chat_decisions: dict[str, Any] = field(default_factory=dict)  # trader -> rule Decision before the chat
    # trader -> (the dict decide put in the graph state, the Decision it dumps): the risk node takes the
    # Decision instead of validating that very dict again (graphs/nodes/risk.py)
    decided: dict[str, tuple[dict, Any]] = field(default_factory=dict)
    traces: list[tuple[str, str, str, dict]] = field(default_factory=list)  # (agent, node, kind, payload)
    orders: list[dict] = field(default_factory=list)  # floor orders as recorded in the ledger
    llm_details: dict[str, dict] = field(default_factory=dict)  # trader -> tool calls, tokens, retries
    journal: CycleJournal = field(default_factory=CycleJournal)  # every call that reached the exchange
    checked: bool = False  # the risk stage ran (in its own node, or as the settle node's first stage)

    def trace(self, agent: str, node: str, kind: str, payload: dict) -> None:
        self.traces.append((agent, node, kind, payload))

    _trades: list[TradeExecuted] = field(default_factory=list, repr=False)
    _scanned: int = field(default=0, repr=False)  # how many of `events` `_trades` has looked at

    def trades(self) -> list[TradeExecuted]:
        """The cycle's trades so far, in order (events are only ever appended, so each is looked at once)."""
        events, n = self.events, len(self.events)
        if n != self._scanned:
            self._trades.extend(e for e in islice(events, self._scanned, n) if type(e) is TradeExecuted)
            self._scanned = n
        return list(self._trades)
