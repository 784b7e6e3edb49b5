"""The `trading-floor` command line. Each command group lives in its own `graphs/cli_*.py` module,
which defines `register(app)`; modules are found by name, so adding a command is adding a file."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import typer

app = typer.Typer(
    name="trading-floor",
    help="Trading Floor: theory-driven traders on a real limit-order-book exchange.",
    no_args_is_help=True,
    add_completion=False,
)

_ORDER = ("cli_run", "cli_replay", "cli_demo")  # these first; any other cli_* module after, by name


def _register() -> None:
    found = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("cli_"))
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"graphs.{name}").register(app)


_register()

if __name__ == "__main__":
    app()
