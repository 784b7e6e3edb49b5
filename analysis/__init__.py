"""Analytics: performance metrics, market metrics, stylized facts (the realism check), reports,
backtests on a price history, and parameter sweeps. Statistics are floats (an edge of the system);
everything is read from the ledger or an Exchange, never written back."""
