"""Double-entry ledger on SQLite (sqlite-utils): accounts, journal, FIFO lots, PnL, runs and branches.

Pure domain: no LangChain, no Chainlit, no printing. Cash is integer cents, quantities whole shares.
"""
