"""Parsing chat input into steering commands. Anything that is not a command is a question.

Chat text never reaches the exchange: a command can only run cycles, move the run in time, toggle the
approval step or read state. Orders come only from the traders, through the tools and the risk checks.
"""
from __future__ import annotations

from dataclasses import dataclass

HELP = """**Commands**
- `/run N` — run N cycles (default 1); continues the current run or starts one
- `/pause` (or `/stop`) — stop a run after the cycle in progress; the run goes on in the background
  while you ask questions, and survives a reload
- `/rollback K` — back to the end of cycle K (the discarded future is kept as a branch)
- `/fork K` — a new thread continuing from cycle K; the current one is untouched
- `/approval on|off` — ask a person to approve the proposed orders before execution
- `/book SYMBOL` — the order book's depth for a symbol
- `/config` — the floor's configuration
- `/status` — where the run is, the leaderboard, and the dashboard (positions, cash, prices, PnL, tape)
  in the sidebar, which updates itself during a run
- `/threads`, `/use THREAD` — list the run's threads, switch to one
- `/new [SEED]` — start a new run

**Questions** — e.g. `@momentum why did you sell NVDA in cycle 12?`, `@arbitrage what is your position and PnL?`,
`who is winning and why?`"""


@dataclass(frozen=True)
class Command:
    name: str
    arg: int | str | bool | None = None


@dataclass(frozen=True)
class Question:
    text: str


@dataclass(frozen=True)
class Invalid:
    message: str


_INT_ARG = {"run": (1, 1), "rollback": (None, 0), "fork": (None, 0)}  # name -> (default, minimum)
_NO_ARG = {"pause", "stop", "config", "status", "help", "threads"}


def parse(text: str) -> Command | Question | Invalid:
    text = text.strip()
    if not text.startswith("/"):
        return Question(text) if text else Invalid("Type a command (see `/help`) or ask a trader a question.")
    head, _, rest = text[1:].partition(" ")
    name, rest = head.lower(), rest.strip()
    if name in _NO_ARG:
        return Command(name)
    if name in _INT_ARG:
        default, minimum = _INT_ARG[name]
        if not rest:
            if default is None:
                return Invalid(f"`/{name}` needs a cycle number, e.g. `/{name} 5`.")
            return Command(name, default)
        try:
            value = int(rest)
        except ValueError:
            return Invalid(f"`/{name}` expects a whole number, not {rest!r}.")
        if value < minimum:
            return Invalid(f"`/{name}` expects a number ≥ {minimum}.")
        return Command(name, value)
    if name == "approval":
        if rest.lower() in ("on", "off"):
            return Command("approval", rest.lower() == "on")
        return Invalid("`/approval` expects `on` or `off`.")
    if name == "book":
        if not rest:
            return Invalid("`/book` needs a symbol, e.g. `/book NVDA`.")
        return Command("book", rest.split()[0].upper())
    if name == "use":
        return Command("use", rest) if rest else Invalid("`/use` needs a thread id (see `/threads`).")
    if name == "new":
        if not rest:
            return Command("new", None)
        try:
            return Command("new", int(rest))
        except ValueError:
            return Invalid(f"`/new` expects a whole-number seed, not {rest!r}.")
    return Invalid(f"Unknown command `/{name}`. See `/help`.")
