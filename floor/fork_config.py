"""What a fork's config may change, and what it may not (refused with the reason).

A fork continues a run from cycle K on a branch of its own, with the config it was forked with
(`FloorSession.fork(K, config)`). From K on, the fork honours, on its branch only:
- `fee_bps`: stored per branch in the ledger (`branches.fee_bps`), used by every fill it settles;
- each trader's `risk`, `params`, `mode`, `llm` and `tools`; `chat`, `topic`, `history_lookback`,
  `approval`, `llm_configs` and `llm_budget`: read from the thread's config every cycle;
- `market` (the background market: populations, their behaviour, the fundamentals' parameters,
  `ticks_per_cycle`): the fork's books carry its settings from K on, while every random stream, the
  fundamentals' path and the agents' state go on (`BackgroundMarket.reconfigure`), so a fork with an
  unchanged config repeats the original line exactly.

What the run fixed when it started cannot change in a fork:
- the trader set (names and theories): each trader's account, positions and history continue from K,
  and the state, the chat and the analytics know traders by name; a reordering is allowed;
- a trader's `initial_cash`: accounts are funded once, when the run starts;
- `seed`: the master seed started every random stream, which the fork continues (the run's seed is the
  one in the ledger, not the config's);
- `market.seed`: the background market's streams were seeded once from the run's seed; this key is
  never read in a floor run.
The instruments are not part of the config (the run's universe is fixed when it starts).

`check_fork_config(base, new)` raises `ForkConfigError`, one sentence per refused key, before anything
is written. `base` is the config of the thread being forked. `resolve_fork_config(base, new)` first takes
the seeds from `base` when `new` does not set them explicitly (a YAML without `seed:` means "the run's
seed", not the default 7), then checks.
"""
from __future__ import annotations

from floor.config import FloorConfig


class ForkConfigError(ValueError):
    """A fork's config changes what a fork cannot change. `refused` maps each key to its reason."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = dict(refused)
        reasons = " ".join(f"{key}: {why}." for key, why in self.refused.items())
        super().__init__(f"this fork's config changes what a fork keeps from its run. {reasons} "
                         "Start a new run to change them.")


def refused_changes(base: FloorConfig, new: FloorConfig) -> dict[str, str]:
    """{key: reason} for every change from `base` to `new` that a fork cannot honour (empty: none)."""
    out: dict[str, str] = {}
    old_t = {t.name: t for t in base.traders}
    new_t = {t.name: t for t in new.traders}
    added = [n for n in new_t if n not in old_t]
    removed = [n for n in old_t if n not in new_t]
    retheoried = [f"{n} from {old_t[n].theory} to {new_t[n].theory}" for n in old_t
                  if n in new_t and new_t[n].theory != old_t[n].theory]
    if added or removed or retheoried:
        what = [f"{label} {', '.join(names)}" for label, names in
                (("adds", added), ("removes", removed), ("changes the theory of", retheoried)) if names]
        out["traders"] = (f"a fork keeps the run's traders (names and theories), whose accounts and histories "
                          f"continue from the fork cycle, but this config {'; '.join(what)}")
    for name in old_t:
        if name in new_t and new_t[name].initial_cash != old_t[name].initial_cash:
            out[f"traders.{name}.initial_cash"] = (
                f"accounts are funded once, when the run starts, and the fork continues them as they stand "
                f"({old_t[name].initial_cash} -> {new_t[name].initial_cash} cents)")
    if new.seed != base.seed:
        out["seed"] = (f"the fork continues the random streams the run's seed started "
                       f"({base.seed} -> {new.seed})")
    if new.market.seed != base.market.seed:
        out["market.seed"] = (f"the background market's streams were seeded once, from the run's seed, and "
                              f"go on across the fork ({base.market.seed} -> {new.market.seed})")
    return out


def check_fork_config(base: FloorConfig, new: FloorConfig) -> None:
    """Raise ForkConfigError naming each key `new` changes that a fork cannot change (see the module)."""
    refused = refused_changes(base, new)
    if refused:
        raise ForkConfigError(refused)


def resolve_fork_config(base: FloorConfig, new: FloorConfig) -> FloorConfig:
    """The config a fork runs with: `new`, with `seed` and `market.seed` taken from `base` where `new` leaves
    them unset (not in the YAML, the environment or the arguments it was built from); then checked with
    `check_fork_config`. An explicitly different seed is refused, never silently replaced."""
    update = {}
    if "seed" not in new.model_fields_set:
        update["seed"] = base.seed
    if "seed" not in new.market.model_fields_set:
        update["market"] = new.market.model_copy(update={"seed": base.market.seed})
    if update:
        new = type(new).model_validate(new.model_dump() | update)  # no environment re-read
    check_fork_config(base, new)
    return new
