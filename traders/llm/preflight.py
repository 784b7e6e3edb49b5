"""Before cycle 1: can the LLM traders reach their endpoints? `check_endpoints(config) -> [EndpointProblem]`.

For every endpoint used by a trader in LLM mode:
- its API key: a remote endpoint needs the variable its config names (`api_key_env`) to be set; a local
  one (127.0.0.1, localhost) runs without a key;
- whether it answers: one GET of `<base_url>/models` with a short timeout. Any HTTP answer (even 401 or
  404) means the server is there; a refused connection, a DNS failure or a timeout means it is not.
  An endpoint without a key is not contacted.

The caller reports each problem with the traders and the endpoint named, then either goes on (those
traders decide by their rules, each decision marked `fallback` with the reason) or stops
(`trading-floor run --strict-llm`). Going on, `open_circuits` opens the circuit of each endpoint that did
not answer for its `breaker_cycles` (traders/llm/breaker.py): its traders fall back at once, marked
"circuit open: ... did not answer at start", instead of each waiting out its retries; then it is tried
again. Nothing here raises.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traders.llm.breaker import endpoint_of
from traders.llm.model_factory import MissingAPIKey, resolve_api_key

OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class EndpointProblem:
    endpoint: str  # "name (url)"
    traders: tuple[str, ...]
    problem: str  # a sentence
    unreachable: bool = False  # the endpoint did not answer (a missing key is the other kind)
    skip_cycles: int = 5  # its config's `breaker_cycles`

    def sentence(self) -> str:
        who = ", ".join(self.traders)
        return f"{who} -> {self.endpoint}: {self.problem}"


def _reachable(url: str, key: str, timeout: float) -> str | None:
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=timeout)
    except httpx.TimeoutException:
        return f"no answer within {timeout:g}s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__}: {str(exc)[:100] or 'no detail'})"
    return None


def check_endpoints(config: Any, *, timeout: float = 3.0, probe: bool = True) -> list[EndpointProblem]:
    """Problems of the endpoints the config's LLM traders use (see the module docstring)."""
    users: dict[str, list[str]] = {}
    configs: dict[str, Any] = {}
    for t in config.traders:
        if t.mode != "llm":
            continue
        llm = config.llm_for(t)
        if llm is None:
            continue
        users.setdefault(llm.name, []).append(t.name)
        configs[llm.name] = llm
    problems = []
    for name, llm in configs.items():
        traders = tuple(users[name])
        try:
            key = resolve_api_key(llm)
        except MissingAPIKey:
            problems.append(EndpointProblem(endpoint_of(llm), traders,
                                            f"no API key: ${llm.api_key_env} is not set" if llm.api_key_env
                                            else "no API key configured (api_key_env) for a remote endpoint"))
            continue
        if probe:
            trouble = _reachable(llm.base_url or OPENAI_URL, key, timeout)
            if trouble:
                problems.append(EndpointProblem(endpoint_of(llm), traders, trouble, unreachable=True,
                                                skip_cycles=int(getattr(llm, "breaker_cycles", 5))))
    return problems


def open_circuits(breaker: Any, problems: list[EndpointProblem], cycle: int) -> None:
    """Skip the endpoints that did not answer at start for their `breaker_cycles`, from `cycle` + 1 on."""
    for p in problems:
        if p.unreachable:
            breaker.trip(p.endpoint, cycle + p.skip_cycles, f"did not answer at start ({p.problem})")
