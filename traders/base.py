"""The Theory base class, the helpers theories share, and the rule-mode decision.

Adding a trader is either
- one config entry that reuses a registered theory with other parameters, or
- one new class: subclass `Theory`, give it a `name`, a `description`, a `Params` model and `decide`,
  and decorate it with `@register` (traders/registry.py). Put the module in `BUILTIN_MODULES` (or
  import it yourself before loading the config) so the registry knows it.

A theory is stateless: everything it knows comes from the `TraderView` and the `TraderConfig`, so the
same inputs always give the same Decision (no randomness, no clock).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from traders.decision import Action, Decision, ProposedOrder
from traders.registry import get_theory
from traders.tracing import traced
from traders.trader_config import TraderConfig

if TYPE_CHECKING:
    from traders.snapshot import TraderView


class TheoryParams(BaseModel):
    """Base of every theory's parameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_PARAMS: dict[tuple[int, type], tuple[TraderConfig, TheoryParams]] = {}
_PARAMS_SIZE = 1024


class Theory:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[TheoryParams]] = TheoryParams
    # False when `decide` never looks at the view's chat fields (chat_messages, chat_sentiment*): the
    # decision taken on the view before the discussion then stands after it and is not computed again.
    reads_chat: ClassVar[bool] = True

    def params(self, cfg: TraderConfig) -> Any:
        """`cfg.params` validated by this theory's `Params`. A TraderConfig is frozen, so the model validated
        once per config object serves every later cycle (a bounded memo keyed on the object itself)."""
        key = (id(cfg), self.Params)
        hit = _PARAMS.get(key)
        if hit is not None and hit[0] is cfg:
            return hit[1]
        p = self.Params.model_validate(cfg.params)
        if len(_PARAMS) >= _PARAMS_SIZE:  # learned configs (traders/memory/) are new objects every cycle
            _PARAMS.clear()
        _PARAMS[key] = (cfg, p)  # holding cfg keeps its id from being reused while the entry lives
        return p

    def decide(self, view: TraderView, cfg: TraderConfig) -> Decision:  # pragma: no cover - abstract
        raise NotImplementedError

    # Helpers shared by the theories -------------------------------------------------------------

    @staticmethod
    def hold(view: TraderView, cfg: TraderConfig, rationale: str, signals: dict[str, float]) -> Decision:
        return Decision(trader=cfg.name, cycle=view.cycle, rationale=rationale, signals=signals)

    @staticmethod
    def decision(
        view: TraderView,
        cfg: TraderConfig,
        orders: list[ProposedOrder],
        rationale: str,
        signals: dict[str, float],
    ) -> Decision:
        actions = {o.symbol: Action.BUY if o.side == "buy" else Action.SELL for o in orders}
        return Decision(
            trader=cfg.name,
            cycle=view.cycle,
            actions=actions,
            orders=tuple(orders),
            rationale=rationale,
            signals=signals,
        )


@traced("rule decision", inputs=lambda view, cfg: {"trader": cfg.name, "theory": cfg.theory, "cycle": view.cycle,
                                                  "params": dict(cfg.params)},
        outputs=lambda d: d.model_dump(mode="json"),
        metadata=lambda view, cfg: {"trader": cfg.name, "theory": cfg.theory})
def rule_decision(view: TraderView, cfg: TraderConfig) -> Decision:
    """The deterministic rule-mode decision of the trader configured by `cfg` (a LangSmith run "rule
    decision" when tracing is on: traders/tracing.py)."""
    return get_theory(cfg.theory).decide(view, cfg)


def rule_decision_after_chat(view: TraderView, cfg: TraderConfig, before_chat: Decision | None) -> Decision:
    """The rule decision on the view with this cycle's chat, given the one taken before the discussion
    (None if there was none): a theory that does not read the chat would only compute it again."""
    if before_chat is not None and not get_theory(cfg.theory).reads_chat:
        return before_chat
    return rule_decision(view, cfg)


# Pricing and wording helpers shared by the theories ------------------------------------------------


def usd(cents: float) -> str:
    """Cents as a dollar amount for rationales: 12005 -> '120.05'."""
    return f"{cents / 100:,.2f}"


def pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def marketable_price(view: TraderView, symbol: str, side: str, max_relative_spread: float) -> int | None:
    """A limit price that trades now if the book allows, kept inside the trader's price collar.

    Buy at the ask (sell at the bid), but never further from mid than `max_relative_spread`; with one
    side of the book empty, price at the collar edge from the mid. None when there is no price at all.
    """
    quote = view.market.quotes.get(symbol)
    spec = view.market.instruments.get(symbol)
    if quote is None or spec is None or quote.mid is None:
        return None
    mid = quote.mid
    if side == "buy":
        bound = spec.round_to_tick(mid * (1 + max_relative_spread), "down")
        px = quote.ask if quote.ask is not None else bound
        return max(spec.tick_size, min(px, bound))
    bound = spec.round_to_tick(mid * (1 - max_relative_spread), "up")
    px = quote.bid if quote.bid is not None else bound
    return max(px, bound)
