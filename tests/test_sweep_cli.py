"""`trading-floor sweep` as a user runs it: the real console script in its own process. The local engine
imports no Ray; `--engine ray` joins a cluster started by `ray start --head` on 127.0.0.1 (`--address`),
or starts its own; Ctrl-C (SIGINT) cancels cleanly and `--resume` finishes the sweep."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cli_processes import ENV, TRADING_FLOOR, tf, tf_bg
from floor_helpers import write_config

from analysis import sweep_dataset as ds

RAY = str(Path(sys.executable).with_name("ray"))
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray's single-node mode: every process on 127.0.0.1
# the cluster and its clients share a token made for this test (Ray's token authentication)
TOKEN = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def fast_yaml(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("cfg") / "fast.yaml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    """A Ray cluster as `ray start --head` makes it, on the loopback; `ray stop` afterwards, always."""
    port = free_port()
    env = ENV | LOOPBACK | TOKEN
    try:
        subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                        "--include-dashboard=false", "--disable-usage-stats"], check=True, env=env,
                       capture_output=True, text=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_the_local_engine_imports_no_ray(tmp_path, fast_yaml):
    proc = subprocess.run([sys.executable, "-X", "importtime", *TRADING_FLOOR, "sweep", "--config", str(fast_yaml),
                           "--seeds", "1", "--cycles", "2", "--workers", "1", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=300, env=ENV, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "analysis.sweep_engines" in modules and not [m for m in modules if m.split(".")[0] == "ray"]
    assert len(ds.read_rows(tmp_path / "d")) == 1


def test_sweep_joins_a_cluster_started_with_ray_start(ray_head, tmp_path, fast_yaml):
    out = tmp_path / "dataset"
    proc = tf("sweep", "--engine", "ray", "--address", ray_head, "--config", str(fast_yaml), "--seeds", "1,2",
              "--set", "fee_bps=0,5", "--cycles", "4", "--out", str(out), env=LOOPBACK | TOKEN)
    assert proc.returncode == 0, proc.stdout
    assert "runs (ray)" in proc.stdout and "Sweep: 4 runs x 4 cycles" in proc.stdout
    rows = ds.read_rows(out)
    assert len(rows) == 4 and {r["engine"] for r in rows} == {"ray"} and {r["status"] for r in rows} == {"ok"}
    # `auto` finds the same cluster through RAY_ADDRESS; the dataset is complete, so nothing runs again
    again = tf("sweep", "--engine", "ray", "--address", "auto", "--config", str(fast_yaml), "--seeds", "1,2",
               "--set", "fee_bps=0,5", "--cycles", "4", "--out", str(out), "--resume",
               env=LOOPBACK | TOKEN | {"RAY_ADDRESS": ray_head})
    assert again.returncode == 0, again.stdout
    assert "4 of 4 points already done, 0 to run" in again.stdout and "Sweep: 4 runs" in again.stdout
    refused = tf("sweep", "--config", str(fast_yaml), "--seeds", "1,2", "--set", "fee_bps=0,5", "--cycles", "4",
                 "--out", str(out))
    assert refused.returncode == 2 and "already holds 4 points: --resume" in refused.stdout


def test_ctrl_c_cancels_cleanly_and_resume_finishes_the_sweep(tmp_path, fast_yaml):
    out = tmp_path / "dataset"
    args = ("sweep", "--engine", "ray", "--workers", "1", "--config", str(fast_yaml), "--seeds", "1,2,3,4,5,6",
            "--cycles", "60", "--out", str(out))
    proc = tf_bg(*args, env=LOOPBACK)
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("point-*.parquet")):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no point finished in 180 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "cancelled" in output and "--resume" in output
    done = len(ds.read_rows(out))
    assert 1 <= done < 6
    assert not list(out.glob(".point-*")), "a half-written file was left behind"
    finish = tf(*args, "--resume", env=LOOPBACK)
    assert finish.returncode == 0, finish.stdout
    assert f"{done} of 6 points already done, {6 - done} to run" in finish.stdout
    rows = ds.read_rows(out)
    assert sorted(r["seed"] for r in rows) == [1, 2, 3, 4, 5, 6] and {r["status"] for r in rows} == {"ok"}


def test_a_ray_sweep_without_ray_installed_says_how_to_install_it(tmp_path, fast_yaml):
    # a Python that cannot import ray: a sitecustomize that blocks it
    block = tmp_path / "block"
    block.mkdir()
    (block / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None\n", encoding="utf-8")
    proc = tf("sweep", "--engine", "ray", "--config", str(fast_yaml), "--seeds", "1", "--cycles", "2",
              env={"PYTHONPATH": str(block) + os.pathsep + os.environ.get("PYTHONPATH", "")})
    assert proc.returncode == 2 and "pip install -e '.[ray]'" in proc.stdout, proc.stdout
