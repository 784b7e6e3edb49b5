"""Shared builders for whole-graph tests: a small, fast floor config and session helpers."""
from __future__ import annotations

from floor.config import FloorConfig, load_config
from floor.session import FloorSession


def fast_config(**overrides) -> FloorConfig:
    """The default floor with a lighter background market, so graph tests run many cycles quickly."""
    market = {"ticks_per_cycle": 10, "noise": {"count": 300}, "value": {"count": 30}}
    return load_config(**({"market": market} | overrides))


def ledger_fills(session: FloorSession, cycles) -> list[tuple]:
    """Fills of the given cycles as the active branch sees them, without branch ids: comparable across branches."""
    out = []
    for c in cycles:
        rows = session.floor.ledger.fills(cycle=c, limit=None)
        out.extend(tuple((k, v) for k, v in sorted(r.items()) if k not in ("branch_id", "run_id")) for r in rows)
    return out


def trader_orders(session: FloorSession, cycles) -> list[tuple]:
    out = []
    for c in cycles:
        rows = session.floor.ledger.orders(cycle=c, limit=None)
        out.extend(tuple((k, v) for k, v in sorted(r.items()) if k not in ("branch_id", "run_id", "id"))
                   for r in rows)
    return out


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path, cfg: FloorConfig | None = None):
    """A floor YAML for command-line and server tests (the fast config by default); returns the path."""
    import yaml

    path.write_text(yaml.safe_dump((cfg or fast_config()).model_dump(mode="json")), encoding="utf-8")
    return path
