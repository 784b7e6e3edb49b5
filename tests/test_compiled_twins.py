"""The background market's compiled twins (market/compiled_twin.py; the ledger's: test_ledger_twins.py): built
in CI, the same market event for event and byte for byte as the plain Python modules, snapshots that move
between the two, and a twin built from an older source never used."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from market import compiled_twin

ROOT = Path(__file__).resolve().parents[1]

# A child process: the background market for CYCLES cycles (every event, and the snapshot's bytes at the
# end, hashed), optionally starting from a snapshot file and optionally writing its own.
_CHILD = r"""
import hashlib, json, sys
from pathlib import Path
from floor.config import load_config
from market import compiled_twin
from market.background import BackgroundMarket
from market.exchange import Exchange

cycles, start, save = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = load_config()
ex = Exchange.restore(Path(start).read_bytes()) if start != "-" else Exchange(
    background=BackgroundMarket(cfg.market, seed=7))
h = hashlib.sha256()
for _ in range(cycles):
    h.update(repr(ex.advance(cfg.market.ticks_per_cycle)).encode())
    h.update(repr(ex.end_cycle()).encode())
snap = ex.snapshot()
h.update(snap)
if save != "-":
    Path(save).write_bytes(snap)
print(json.dumps({"hash": h.hexdigest(), "status": compiled_twin.status()}))
"""


def _market(pure: bool, cycles: int, start: str = "-", save: str = "-") -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "0", "TRADING_FLOOR_PURE_TWINS": "1" if pure else ""}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(cycles), start, save], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _built() -> bool:
    return all(v == "compiled" for v in _market(False, 0)["status"].values())


def test_the_twins_are_built_in_ci():
    """CI installs from a clean clone: every twin must have compiled, else plain Python hides a broken build."""
    if not os.environ.get("CI") and not _built():
        pytest.skip("the twins are not built here (no Cython or C compiler at install); CI requires them")
    assert set(_market(False, 0)["status"].values()) == {"compiled"}


def test_twins_and_plain_python_make_the_same_market_and_share_snapshots(tmp_path):
    pure = _market(True, 120, save=str(tmp_path / "pure.snap"))
    twin = _market(False, 120, save=str(tmp_path / "twin.snap"))
    assert set(pure["status"].values()) == {"python (TRADING_FLOOR_PURE_TWINS)"}
    assert twin["hash"] == pure["hash"]  # every event, and the snapshot's bytes
    assert (tmp_path / "pure.snap").read_bytes() == (tmp_path / "twin.snap").read_bytes()
    # a snapshot written by one continues identically under the other
    on_twin = _market(False, 40, start=str(tmp_path / "pure.snap"))
    on_pure = _market(True, 40, start=str(tmp_path / "twin.snap"))
    assert on_twin["hash"] == on_pure["hash"]


def test_a_twin_built_from_another_source_is_not_used(tmp_path):
    """A module edited after the last install runs as the edited Python, not as the stale compiled copy."""
    if not _built():
        pytest.skip("the twins are not built here: nothing stale to refuse")
    shutil.copytree(ROOT / "market", tmp_path / "market", ignore=shutil.ignore_patterns("__pycache__"))
    edited = tmp_path / "market" / "background" / "noise_trader.py"
    edited.write_text(edited.read_text() + "\n# edited after the install\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "TRADING_FLOOR_PURE_TWINS": ""}
    out = subprocess.run([sys.executable, "-c", "import json, market.compiled_twin as t; print(json.dumps(t.status()))"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True)
    status = json.loads(out.stdout)
    assert status["market.background.noise_trader"].startswith("python (the twin was built from another version")
    assert status["market.background.market_maker"] == "compiled"


def test_a_twin_built_with_other_c_types_is_not_used(tmp_path):
    """A module's .pxd (the C types of its compiled twin) is part of the twin's hash: a .pxd edited after the
    install leaves the module as plain Python, and so does a .pxd added or removed."""
    if not _built():
        pytest.skip("the twins are not built here: nothing stale to refuse")
    shutil.copytree(ROOT / "market", tmp_path / "market", ignore=shutil.ignore_patterns("__pycache__"))
    pxds = sorted((tmp_path / "market").rglob("*.pxd"))
    assert pxds, "no .pxd to edit"
    edited = pxds[0]
    edited.write_text(edited.read_text() + "\n# edited after the install\n")
    module = ".".join(edited.relative_to(tmp_path).with_suffix("").parts)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "TRADING_FLOOR_PURE_TWINS": ""}
    out = subprocess.run([sys.executable, "-c", "import json, market.compiled_twin as t; print(json.dumps(t.status()))"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True)
    status = json.loads(out.stdout)
    assert status[module].startswith("python (the twin was built from another version")
    market = [v for k, v in status.items() if k.startswith("market.")]  # the copy holds the market's twins only
    assert sum(v == "compiled" for v in market) == len(market) - 1


def test_setup_py_hashes_twins_as_the_loader_does():
    """setup.py (which does not import the package) computes the hash a twin carries as `source_hash` does."""
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text())
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "_twin_hash")
    namespace: dict = {}
    exec("import hashlib\n" + ast.get_source_segment((ROOT / "setup.py").read_text(), fn), namespace)
    for source, pxd in ((b"x = 1\n", None), (b"x = 1\n", b"cdef int y\n"), (b"", b"")):
        assert namespace["_twin_hash"](source, pxd) == compiled_twin.source_hash(source, pxd)
    assert compiled_twin.source_hash(b"x") != compiled_twin.source_hash(b"x", b"")


def test_only_listed_modules_take_a_twin():
    namespace = {"__name__": "market.exchange", "__file__": str(ROOT / "market" / "exchange.py"), "x": 1}
    compiled_twin.use_twin(namespace)
    assert namespace == {"__name__": "market.exchange", "__file__": str(ROOT / "market" / "exchange.py"), "x": 1}


def test_setup_py_builds_the_twins_the_loader_knows():
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text())

    def listed(name: str) -> tuple:
        return tuple(next(ast.literal_eval(node.value) for node in ast.walk(tree)
                          if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name))

    assert listed("TWINS") + listed("LEDGER_TWINS") == compiled_twin.TWINS
