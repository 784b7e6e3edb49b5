"""`trading-floor ui`: the Chainlit chat UI on the run database, headless, bound to 127.0.0.1 by default.

Chainlit reads its config from `$CHAINLIT_APP_ROOT/.chainlit/` (created on first start) and writes
uploads to `$CHAINLIT_APP_ROOT/.files`; we point CHAINLIT_APP_ROOT at a folder beside the database
(runs/chainlit-ui/ by default), so the project root stays clean and the defaults need no checked-in file.
Any host other than loopback requires password auth, with credentials from the environment
(TRADING_FLOOR_UI_USER, TRADING_FLOOR_UI_PASSWORD); CHAINLIT_AUTH_SECRET signs the session tokens and is
generated for this process when not given.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.run import db_target
from floor.database import DEFAULT_DB

APP = Path(__file__).resolve().parent.parent / "chat_ui" / "app.py"
WELCOME = "# Trading Floor\n\nType `/help` for the commands, or ask a trader: `@momentum what is your position?`\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_environment(db: Path, host: str, port: int, config: Path | None = None,
                   base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the Chainlit process; raises ValueError when auth is required but not configured."""
    env = dict(os.environ if base is None else base)
    url = str(db) if str(db).startswith(("postgresql://", "postgres://")) else None  # a URL stays as given
    root = (DEFAULT_DB.resolve() if url else Path(db).resolve()).parent / "chainlit-ui"
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "chainlit.md").exists():
        (root / "chainlit.md").write_text(WELCOME, encoding="utf-8")
    project = str(APP.parent.parent)
    env.update({
        "CHAINLIT_APP_ROOT": str(root), "CHAINLIT_HOST": host, "CHAINLIT_PORT": str(port),
        "TRADING_FLOOR_DB": url or str(Path(db).resolve()), "LANGSMITH_TRACING": env.get("LANGSMITH_TRACING", "false"),
        "PYTHONPATH": project + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
    })
    if config is not None:
        env["TRADING_FLOOR_CONFIG"] = str(Path(config).resolve())
    if is_loopback(host):
        env.pop("TRADING_FLOOR_UI_AUTH", None)
    else:
        if not (env.get("TRADING_FLOOR_UI_USER") and env.get("TRADING_FLOOR_UI_PASSWORD")):
            raise ValueError(f"listening on {host} needs password auth: set TRADING_FLOOR_UI_USER and "
                             "TRADING_FLOOR_UI_PASSWORD in the environment")
        env["TRADING_FLOOR_UI_AUTH"] = "1"
        env.setdefault("CHAINLIT_AUTH_SECRET", secrets.token_urlsafe(48))
    return env


def ui_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "chainlit", "run", str(APP), "--headless", "--host", host, "--port", str(port)]


def register(app: typer.Typer) -> None:
    @app.command()
    def ui(
        db: Annotated[Path, typer.Option("--db", parser=db_target, envvar="TRADING_FLOOR_DB",
                                         help="Run database shared with `trading-floor run` (SQLite file or "
                                              "postgresql:// URL).")] = DEFAULT_DB,
        config: Annotated[Path | None, typer.Option("--config", help="Floor YAML for a new run.")] = None,
        host: Annotated[str, typer.Option("--host", help="Address to bind; non-loopback requires auth.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    ) -> None:
        """Start the Chainlit chat UI (headless: open the printed address in a browser)."""
        try:
            env = ui_environment(db, host, port, config)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"Trading Floor UI on http://{host}:{port} (database {db})")
        raise typer.Exit(subprocess.call(ui_command(host, port), env=env))
