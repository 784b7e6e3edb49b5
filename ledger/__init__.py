"""Double-entry ledger on SQLite (sqlite-utils), or PostgreSQL (psycopg 3; SQL differences in dialect.py):
accounts, journal, FIFO lots, PnL, runs and branches.

Pure domain: no LangChain, no Chainlit, no printing. Cash is integer cents, quantities whole shares.
Entry point: `Ledger.open(path or postgresql:// URL)`. Schema: docs/ledger-schema.md.
"""
from ledger.errors import LedgerError, RejectCode, Rejection
from ledger.store import Ledger
from ledger.types import (
                          CASH,
                          EXTERNAL,
                          FEES,
                          AccountView,
                          BranchView,
                          Fill,
                          JournalEntry,
                          Lot,
                          PositionView,
                          RunRef,
                          RunView,
                          SettleResult,
)

__all__ = ["CASH", "EXTERNAL", "FEES", "AccountView", "BranchView", "Fill", "JournalEntry", "Ledger",
           "LedgerError", "Lot", "PositionView", "RejectCode", "Rejection", "RunRef", "RunView", "SettleResult"]
