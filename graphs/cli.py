"""The `trading-floor` command line. Each command lives in its own `graphs/cli_*.py` module."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="trading-floor",
    help="Trading Floor: theory-driven traders on a real limit-order-book exchange.",
    no_args_is_help=True,
    add_completion=False,
)


def _register() -> None:
    from graphs import cli_demo, cli_replay, cli_run

    for module in (cli_run, cli_replay, cli_demo):
        module.register(app)


_register()

if __name__ == "__main__":
    app()
