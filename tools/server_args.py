"""`python -m tools.mcp_*_server` arguments (the `trading-floor serve` command is the usual front door)."""
from __future__ import annotations

import argparse

from tools.server_config import HOST_DEFAULT


def parse_server_args(name: str, port: int, argv: list[str] | None = None, *, account: bool = False,
                      push: bool = False) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"trading-floor serve {name}")
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    p.add_argument("--host", default=HOST_DEFAULT)
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--db", default="runs/floor.db")
    if account:
        p.add_argument("--account", default=None, help="Bind the server to one trader's account.")
    if push:
        p.add_argument("--sink", default=None, help="file:PATH, a webhook URL, or stream:URL of an event stream.")
        p.add_argument("--kinds", default=None, help="Comma-separated kinds to push (default: all).")
        p.add_argument("--poll", type=float, default=0.5, help="Seconds between looks at the ledger.")
    return p.parse_args(argv)
