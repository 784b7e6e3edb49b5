"""`export` stays byte-identical to the format before issue 21's storage changes: every exported table of three
seeds (150 cycles each) and of a seed-7 run with a rollback and a fork (both lines), compared by sha256 with
digests taken from the code before those changes (tests/data/export_golden.json).

On a mismatch the test names the CSV, the first block of 200 lines that differs (each block's digest is kept
too, so the data file stays small) and that block's lines in today's export.
Rebuild the data file (only when the format is meant to change) from a directory of such exports:
`python tests/test_export_golden.py OUTDIR` after running the same commands into OUTDIR.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from cli_processes import tf, tf_bg

DATA = Path(__file__).parent / "data" / "export_golden.json"
BLOCK = 200  # lines per block digest


def _digests(path: Path) -> dict:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    blocks = [hashlib.sha256(b"".join(lines[i:i + BLOCK])).hexdigest()[:16] for i in range(0, len(lines), BLOCK)]
    return {"sha256": hashlib.sha256(data).hexdigest(), "lines": len(lines), "blocks": blocks}


def _all_digests(out: Path) -> dict[str, dict]:
    return {p.relative_to(out).as_posix(): _digests(p) for p in sorted(out.rglob("*.csv"))}


def _ok(proc: subprocess.CompletedProcess | subprocess.Popen) -> None:
    if isinstance(proc, subprocess.Popen):
        stdout, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, stdout
    else:
        assert proc.returncode == 0, proc.stdout


def _make_exports(out: Path) -> None:
    """The runs and exports /tmp/golden21/make.sh made at the reference commit, the seeds in parallel."""
    rf = str(out / "rf.db")
    seeds = [tf_bg("run", "--cycles", "150", "--seed", str(s), "--db", str(out / f"s{s}.db")) for s in (1, 2, 3)]
    _ok(tf("run", "--cycles", "120", "--seed", "7", "--db", rf))
    _ok(tf("rollback", "--to-cycle", "60", "--db", rf))
    _ok(tf("run", "--cycles", "40", "--db", rf))
    _ok(tf("export", "--db", rf, "--out", str(out / "rf_main")))
    _ok(tf("fork", "--at-cycle", "80", "--db", rf))
    _ok(tf("run", "--cycles", "30", "--db", rf))
    _ok(tf("export", "--db", rf, "--out", str(out / "rf_fork")))
    for s, proc in zip((1, 2, 3), seeds, strict=True):
        _ok(proc)
        _ok(tf("export", "--db", str(out / f"s{s}.db"), "--out", str(out / f"s{s}")))


def _first_difference(name: str, want: dict, got: dict, path: Path) -> str:
    lines = path.read_bytes().splitlines(keepends=True)
    for i, (a, b) in enumerate(zip(want["blocks"], got["blocks"], strict=False)):
        if a != b:
            shown = b"".join(lines[i * BLOCK:(i + 1) * BLOCK]).decode(errors="replace")
            return (f"{name}: lines {i * BLOCK + 1}-{(i + 1) * BLOCK} differ from the reference "
                    f"({want['lines']} lines then, {got['lines']} now); today's lines there:\n{shown[:4000]}")
    return f"{name}: {want['lines']} lines then, {got['lines']} now (the common lines are equal)"


def test_every_exported_table_is_byte_identical_to_the_reference(tmp_path):
    want = json.loads(DATA.read_text())
    _make_exports(tmp_path)
    got = _all_digests(tmp_path)
    assert sorted(got) == sorted(want), "the exported CSV files are not the reference's"
    differ = [name for name in want if got[name]["sha256"] != want[name]["sha256"]]
    assert not differ, "\n\n".join(_first_difference(n, want[n], got[n], tmp_path / n) for n in differ)


if __name__ == "__main__":  # rebuild the data file from a directory of exports
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(_all_digests(Path(sys.argv[1])), indent=0, sort_keys=True) + "\n")
