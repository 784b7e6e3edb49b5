"""Start-up stays light: `--help`, `status`, `history`, `export` and `replay` never import LangGraph,
LangChain, LangSmith or Chainlit (about a second of imports they do not need; bench/bench_startup.py
measures the time). Each runs as the real console script under `python -X importtime`, whose report
names every module the process imported."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_processes import ENV, TRADING_FLOOR, tf
from floor_helpers import write_config

HEAVY = ("langgraph", "langchain", "langsmith", "chainlit")  # package names starting with these
FLOW = ('{"op":"limit","id":"o1","side":"buy","symbol":"AAPL","price":10025,"qty":10,"owner":"a"}\n'
        '{"op":"market","id":"o2","side":"sell","symbol":"AAPL","qty":4,"owner":"b"}\n{"op":"end_cycle"}\n')


def imported_modules(*args: str, cwd: Path) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules `trading-floor ARGS` imports (from `-X importtime` on stderr), and the finished process."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *TRADING_FLOOR, *args], capture_output=True,
                          text=True, timeout=120, env=ENV, cwd=cwd)
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    modules.discard("package")  # the report's header line
    return modules, proc


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """A run database of two cycles (made by the real `run`, which does import LangGraph)."""
    root = tmp_path_factory.mktemp("startup")
    cfg = write_config(root / "fast.yaml")
    assert tf("run", "--cycles", "2", "--db", str(root / "run.db"), "--config", str(cfg)).returncode == 0
    (root / "flow.jsonl").write_text(FLOW, encoding="utf-8")
    return root


@pytest.mark.parametrize("args", [
    ("--help",),
    ("status", "--db", "run.db"),
    ("history", "--db", "run.db"),
    ("export", "--db", "run.db", "--out", "export"),
    ("replay", "flow.jsonl"),
], ids=lambda a: a[0].lstrip("-"))
def test_light_commands_do_not_import_langgraph_langchain_langsmith_or_chainlit(small_run, args):
    modules, proc = imported_modules(*args, cwd=small_run)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "cli.app" in modules  # the report was read
    heavy = sorted(m for m in modules if m.split(".")[0].startswith(HEAVY))
    assert not heavy, f"`trading-floor {' '.join(args)}` imported {len(heavy)} heavy modules: {heavy[:8]}"


@pytest.mark.parametrize("command", ["status", "history"])
def test_status_and_history_read_without_the_config_the_market_or_the_books(small_run, command):
    """They read the checkpoint and the ledger only: not the floor's config (pydantic-settings, YAML), the
    market models or the runtime that rebuilds the books (floor/run_reader.py), nor sqlite-utils and numpy
    (about 80 ms: sqlite-utils imports numpy when it is installed; the ledger needs it only to create a schema)."""
    modules, proc = imported_modules(command, "--db", "run.db", cwd=small_run)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "floor.run_reader" in modules
    unneeded = sorted(m for m in modules if m in ("floor.config", "floor.runtime", "floor.session", "yaml",
                                                  "pydantic_settings", "market.exchange",
                                                  "sqlite_utils", "numpy"))
    assert not unneeded, f"`trading-floor {command}` imported {unneeded}"


def test_status_and_history_still_show_the_run(small_run):
    _, status = imported_modules("status", "--db", "run.db", cwd=small_run)
    assert "cycle 2" in status.stdout and "Leaderboard" in status.stdout
    _, history = imported_modules("history", "--db", "run.db", cwd=small_run)
    assert "History of run-1" in history.stdout


def test_the_constants_written_out_for_the_options_agree_with_their_sources():
    import cli.errors
    import cli.run
    import floor.session
    from floor.database import DEFAULT_DB
    from ledger.fillkeys import MAX_CYCLE
    from market.background.config import SEED_MAX

    assert cli.errors.SEED_MAX == SEED_MAX
    assert cli.run.MAX_CYCLE == MAX_CYCLE
    assert floor.session.DEFAULT_DB == DEFAULT_DB == Path("runs/floor.db")
