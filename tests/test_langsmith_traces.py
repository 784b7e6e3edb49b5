"""LangSmith traces of real `trading-floor run` processes, posted to a local recording endpoint.

Each run is a child process whose environment alone switches tracing on (`LANGSMITH_TRACING=true`,
`LANGSMITH_ENDPOINT=http://127.0.0.1:PORT`, a dummy key); this test process never traces. The recorder
(tests/support/langsmith_recorder.py) folds what the SDK posts into one dict per run, and the tests read
the tree: a trace per cycle named "cycle N" with its metadata and tags, the graph's nodes under it, and
each trader's "decision <trader>" run under a `decide` node, with its view, signals and decision.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from floor_helpers import fast_config, free_port, write_config
from llm_floor import llm_floor_config
from support.langsmith_recorder import LangSmithRecorder
from support.stub_process import StubProcess, submit

TRADING_FLOOR = str(Path(sys.executable).with_name("trading-floor"))
TRADERS = ("momentum", "mean_reversion", "risk_parity", "arbitrage", "trend_following", "sentiment")
# the nodes a rule cycle without approval visits: the discussion node runs every stage, from the market tick
# to the settlement (graphs/cycle_graph.py)
NODES = {"discussion"}


def env_for(url: str, tracing: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    return env | {"LANGSMITH_TRACING": "true" if tracing else "false", "LANGSMITH_ENDPOINT": url,
                  "LANGSMITH_API_KEY": "ls-dummy-test-key", "LANGSMITH_PROJECT": "trading-floor-test",
                  "COLUMNS": "160", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


def run_floor(tmp_path: Path, url: str, cycles: int, *, tracing: bool = True, cfg=None, name: str = "f"):
    """`trading-floor run` to its end; returns (output, seconds from its last line to its exit)."""
    config = write_config(tmp_path / f"{name}.yaml", cfg or fast_config())
    proc = subprocess.Popen([TRADING_FLOOR, "run", "--cycles", str(cycles), "--db", str(tmp_path / f"{name}.db"),
                             "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env_for(url, tracing))
    lines, last = [], None
    for line in proc.stdout:  # bounded: the process ends (the wait below has a timeout as well)
        lines.append(line)
        if line.startswith("ran to cycle"):
            last = time.monotonic()
    proc.wait(timeout=120)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert last is not None, out
    return out, time.monotonic() - last


def by_name(runs: dict, name: str) -> list[dict]:
    return [r for r in runs.values() if r.get("name") == name]


def ancestors(runs: dict, run: dict) -> list[str]:
    names, parent = [], run.get("parent_run_id")
    while parent:
        up = runs[str(parent)]
        names.append(up["name"])
        parent = up.get("parent_run_id")
    return names


def wait_for(rec: LangSmithRecorder, names: set[str], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = rec.runs
        if names <= {r.get("name") for r in runs.values() if r.get("end_time")}:
            return runs
        time.sleep(0.1)
    pytest.fail(f"the recorder never got {sorted(names)}")


def test_three_cycles_are_three_traces_with_metadata_nodes_and_a_named_decision_per_trader(tmp_path):
    with LangSmithRecorder() as rec:
        out, _ = run_floor(tmp_path, rec.url, 3)
        runs = wait_for(rec, {"cycle 1", "cycle 2", "cycle 3"})
    assert "ran to cycle 3" in out
    # neither the API key nor the database's path is ever sent
    assert not [r for r in runs.values() if "ls-dummy-test-key" in repr(r) or str(tmp_path) in repr(r)]
    roots = sorted((r for r in runs.values() if not r.get("parent_run_id")), key=lambda r: r["name"])
    assert [r["name"] for r in roots] == ["cycle 1", "cycle 2", "cycle 3"]
    for n, root in enumerate(roots, 1):
        meta = root["extra"]["metadata"]
        assert {k: meta[k] for k in ("run", "thread_id", "branch", "cycle", "mode", "seed")} == {
            "run": 1, "thread_id": "run-1", "branch": 1, "cycle": n, "mode": "rule", "seed": fast_config().seed}
        assert {"trading-floor", "run:1", "thread:run-1", "branch:1", f"cycle:{n}", "mode:rule"} <= set(root["tags"])
        assert root["session_name"] == "trading-floor-test"
        trace = {k: r for k, r in runs.items() if r["trace_id"] == root["id"]}
        top = [r["name"] for r in trace.values() if r.get("parent_run_id") == root["id"]]
        assert set(top) == NODES  # a rule floor decides in the discussion node (fan_out.py)
        decisions = {r["name"].removeprefix("decision "): r for r in trace.values()
                     if r["name"].startswith("decision ")}
        assert set(decisions) == set(TRADERS)
        rules = by_name(trace, "rule decision")
        for trader, run in decisions.items():
            assert ancestors(runs, run) == ["discussion", f"cycle {n}"]
            assert run["inputs"]["trader"] == trader and run["inputs"]["cycle"] == n
            assert f"You are {trader}" in run["inputs"]["view"] and f"Cycle {n}." in run["inputs"]["view"]
            decision = run["outputs"]["decision"]
            assert decision["trader"] == trader and decision["cycle"] == n and decision["mode"] == "rule"
            assert run["outputs"]["signals"] == decision["signals"] and decision["signals"]
            assert run["extra"]["metadata"]["trader"] == trader and f"trader:{trader}" in run["tags"]
            assert run["extra"]["metadata"]["cycle"] == n  # the cycle's metadata reaches every run below it
            # the rule decision is a traced function: under this decision, or taken before the chat (the
            # discussion node) and kept because the theory does not read the chat
            mine = [r for r in rules if r["extra"]["metadata"]["trader"] == trader]
            assert mine and all(r["outputs"] == decision for r in mine[-1:])
            nested = [r for r in mine if r.get("parent_run_id") == run["id"]]
            assert nested or ancestors(runs, mine[0])[0] == "discussion"
        assert [r for r in rules if r.get("parent_run_id") in {d["id"] for d in decisions.values()}], \
            "the sentiment trader reads the chat: its rule decision runs under its decision"


def test_llm_calls_nest_under_the_traders_decision(tmp_path):
    with StubProcess(tmp_path) as stub, LangSmithRecorder() as rec:
        stub.enqueue({"queue": [submit([{"symbol": "AMZN", "side": "buy", "qty": 20, "order_type": "market",
                                         "tif": "ioc"}], "AMZN trend up")]})
        run_floor(tmp_path, rec.url, 1, cfg=llm_floor_config(stub.base_url), name="llm")
        runs = wait_for(rec, {"cycle 1", "decision momentum"})
    (root,) = [r for r in runs.values() if not r.get("parent_run_id")]
    assert root["extra"]["metadata"]["mode"] == "mixed" and "mode:mixed" in root["tags"]
    (decision,) = by_name(runs, "decision momentum")
    assert decision["outputs"]["mode"] == "llm" and decision["inputs"]["mode"] == "llm"
    llm_runs = [r for r in runs.values() if r.get("run_type") == "llm"]
    assert llm_runs and all("decision momentum" in ancestors(runs, r) for r in llm_runs)
    assert all(ancestors(runs, r)[-1] == "cycle 1" for r in llm_runs)


def test_nothing_is_posted_with_tracing_off(tmp_path):
    with LangSmithRecorder() as rec:
        out, shutdown = run_floor(tmp_path, rec.url, 3, tracing=False)
        time.sleep(0.5)
        assert "ran to cycle 3" in out and rec.requests == []
    print(f"\ntracing off: exit {shutdown:.2f}s after the last line")


def _closed_port() -> str:
    port = free_port()
    with socket.socket() as s:  # nothing listens there: connections are refused
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("endpoint", ["refused", "hanging"])
def test_a_dead_endpoint_never_fails_or_holds_up_a_run(tmp_path, endpoint):
    with LangSmithRecorder() as live, LangSmithRecorder(hang=True) as hanging:
        url = _closed_port() if endpoint == "refused" else hanging.url
        _, off_exit = run_floor(tmp_path, url, 30, tracing=False, name="off")
        out, shutdown = run_floor(tmp_path, url, 30, name="dead")
        reference, _ = run_floor(tmp_path, live.url, 30, name="live")
    assert "ran to cycle 30" in out
    # the run's own time, against the same traced run posting to a live endpoint in this test
    seconds = float(out.rsplit("ran to cycle 30 in ", 1)[1].split("s", 1)[0])
    live_seconds = float(reference.rsplit("ran to cycle 30 in ", 1)[1].split("s", 1)[0])
    print(f"\n{endpoint} endpoint: 30 traced cycles in {seconds:.2f}s (live endpoint {live_seconds:.2f}s); "
          f"exit {shutdown:.2f}s after the last line (tracing off: {off_exit:.2f}s)")
    assert seconds <= 1.5 * live_seconds + 1.0, (seconds, live_seconds)
    # tracing's own shutdown (the bounded flush) is what the dead endpoint adds to the process's exit;
    # the interpreter's teardown is there with tracing off too (about 0.3 s on an idle machine)
    assert shutdown - off_exit < 2.0, f"exit {shutdown:.2f}s after the run, {off_exit:.2f}s with tracing off"
