"""The `trading-floor` command line: one module per command group (see app.py)."""
