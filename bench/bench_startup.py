"""How long `trading-floor` takes to start: wall time of the real console script in a subprocess, the
median of RUNS runs, for the commands a person types most, against the issue's targets:

- `--help`, `status`, `history` (on a run database of 3 cycles with the fast test config) and `replay`
  (a tiny JSONL flow): within 0.35 s;
- `run --until N` on a database already at cycle N (the path up to the first cycle: it ends with "nothing
  to run"): within 0.8 s.

Baselines measured in the same run, the floor of what is possible here: `python -c pass` (the
interpreter), `python -c "import typer"`, and a one-command Typer app with a Path option (Typer builds
a pydantic validator for every option it parses, so this is what any Typer command costs before doing
anything). Then `python -X importtime` lists what `status` and `run --until` import, summed by top-level
package, largest first; `status` must import none of LangGraph, LangChain, LangSmith and Chainlit.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10
TARGET_LIGHT = 0.35  # s: --help, status, history, replay
TARGET_RUN = 0.8  # s: run --until N, already at N
CYCLES = 3
TOP = 12  # packages listed per import-time report
HEAVY = ("langgraph", "langchain", "langsmith", "chainlit")

PYTHON = sys.executable
SCRIPT = str(Path(sys.executable).with_name("trading-floor"))
ENV = os.environ | {"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1",
                    "LANGGRAPH_NO_VERSION_CHECK": "true", "COLUMNS": "120", "NO_COLOR": "1"}
FLOW = ('{"op":"limit","id":"o1","side":"buy","symbol":"AAPL","price":10025,"qty":10,"owner":"a"}\n'
        '{"op":"limit","id":"o2","side":"sell","symbol":"AAPL","price":10030,"qty":5,"owner":"b"}\n'
        '{"op":"market","id":"o3","side":"sell","symbol":"AAPL","qty":4,"owner":"c"}\n{"op":"end_cycle"}\n')
TYPER_FLOOR = '''from pathlib import Path
from typing import Annotated
import typer
app = typer.Typer(add_completion=False)
@app.command()
def status(db: Annotated[Path, typer.Option("--db")] = Path("x.db")) -> None:
    """One option, nothing else."""
@app.command()
def other() -> None:
    """A second command, so that `status` is a subcommand as ours are."""
app()
'''


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def median_wall(argv: list[str], cwd: Path, expect: str | None = None) -> float:
    """Median wall time of RUNS runs (after one unmeasured run, which also checks the command works)."""
    first = _run(argv, cwd)
    if first.returncode != 0 or (expect and expect not in first.stdout + first.stderr):
        raise RuntimeError(f"{' '.join(argv[-4:])} failed ({first.returncode}): {(first.stdout + first.stderr)[-500:]}")
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_costs(args: list[str], cwd: Path) -> dict[str, float]:
    """Milliseconds of import time by top-level package (the sum of each module's own time)."""
    proc = _run([PYTHON, "-X", "importtime", SCRIPT, *args], cwd)
    out: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if not own.strip().isdigit():
            continue  # the header
        top = name.strip().split(".")[0]
        out[top] = out.get(top, 0.0) + int(own) / 1000
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _make_run(tmp: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from floor_helpers import write_config  # the fast config of the test suite

    write_config(tmp / "fast.yaml")
    made = _run([SCRIPT, "run", "--cycles", str(CYCLES), "--db", "run.db", "--config", "fast.yaml"], tmp)
    if made.returncode != 0:
        raise RuntimeError(f"cannot make the run database: {made.stdout[-500:]}")
    (tmp / "flow.jsonl").write_text(FLOW, encoding="utf-8")
    (tmp / "floor.py").write_text(TYPER_FLOOR, encoding="utf-8")


def main() -> bool:
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    _make_run(tmp)
    print(f"wall time, median of {RUNS} runs, of `{SCRIPT}` in a subprocess (cwd {tmp})")
    for label, argv in (("python -c pass", [PYTHON, "-c", "pass"]),
                        ('python -c "import typer"', [PYTHON, "-c", "import typer"]),
                        ("a one-option Typer command", [PYTHON, "floor.py", "status", "--db", "run.db"])):
        print(f"  baseline {label:<38} {median_wall(argv, tmp):6.3f} s")
    ok = True
    commands = (
        ("--help", ["--help"], None, TARGET_LIGHT),
        ("status", ["status", "--db", "run.db"], f"cycle {CYCLES}", TARGET_LIGHT),
        ("history", ["history", "--db", "run.db"], "History of", TARGET_LIGHT),
        ("replay", ["replay", "flow.jsonl"], "events:", TARGET_LIGHT),
        (f"run --until {CYCLES} (at {CYCLES})", ["run", "--until", str(CYCLES), "--db", "run.db", "--config",
                                                 "fast.yaml"], "nothing to run", TARGET_RUN),
    )
    for label, args, expect, target in commands:
        t = median_wall([SCRIPT, *args], tmp, expect)
        verdict = "ok" if t <= target else "ABOVE TARGET"
        ok &= t <= target
        print(f"  trading-floor {label:<33} {t:6.3f} s   target <= {target:.2f} s: {verdict}")
    for label, args in (("status", ["status", "--db", "run.db"]),
                        ("run --until", ["run", "--until", str(CYCLES), "--db", "run.db", "--config", "fast.yaml"])):
        costs = import_costs(args, tmp)
        heavy = sum(v for k, v in costs.items() if k.startswith(HEAVY))
        total = sum(costs.values())
        print(f"  import time of `{label}` (python -X importtime, own time summed by package): {total:.0f} ms, "
              f"of which LangGraph/LangChain/LangSmith/Chainlit {heavy:.0f} ms")
        print("    " + ", ".join(f"{k} {v:.0f}" for k, v in list(costs.items())[:TOP]))
        if label == "status":
            ok &= heavy == 0
    return ok
