"""Scenario files: the library loads and is consistent; bad files get one clear line each."""
from __future__ import annotations

import pytest

from floor.scenario_file import ScenarioError, check_for_run, library, load_scenario
from market.instruments import DEFAULT_UNIVERSE

SYMBOLS = [i.symbol for i in DEFAULT_UNIVERSE]


def test_the_library_has_the_documented_scenarios_and_each_loads():
    names = {p.stem for p in library()}
    assert {"crash", "drought", "halt-component", "rumour"} <= names
    for path in library():
        scn = load_scenario(path)
        assert scn.events and scn.name == path.stem
        check_for_run(scn, SYMBOLS, 0)
        assert path.read_text().startswith(f"# {path.stem}:")  # each says what it tests


def _bad(tmp_path, text: str) -> str:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(p))
    return msg


def test_an_unknown_event_kind_is_named(tmp_path):
    msg = _bad(tmp_path, "events:\n  - {kind: earthquake, at: 3}\n")
    assert "events[0]: unknown event kind 'earthquake'" in msg and "news" in msg


def test_an_unknown_key_is_refused(tmp_path):
    assert "events[0].sizee: unknown key" in _bad(tmp_path, "events:\n  - {kind: flash_crash, at: 3, symbol: NVDA, qty: 10, sizee: 3}\n")
    assert "colour: unknown key" in _bad(tmp_path, "colour: red\n")


def test_negative_sizes_are_refused(tmp_path):
    msg = _bad(tmp_path, "events:\n  - {kind: flash_crash, at: 3, symbol: NVDA, qty: -500}\n")
    assert "events[0].qty: Input should be greater than 0" in msg
    assert "cycles" in _bad(tmp_path, "events:\n  - {kind: drought, at: 3, cycles: -1}\n")
    assert "cash" in _bad(tmp_path, "endowments:\n  default: {cash: [100, -5]}\n")


def test_overlapping_halts_are_refused(tmp_path):
    msg = _bad(tmp_path, "events:\n  - {kind: halt, at: 3, symbol: NVDA, cycles: 4}\n"
                         "  - {kind: halt, at: 5, symbol: NVDA, cycles: 1}\n")
    assert "halts of NVDA overlap: the one from cycle 3 lasts until cycle 7, another starts at cycle 5" in msg


def test_an_event_without_a_time_and_bad_yaml(tmp_path):
    assert "needs `at` (a cycle) or `when`" in _bad(tmp_path, "events:\n  - {kind: news, move_pct: 3}\n")
    assert "not valid YAML at line 3" in _bad(tmp_path, "events:\n  - {kind: news\n")
    assert "is a mapping" in _bad(tmp_path, "- 1\n- 2\n")


def test_a_cycle_in_the_past_and_an_unknown_symbol_are_refused_for_the_run(tmp_path):
    p = tmp_path / "late.yaml"
    p.write_text("events:\n  - {kind: news, at: 4, symbol: NVDA, move_pct: -5}\n")
    scn = load_scenario(p)
    check_for_run(scn, SYMBOLS, 3)
    with pytest.raises(ScenarioError, match="event 1 \\(news\\) is at cycle 4, which is in the past: the scenario starts after cycle 10"):
        check_for_run(scn, SYMBOLS, 10)
    p.write_text("events:\n  - {kind: halt, at: 4, symbol: TSLA, cycles: 1}\n")
    with pytest.raises(ScenarioError, match="unknown symbol 'TSLA'"):
        check_for_run(load_scenario(p), SYMBOLS, 0)


def test_a_missing_file_names_the_library():
    with pytest.raises(ScenarioError, match="does not exist \\(library scenarios: crash, drought"):
        load_scenario("no-such-scenario")
    assert load_scenario("crash").name == "crash"
