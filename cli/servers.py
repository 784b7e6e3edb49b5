"""`trading-floor serve market|accounts|push|events`: the MCP servers and the live event stream.

All bind 127.0.0.1 by default; a bearer token is read from TRADING_FLOOR_TOKEN when set (required to
bind any other address). MCP servers speak stdio (default; for an MCP client that spawns them) or
streamable HTTP at http://HOST:PORT/mcp. `serve events --run-cycles N` runs the floor in-process and
streams it; without it, the event stream follows the run database written by another process.
"""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import SEED_MAX
from cli.run import db_target
from floor.database import DEFAULT_DB
from tools.server_config import HOST_DEFAULT


class What(StrEnum):
    market = "market"
    accounts = "accounts"
    push = "push"
    events = "events"


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


PORTS = {"market": 8801, "accounts": 8802, "push": 8803, "events": 8804}


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        what: Annotated[What, typer.Argument(help="Which server: market, accounts, push or events.")],
        transport: Annotated[Transport, typer.Option("--transport", help="MCP transport (events is always HTTP).")]
        = Transport.stdio,
        host: Annotated[str, typer.Option("--host")] = HOST_DEFAULT,
        port: Annotated[int | None, typer.Option("--port", help="Default 8801/8802/8803/8804.")] = None,
        db: Annotated[Path, typer.Option("--db", parser=db_target, envvar="TRADING_FLOOR_DB",
                                         help="The run database: SQLite file or postgresql:// URL.")] = DEFAULT_DB,
        account: Annotated[str | None, typer.Option("--account", help="accounts: bind to one trader.")] = None,
        sink: Annotated[str | None, typer.Option("--sink", help="push: file:PATH, webhook URL, or stream:URL.")] = None,
        kinds: Annotated[str | None, typer.Option("--kinds", help="push: comma-separated kinds.")] = None,
        run_cycles: Annotated[int, typer.Option("--run-cycles", min=0, help="events: run N cycles in-process.")] = 0,
        config: Annotated[Path | None, typer.Option("--config", help="events --run-cycles: floor YAML.")] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0, max=SEED_MAX, help="events --run-cycles: seed of a new run.")] = None,
        wait_subscribers: Annotated[int, typer.Option("--wait-subscribers", min=0,
                                                      help="events: wait for N subscribers before running.")] = 0,
        wait_timeout: Annotated[float, typer.Option("--wait-timeout")] = 60.0,
        queue_batches: Annotated[int, typer.Option("--queue-batches", min=1,
                                                   help="events: cycles queued per subscriber before dropping.")] = 64,
        max_subscribers: Annotated[int, typer.Option("--max-subscribers", min=1)] = 1000,
        flush_interval: Annotated[float, typer.Option("--flush-interval", min=0.0,
                                                     help="events: seconds between writes to one client.")] = 0.1,
    ) -> None:
        """Serve market data, accounts, push notifications (MCP) or the SSE event stream."""
        port = port or PORTS[what.value]
        args = ["--transport", transport.value, "--host", host, "--port", str(port), "--db", str(db)]
        if what is What.market:
            from tools.mcp_market_server import main
            main(args)
        elif what is What.accounts:
            from tools.mcp_accounts_server import main
            main(args + (["--account", account] if account else []))
        elif what is What.push:
            from tools.push_server import main
            main(args + (["--sink", sink] if sink else []) + (["--kinds", kinds] if kinds else []))
        else:
            from tools.event_stream import serve_events
            serve_events(str(db), host=host, port=port, run_cycles=run_cycles,
                         config_path=str(config) if config else None, wait_subscribers=wait_subscribers,
                         wait_timeout=wait_timeout, max_batches=queue_batches, max_subscribers=max_subscribers,
                         flush_interval=flush_interval, seed=seed)
