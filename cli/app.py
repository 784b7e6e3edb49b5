"""The `trading-floor` command line. Each command group lives in its own module of this package (`run.py`,
`replay.py`, `doctor.py`, ...), which defines `register(app)`; modules are found by name, so adding a
command is adding a file.

Every command is wrapped once, here, by `cli_errors.guard`: a known failure (a full disk, a read-only or
damaged database, a missing folder, an invalid config, ...) ends as one line on stderr, `error: ...`,
with a non-zero exit code; the global `--debug` option (or TRADING_FLOOR_DEBUG=1) adds the traceback.
Click's usage errors keep their usual output and exit code 2. The entry point is `main()`; `python -m
cli` works as well.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Annotated

import typer

from cli import errors as cli_errors

app = typer.Typer(
    name="trading-floor",
    help="Trading Floor: theory-driven traders on a real limit-order-book exchange.",
    no_args_is_help=True,
    add_completion=False,
)

_ORDER = ("run", "replay", "demo")  # these first; any other command module after, by name
_NOT_COMMANDS = {"app", "errors", "__main__"}  # modules of this package without a `register(app)`


@app.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", envvar="TRADING_FLOOR_DEBUG",
                                        help="On a failure, show the full traceback, not only the one-line error.")]
    = False,
) -> None:
    # no docstring: the app's help stays the Typer(help=...) above
    cli_errors.set_debug(debug)


def _register() -> None:
    found = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in _NOT_COMMANDS)
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"cli.{name}").register(app)
    for info in app.registered_commands:  # one translation of failures for every command
        if info.callback is not None and not getattr(info.callback, "guarded", False):
            info.callback = cli_errors.guard(info.callback)


_register()


def main() -> None:
    """The `trading-floor` console script."""
    app(prog_name="trading-floor")


if __name__ == "__main__":
    main()
