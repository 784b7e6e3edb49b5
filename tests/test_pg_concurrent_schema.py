"""Processes that create one run's PostgreSQL tables at the same moment take turns instead of failing.

`CREATE TABLE IF NOT EXISTS` is not safe against a concurrent identical CREATE on PostgreSQL: the loser
fails with a duplicate key on the catalog (`pg_type_typname_nsp_index`). CI once lost the four-process
lease test to it. Here several real processes start at one agreed instant on a new schema and each opens
everything a floor creates: the schema itself, the ledger, the lease and command tables, the thread
registry, the market snapshots, external orders and LangGraph's checkpoint tables.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPEN_ALL = """
import sys, time
from floor.database import connect_pg_checkpoints, make_saver
from floor.ownership import commands, lease
from floor.threads import ThreadRegistry
from ledger.market_history import MarketSnapshots
from ledger.pg_connection import connect
from ledger.store import Ledger
from tools import external_orders

url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
conn = connect(url, pooled=False)
lease.ensure_schema(conn)
commands.ensure_schema(conn)
ThreadRegistry(conn)
MarketSnapshots(conn)
external_orders.ensure_schema(conn)
Ledger.open(url).close()
make_saver(connect_pg_checkpoints(url))
print("ok", flush=True)
"""


def test_processes_creating_one_schema_at_once_all_succeed(pg_url):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(3):  # each round a new schema, so every round races on creating every table
        url = f"{pg_url}&schema=race_{uuid.uuid4().hex[:8]}"
        start = time.time() + 4.0  # after every interpreter has imported what it needs
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_ALL, url, str(start)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(4)]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n---\n".join(outs)
        assert all(out.strip().endswith("ok") for out in outs), outs
