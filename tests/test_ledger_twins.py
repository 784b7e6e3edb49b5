"""The ledger's compiled twins (market/compiled_twin.py): a floor settled by them writes the very rows the plain
Python modules write, through a rollback and a fork, and CI builds them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEDGER_TWINS = {"ledger.settlement", "ledger.background_fills", "ledger.lots", "ledger.records", "ledger.fillids",
                "ledger.packed_history", "ledger.id_numbers", "ledger.state"}

# A child process: a default floor for 60 cycles, a rollback to cycle 40 and 15 more, a fork at cycle 30 and 10
# more; then every table of the run database hashed row by row (the checkpoints' blobs hold timestamps: left out).
_CHILD = r"""
import hashlib, json, sqlite3, sys
from pathlib import Path
from floor.config import load_config
from floor.session import FloorSession
from market import compiled_twin

db = Path(sys.argv[1])
s = FloorSession(db, load_config())
s.start()
for _ in s.iter_cycles(60): pass
s.rollback(40)
for _ in s.iter_cycles(15): pass
s.fork(30, s.floor.config, label="other")
for _ in s.iter_cycles(10): pass
s.close()
con = sqlite3.connect(db)
tables = {}
for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
    if t in ("checkpoints", "writes"):
        continue
    h = hashlib.sha256()
    for row in con.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2'):
        h.update(repr(row).encode())
    tables[t] = h.hexdigest()
print(json.dumps({"tables": tables, "status": compiled_twin.status()}))
"""


def _floor(tmp_path: Path, pure: bool) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "0", "LANGSMITH_TRACING": "false",
           "TRADING_FLOOR_PURE_TWINS": "1" if pure else ""}
    db = tmp_path / ("pure.db" if pure else "twin.db")
    out = subprocess.run([sys.executable, "-c", _CHILD, str(db)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_ledger_twins_settle_the_same_rows_as_plain_python(tmp_path):
    pure, twin = _floor(tmp_path, pure=True), _floor(tmp_path, pure=False)
    assert {pure["status"][m] for m in LEDGER_TWINS} == {"python (TRADING_FLOOR_PURE_TWINS)"}
    built = {twin["status"][m] for m in LEDGER_TWINS}
    if built != {"compiled"}:
        if os.environ.get("CI"):
            pytest.fail(f"CI builds every twin; the ledger's: {twin['status']}")
        pytest.skip("the ledger's twins are not built here (no Cython or C compiler at install)")
    assert pure["tables"] and "fills" in pure["tables"] and "lots" in pure["tables"]
    assert twin["tables"] == pure["tables"]


def test_a_name_set_on_a_ledger_module_reaches_its_compiled_twin(monkeypatch):
    """The twin's functions look their globals up in the twin: a constant or a function replaced on the public
    module (as tests do) must be replaced there too, and put back with it."""
    import ledger.lots as lots
    from market import compiled_twin

    if compiled_twin.status()["ledger.lots"] != "compiled":
        if os.environ.get("CI"):
            pytest.fail("CI builds every twin, and ledger.lots did not take its twin")
        pytest.skip("the ledger's twins are not built here")
    twin = sys.modules["ledger.lots_compiled"]
    before = lots.LOT_WINDOW
    with monkeypatch.context() as m:
        m.setattr(lots, "LOT_WINDOW", 3)
        assert twin.LOT_WINDOW == 3
    assert lots.LOT_WINDOW == twin.LOT_WINDOW == before
