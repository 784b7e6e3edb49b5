"""Loading scenario files (YAML) into a validated `market.scenarios.Scenario`, with one-line errors.

A file that cannot be used raises `ScenarioError` whose message is one sentence naming the file, where in
it the problem is (`events[2].qty`), and what is wrong: an unknown event kind, an unknown key, a
negative size, overlapping halts, or (checked against the run in `check_for_run`) a cycle in the past or
an unknown symbol. The library of ready-made scenarios lives in the repository's `scenarios/` folder
and can be named by its short name (`crash` for `scenarios/crash.yaml`).
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from market.scenarios import EVENT_KINDS, Scenario

LIBRARY = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message is one line."""


def library() -> list[Path]:
    """The scenario files of the repository's library, by name."""
    return sorted(LIBRARY.glob("*.yaml"))


def resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.exists():
        return p
    named = LIBRARY / f"{name_or_path}.yaml"
    if named.exists():
        return named
    known = ", ".join(f.stem for f in library())
    raise ScenarioError(f"scenario file {str(name_or_path)!r} does not exist (library scenarios: {known})")


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in EVENT_KINDS or part in ("function-after", "tagged-union"):
            continue  # pydantic's union tags: not part of the file's structure
        else:
            out += f".{part}" if out else str(part)
    return out or "the file"


def _sentence(err: dict) -> str:
    where, kind, msg = _where(err["loc"]), err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "union_tag_invalid":
        given = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        return f"{where}: unknown event kind {given!r} (known: {', '.join(EVENT_KINDS)})"
    if kind == "union_tag_not_found":
        return f"{where}: an event needs a `kind` (one of: {', '.join(EVENT_KINDS)})"
    return f"{where}: {msg.removeprefix('Value error, ')}"


def parse(data, source: str = "scenario") -> Scenario:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario file is a mapping (name, description, breaker, events, endowments)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ScenarioError(f"{source}: {_sentence(errors[0])}{more}") from None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and validate a scenario file (or a library scenario by name)."""
    path = resolve(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}: not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    return parse(data, str(path))


def check_for_run(scenario: Scenario, symbols, start_cycle: int, source: str = "scenario") -> None:
    """Refuse what only the run can tell: a cycle already past, an unknown symbol."""
    try:
        scenario.check_against(symbols, start_cycle)
    except ValueError as e:
        raise ScenarioError(f"{source}: {e}") from None


def to_json(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json", exclude_none=True), sort_keys=True)
