"""Issue 15, defect 4: LLM failures are visible. `run` reports a missing key or an unreachable endpoint
before cycle 1 (naming the traders and the endpoint) and goes on in marked fallback, or stops under
`--strict-llm`; its progress line and summary count LLM decisions, fallbacks by reason, tokens and cost;
`status` shows them per trader. The command line runs as its own process; the endpoint is the OpenAI stub
in its own process, or a port where nothing listens."""
from __future__ import annotations

import pytest
from cli_processes import tf
from floor_helpers import fast_config, free_port, write_config
from llm_floor import llm_floor_config
from support.stub_process import StubProcess, submit

from floor.config import FloorConfig


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)


def test_a_missing_key_is_reported_before_cycle_1_and_every_decision_is_a_marked_fallback(tmp_path):
    cfg = write_config(tmp_path / "f.yaml", fast_config(chat={"enabled": False}))
    db = str(tmp_path / "f.db")
    out = tf("run", "--cycles", "2", "--llm", "--db", db, "--config", str(cfg), env={"OPENAI_API_KEY": ""})
    assert out.returncode == 0, out.stdout
    text = out.stdout
    problem = next(line for line in text.splitlines() if line.startswith("LLM endpoint problem"))
    assert "momentum" in problem and "openai-mini (https://api.openai.com/v1)" in problem
    assert "$OPENAI_API_KEY is not set" in problem
    assert text.index("LLM endpoint problem") < text.index("ran to cycle 2")
    assert "LLM: 0 of 12 decisions by the model, 12 fell back (missing API key 12)" in text
    status = tf("status", "--db", db)
    assert status.returncode == 0, status.stdout
    assert "LLM decisions" in status.stdout and "missing API key 2" in status.stdout


def test_strict_llm_stops_before_cycle_1_on_an_unreachable_endpoint(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    cfg = write_config(tmp_path / "f.yaml", llm_floor_config(url, ("momentum", "sentiment")))
    db = str(tmp_path / "f.db")
    out = tf("run", "--cycles", "2", "--db", db, "--config", str(cfg), "--strict-llm")
    assert out.returncode == 2, out.stdout
    assert "--strict-llm" in out.stdout and "momentum, sentiment -> stub (" + url + ")" in out.stdout
    assert "unreachable" in out.stdout and "ran to cycle" not in out.stdout
    status = tf("status", "--db", db)
    assert "cycle 0" in status.stdout


def test_run_progress_and_summary_count_fallbacks_by_reason_tokens_and_cost(tmp_path):
    with StubProcess(tmp_path) as stub:
        stub.enqueue({"queue": [{**submit([], "holding"), "usage": [1000, 50]}, {"kind": "error", "status": 500},
                                {**submit([], "holding"), "usage": [1000, 50]}]})
        base = llm_floor_config(stub.base_url, ("momentum",), max_retries=0)
        cfg = FloorConfig.model_validate(base.model_dump() | {"llm_budget": {"input_cost_per_mtok": 1.0,
                                                                             "output_cost_per_mtok": 2.0}})
        db = str(tmp_path / "f.db")
        out = tf("run", "--cycles", "3", "--db", db, "--config", str(write_config(tmp_path / "f.yaml", cfg)))
    assert out.returncode == 0, out.stdout
    assert "LLM endpoint problem" not in out.stdout
    assert "LLM 2/3 · fallbacks 1 · 2,100 tok · $0.0022" in out.stdout
    assert ("LLM: 2 of 3 decisions by the model, 1 fell back (HTTP 500 1); 2 answers, 2,100 tokens, $0.0022"
            in out.stdout)
    status = tf("status", "--db", db)
    row = next(line for line in status.stdout.splitlines() if "momentum" in line and "HTTP 500" in line)
    assert "2,100" in row and "$0.0022" in row


def test_without_strict_llm_an_unreachable_endpoint_is_skipped_at_once_and_marked(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    cfg = write_config(tmp_path / "f.yaml", llm_floor_config(url, ("momentum", "sentiment"), max_retries=2))
    db = str(tmp_path / "f.db")
    out = tf("run", "--cycles", "2", "--db", db, "--config", str(cfg))
    assert out.returncode == 0, out.stdout
    assert "LLM endpoint problem: momentum, sentiment -> stub (" + url + "): unreachable" in out.stdout
    assert "LLM: 0 of 4 decisions by the model, 4 fell back (circuit open 4); 0 answers" in out.stdout
    explained = tf("explain", "1", "momentum", "--db", db).stdout
    assert "fallback: circuit open: stub (" + url + ") did not answer at start" in explained
