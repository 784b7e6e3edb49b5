"""Traders' episodic memory and rule-mode learning (issue 19): situation vectors, nearest-neighbour
retrieval and an online learner over a small grid of a theory's parameters. Storage: ledger/memory_store.py."""
