"""Issue 15, defect 3: the LLM budget is part of the run. Spend is recorded in the ledger per run and
branch, so a run continued by another process stays within it, a rollback gives back the budget of the
cycles it discards, and traders deciding in parallel pass the cap by at most one request's worth.
Against the OpenAI stub in its own process."""
from __future__ import annotations

import pytest
from cli_processes import tf
from floor_helpers import write_config
from llm_floor import llm_floor_config
from support.stub_process import StubProcess, submit

from floor.config import FloorConfig
from floor.session import FloorSession
from ledger import llm_spend

USAGE = (6000, 100)  # tokens the stub reports for every request (more than our prompts' estimate)
PRICE = 10.0  # USD per million tokens, input and output: one request costs $0.061
ONE_REQUEST = (USAGE[0] + USAGE[1]) * PRICE / 1e6


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    script = {"default": {**submit([], "nothing to do"), "usage": list(USAGE)}}
    with StubProcess(tmp_path_factory.mktemp("stub"), script=script) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv("STUB_TEST_KEY", raising=False)


def _config(stub, max_cost: float, traders=("momentum",), streaming: bool = False) -> FloorConfig:
    cfg = llm_floor_config(stub.base_url, traders, streaming=streaming)
    budget = {"max_cost": max_cost, "input_cost_per_mtok": PRICE, "output_cost_per_mtok": PRICE}
    return FloorConfig.model_validate(cfg.model_dump() | {"llm_budget": budget})


def _spent(s: FloorSession) -> float:
    rows = llm_spend.per_trader(s.floor.ledger.conn, s.floor.ledger.branch_id)
    return sum(r["cost_micro_usd"] for r in rows.values()) / 1e6


def test_spend_is_in_the_ledger_and_a_run_continued_by_another_process_stays_within_it(tmp_path, stub):
    cfg = _config(stub, max_cost=2.5 * ONE_REQUEST)
    db = tmp_path / "f.db"
    s = FloorSession(db, cfg)
    s.start()
    before = len(stub.requests())
    s.run(4)
    made = len(stub.requests()) - before
    assert made >= 2 and _spent(s) == pytest.approx(made * ONE_REQUEST)
    assert _spent(s) <= cfg.llm_budget.max_cost + ONE_REQUEST
    modes = [t["payload"]["mode"] for t in s.floor.ledger.traces(agent="momentum", kind="decision", limit=None)]
    assert len(modes) == 4 and modes[-1] == "fallback" and modes.count("llm") == made
    s.close()
    # another process continues the run: it reads the spend from the ledger and sends nothing
    out = tf("run", "--cycles", "3", "--db", str(db), "--config", str(write_config(tmp_path / "f.yaml", cfg)),
             env={"STUB_TEST_KEY": ""})
    assert out.returncode == 0, out.stdout
    assert len(stub.requests()) - before == made, out.stdout
    s = FloorSession(db, cfg, readonly=True)
    assert s.state()["cycle"] == 7
    rows = llm_spend.per_trader(s.floor.ledger.conn, s.floor.ledger.branch_id)
    assert rows["momentum"]["fallbacks"] == {"budget exhausted": 7 - made}
    assert rows["momentum"]["decisions_llm"] == made
    s.close()


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_a_rollback_gives_back_the_budget_of_the_cycles_it_discards(tmp_path, stub, streaming):
    cfg = _config(stub, max_cost=1.5 * ONE_REQUEST, streaming=streaming)
    s = FloorSession(tmp_path / "f.db", cfg)
    s.start()
    before = len(stub.requests())
    s.run(3)
    made = len(stub.requests()) - before
    assert made >= 1 and _spent(s) == pytest.approx(made * ONE_REQUEST)
    s.rollback(0)
    assert _spent(s) == 0
    s.run(3)
    assert len(stub.requests()) - before == 2 * made  # the same again, with the budget given back
    (first,) = s.floor.ledger.traces(cycle=1, agent="momentum", kind="decision", limit=None)
    assert first["payload"]["mode"] == "llm"
    s.close()


def test_parallel_traders_pass_the_cap_by_at_most_one_request(tmp_path, stub):
    traders = ("momentum", "mean_reversion", "risk_parity", "sentiment")
    cfg = _config(stub, max_cost=4.5 * ONE_REQUEST, traders=traders)  # a per-cycle check would spend 8 requests
    s = FloorSession(tmp_path / "f.db", cfg)
    s.start()
    s.run(4)
    assert _spent(s) <= cfg.llm_budget.max_cost + ONE_REQUEST
    assert _spent(s) > 0
    s.close()
