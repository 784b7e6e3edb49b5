"""What a scenario file says: a timeline of market events by cycle, validated like the floor config.

Frozen pydantic models that refuse unknown keys. An event happens either `at` a cycle (at its first
tick, before the background market acts) or `when` a price condition first holds (checked after every
tick, applied at the next tick). Sizes are integers: shares, cycles, basis points of a spread.

Kinds (the `kind` key):
- `news`: the fundamental value of one symbol, or of every stock when `symbol` is omitted, jumps by
  `move_pct` percent; the makers and value traders re-price toward it over the next ticks;
- `drought`: for `cycles` cycles the market makers quote `widen` times wider and `withdraw` of them pull
  their quotes out of the market;
- `flash_crash`: an aggressive seller sends market sell orders for `qty` shares of `symbol`, split
  evenly over `ticks` ticks;
- `halt`: trading in `symbol` stops for `cycles` cycles: new orders and modifies are refused with the
  reason `trading_halted`; cancels are accepted. The book reopens by the stated rule: continuous trading
  resumes at the first tick of the resume cycle, with the orders that rested through the halt;
- `rumour`: a message for the group chat, `text` attributed to `source`; no effect on the books;
- `fee_change`: from cycle `at` on, the floor's ledger charges `fee_bps` per side (0 to 1000); no effect on
  the books (the floor applies it before the cycle's first tick: floor/scenario_fees.py).
A market-wide circuit breaker (`breaker`) halts every symbol for `halt_cycles` cycles when the equally
weighted index of the stocks' last prices has fallen `levels_pct[i]` percent from its level when the
scenario started; each level trips once, in order.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from market.frozen_model import FrozenModel

MAX_CYCLE = 10**9
MAX_QTY = 10**9
MAX_FEE_BPS = 1000  # a fee change's cap, as the floor config's `fee_bps` (10 % per side)


class PriceCondition(FrozenModel):
    """Holds when `symbol`'s last price is `falls_pct` below (or `rises_pct` above) its price when the
    scenario started (the scenario's open)."""

    symbol: str = Field(min_length=1)
    falls_pct: float | None = Field(None, gt=0, lt=100)
    rises_pct: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> PriceCondition:
        if (self.falls_pct is None) == (self.rises_pct is None):
            raise ValueError("a condition needs exactly one of falls_pct or rises_pct")
        return self

    def describe(self) -> str:
        if self.falls_pct is not None:
            return f"when {self.symbol} falls {self.falls_pct:g}% from its open"
        return f"when {self.symbol} rises {self.rises_pct:g}% from its open"


class _Event(FrozenModel):
    at: int | None = Field(None, ge=1, le=MAX_CYCLE)  # the cycle it happens in (at its first tick)
    when: PriceCondition | None = None  # or: the first tick this condition holds (then `at` is the earliest cycle)
    headline: str | None = Field(None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _timed(self):
        if self.at is None and self.when is None:
            raise ValueError("an event needs `at` (a cycle) or `when` (a price condition)")
        return self

    def timing(self) -> str:
        if self.when is None:
            return f"cycle {self.at}"
        return self.when.describe() + (f" (from cycle {self.at})" if self.at is not None else "")


class NewsShock(_Event):
    kind: Literal["news"]
    symbol: str | None = None  # None: every stock (the ETF follows its basket)
    move_pct: float = Field(gt=-90, le=1000)

    def default_headline(self) -> str:
        what = self.symbol or "the market"
        return f"News: {what} fundamentals {'up' if self.move_pct >= 0 else 'down'} {abs(self.move_pct):g}%"


class Drought(_Event):
    kind: Literal["drought"]
    cycles: int = Field(ge=1, le=MAX_CYCLE)
    widen: float = Field(1.0, ge=1.0, le=1000.0)  # the makers' spread and level spacing multiplier
    withdraw: int = Field(0, ge=0)  # how many makers pull out (capped at the makers there are)

    def default_headline(self) -> str:
        return f"Liquidity drought: market makers widen {self.widen:g}x and {self.withdraw} withdraw for {self.cycles} cycles"


class FlashCrash(_Event):
    kind: Literal["flash_crash"]
    symbol: str = Field(min_length=1)
    qty: int = Field(gt=0, le=MAX_QTY)  # shares sold in all
    ticks: int = Field(1, ge=1, le=10_000)  # spread over this many ticks

    def default_headline(self) -> str:
        return f"Flash crash: an aggressive seller dumps {self.qty:,} {self.symbol}"


class Halt(_Event):
    kind: Literal["halt"]
    symbol: str = Field(min_length=1)
    cycles: int = Field(ge=1, le=MAX_CYCLE)
    reason: str = Field("news pending", min_length=1, max_length=200)

    def default_headline(self) -> str:
        return f"Trading in {self.symbol} halted for {self.cycles} cycles: {self.reason}"


class Rumour(_Event):
    kind: Literal["rumour"]
    text: str = Field(min_length=1, max_length=500)
    source: str = Field(min_length=1, max_length=100)
    symbol: str | None = None
    tone: float | None = Field(None, ge=-1.0, le=1.0)  # how bullish the floor reads it (None: the chat lexicon decides)

    def default_headline(self) -> str:
        return f"Rumour ({self.source}): {self.text}"


class FeeChange(_Event):
    kind: Literal["fee_change"]
    fee_bps: int = Field(ge=0, le=MAX_FEE_BPS, strict=True)  # per side, on each fill's notional, from cycle `at` on

    @model_validator(mode="after")
    def _at_a_cycle(self) -> FeeChange:
        if self.when is not None or self.at is None:
            raise ValueError("a fee change happens at a cycle: give `at`, not `when` (the ledger charges one fee "
                             "per cycle)")
        return self

    def default_headline(self) -> str:
        return f"Fee change: the exchange now charges {self.fee_bps} bps per side"


ScenarioEvent = Annotated[NewsShock | Drought | FlashCrash | Halt | Rumour | FeeChange, Field(discriminator="kind")]
EVENT_KINDS = ("news", "drought", "flash_crash", "halt", "rumour", "fee_change")


class CircuitBreaker(FrozenModel):
    levels_pct: tuple[float, ...] = Field(min_length=1)  # drawdowns of the index that trip it, ascending
    halt_cycles: int = Field(1, ge=1, le=MAX_CYCLE)

    @model_validator(mode="after")
    def _ascending(self) -> CircuitBreaker:
        levels = self.levels_pct
        if any(not 0 < x < 100 for x in levels):
            raise ValueError("breaker levels_pct must lie strictly between 0 and 100")
        if any(b <= a for a, b in zip(levels, levels[1:], strict=False)):
            raise ValueError("breaker levels_pct must be strictly ascending")
        return self


Range = tuple[int, int]


class Endowment(FrozenModel):
    """Opening deposits: a fixed value or an inclusive [min, max] range drawn with the run's seed.
    `cash` is in cents; `shares` is one amount for every symbol or a {symbol: amount} map."""

    cash: int | Range | None = None
    shares: int | Range | dict[str, int | Range] | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Endowment:
        def check(what: str, v) -> None:
            lo, hi = (v, v) if isinstance(v, int) else v
            if lo < 0 or hi < lo:
                raise ValueError(f"{what}: a size must be >= 0 and a range [min, max] with min <= max, got {v!r}")
        if self.cash is not None:
            check("cash", self.cash)
        if isinstance(self.shares, dict):
            for sym, v in self.shares.items():
                check(f"shares of {sym}", v)
        elif self.shares is not None:
            check("shares", self.shares)
        return self


class Endowments(FrozenModel):
    default: Endowment = Field(default_factory=Endowment)  # every trader
    traders: dict[str, Endowment] = Field(default_factory=dict)  # per trader, overriding the default


class Scenario(FrozenModel):
    name: str = Field("scenario", min_length=1, max_length=100)
    description: str = ""
    breaker: CircuitBreaker | None = None
    events: tuple[ScenarioEvent, ...] = ()
    endowments: Endowments | None = None

    @model_validator(mode="after")
    def _no_overlapping_halts(self) -> Scenario:
        spans: dict[str, list[tuple[int, int]]] = {}
        for e in self.events:
            if isinstance(e, Halt) and e.when is None:
                spans.setdefault(e.symbol, []).append((e.at, e.at + e.cycles))
        for sym, s in spans.items():
            s.sort()
            for (a0, a1), (b0, _) in zip(s, s[1:], strict=False):
                if b0 < a1:
                    raise ValueError(f"halts of {sym} overlap: the one from cycle {a0} lasts until cycle {a1}, "
                                     f"another starts at cycle {b0}")
        return self

    @model_validator(mode="after")
    def _one_fee_per_cycle(self) -> Scenario:
        seen: set[int] = set()
        for e in self.events:
            if isinstance(e, FeeChange):
                if e.at in seen:
                    raise ValueError(f"two fee changes at cycle {e.at}: give one fee per cycle")
                seen.add(e.at)
        return self

    def fee_change_at(self, cycle: int) -> FeeChange | None:
        """The fee change timed for `cycle`, if any."""
        return next((e for e in self.events if isinstance(e, FeeChange) and e.at == cycle), None)

    @property
    def empty(self) -> bool:
        return not self.events and self.breaker is None

    def check_against(self, symbols, start_cycle: int) -> None:
        """Refuse what only the run can tell: unknown symbols, cycles already past (<= `start_cycle`)."""
        known = set(symbols)
        for i, e in enumerate(self.events, 1):
            for sym in (getattr(e, "symbol", None), e.when.symbol if e.when else None):
                if sym is not None and sym not in known:
                    raise ValueError(f"event {i} ({e.kind}): unknown symbol {sym!r} (known: {', '.join(sorted(known))})")
            if e.at is not None and e.at <= start_cycle and e.when is None:
                raise ValueError(f"event {i} ({e.kind}) is at cycle {e.at}, which is in the past: "
                                 f"the scenario starts after cycle {start_cycle}")
