"""`TraderDesk`: everything one trader's tools need for one cycle, bound once by the graph.

The trader's account name lives here, not in any tool's arguments: the tools close over the desk, so a
model can never choose whose account it reads or trades (see `tools.toolset`).

Write tools only *stage* intents on the desk (`staged_orders`, `staged_cancels`, `staged_messages`);
they never touch the exchange or the ledger. The graph's risk and execution nodes take the staged
intents afterwards, so nothing reaches the exchange except through the risk checks.

`lock` serialises reads of the ledger and the exchange: the decisions of several traders run in parallel
threads and share one exchange and one SQLite connection. Give every desk of a cycle the same lock.
It is a plain (non-reentrant) `threading.Lock`: each tool body takes it exactly once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tools.order_intents import ProposedOrder


@dataclass
class TraderDesk:
    trader: str  # the account name, also the owner name of the trader's orders on the exchange
    exchange: Any  # market.exchange.Exchange
    ledger: Any  # ledger.store.Ledger
    cycle: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    staged_orders: list[ProposedOrder] = field(default_factory=list)
    staged_cancels: list[str] = field(default_factory=list)
    staged_messages: list[str] = field(default_factory=list)
    max_staged_orders: int = 10
    max_staged_messages: int = 3  # chat posts per trader per cycle
    max_message_chars: int = 500

    def clear_staged(self) -> None:
        """Drop every staged intent (e.g. when a decision falls back to the rule logic)."""
        self.staged_orders.clear()
        self.staged_cancels.clear()
        self.staged_messages.clear()
