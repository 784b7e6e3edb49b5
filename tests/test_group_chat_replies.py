"""run_group_chat looks up whom a speaker answers; it holds the very discussion the former search held."""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from floor.config import ChatSettings, load_config
from market.instruments import DEFAULT_UNIVERSE
from traders.base import rule_decision
from traders.chat.group_chat import (
    ChatTranscript,
    Turn,
    _stance,
    _truncate,
    aggregate,
    parse_mentions,
    rule_compose,
    run_group_chat,
    symbols_in,
)
from traders.chat.sentiment_lexicon import score
from traders.chat.topic import Topic, choose_topic
from traders.decision import Decision
from traders.snapshot import ChatMessage, Position, TraderView, synthetic_snapshot
from traders.trader_config import TraderConfig

TRADERS = load_config().traders
BASE = {i.symbol: float(i.initial_price) for i in DEFAULT_UNIVERSE}


def former_run_group_chat(
    views: Mapping[str, TraderView],
    configs: Sequence[TraderConfig],
    settings: ChatSettings,
    topic: Topic,
    rng: random.Random | None = None,
    compose: Callable[[Turn], str] | None = None,
    compose_round: Callable[[list[Turn]], list[str]] | None = None,
    decisions: Mapping[str, Decision] | None = None,
) -> ChatTranscript:
    """Hold one cycle's discussion among the traders in `configs` that have a view in `views`.

    Within a round, speakers answer only the previous round, so a round's turns are independent:
    `compose_round` may write them all at once (e.g. LLM traders in parallel); by default each turn is
    written with `compose`. Speakers argue from their rule decisions on `views`; pass them as `decisions`
    when the caller has them already."""
    speakers = [c for c in configs if c.name in views]
    cycle = next(iter(views.values())).cycle if views else 0
    if not settings.enabled or settings.rounds == 0 or not speakers:
        return ChatTranscript(cycle=cycle, topic=topic)
    compose = compose or (lambda turn: rule_compose(turn, settings.max_message_chars))
    compose_round = compose_round or (lambda turns: [compose(t) for t in turns])
    names = [c.name for c in speakers]
    universe = next(iter(views.values())).market.symbols
    decisions = {c.name: decisions[c.name] if decisions and c.name in decisions else rule_decision(views[c.name], c)
                 for c in speakers}
    stances = {n: _stance(d, topic) for n, d in decisions.items()}
    messages: list[ChatMessage] = []
    previous: list[tuple[ChatMessage, tuple[str, ...]]] = []  # last round's messages and who they address

    for rnd in range(settings.rounds):
        order = list(speakers)
        if rng is not None:
            rng.shuffle(order)
        turns: list[Turn] = []
        for cfg in order:
            reply_to = None
            if rnd == 1:  # open the debate: answer someone who took the opposite side of my symbol
                mine = stances[cfg.name]
                reply_to = next((m for m, _ in previous if mine[0] * stances[m.sender][0] < 0
                                 and stances[m.sender][1] == mine[1]), None)
            elif rnd > 1:  # continue it: answer whoever addressed me
                reply_to = next((m for m, addressed in previous if cfg.name in addressed), None)
            if rnd > 0 and reply_to is None:
                continue
            stance, symbol = stances[cfg.name]
            turns.append(Turn(cfg, views[cfg.name], topic, rnd, decisions[cfg.name], stance, symbol, reply_to))
        current: list[tuple[ChatMessage, tuple[str, ...]]] = []
        for turn, raw in zip(turns, compose_round(turns) if turns else [], strict=True):
            text = _truncate(raw, settings.max_message_chars)
            addressed = parse_mentions(text, names, turn.cfg.name)
            if settings.routing == "broadcast":
                text = text.replace("@", "")
            current.append((ChatMessage(
                cycle=cycle, round=rnd, sender=turn.cfg.name,
                recipients=addressed if settings.routing == "mention" else (), text=text,
                sentiment=score(text), topic=topic.headline, symbols=symbols_in(text, universe),
            ), addressed))
        if not current:
            break
        messages += [m for m, _ in current]
        previous = current
    msgs = tuple(messages)
    return ChatTranscript(cycle=cycle, topic=topic, messages=msgs, sentiment=aggregate(msgs, universe))


@st.composite
def floors(draw):
    n = 40
    hist = {}
    for sym, base in BASE.items():
        if sym == "FLOR":
            continue
        drift = draw(st.floats(-0.004, 0.004))
        path = [base * (1 + drift) ** k for k in range(n)]
        path[-1] *= 1 + draw(st.floats(-0.05, 0.05))
        hist[sym] = path
    hist["FLOR"] = [sum(hist[s][k] for s in hist) / 10 for k in range(n)]
    snap = synthetic_snapshot(hist)
    held = draw(st.dictionaries(st.sampled_from([t.name for t in TRADERS]),
                                st.dictionaries(st.sampled_from(sorted(BASE)), st.integers(1, 300), max_size=3),
                                max_size=4))
    views = {
        t.name: TraderView(
            trader=t.name, market=snap, cash=10_000_000, available_cash=10_000_000, initial_cash=10_000_000,
            positions={s: Position(qty=q, avg_cost=BASE[s] * 0.97) for s, q in held.get(t.name, {}).items()},
        )
        for t in TRADERS
    }
    return views


@settings(max_examples=60, deadline=None)
@given(floors(), st.integers(1, 6), st.sampled_from(["mention", "broadcast"]), st.integers(0, 10**6) | st.none())
def test_same_discussion_as_the_former_search(views, rounds, routing, seed):
    settings_ = ChatSettings(rounds=rounds, routing=routing)
    topic = choose_topic(next(iter(views.values())).market)
    got = run_group_chat(views, TRADERS, settings_, topic, rng=None if seed is None else random.Random(seed))
    want = former_run_group_chat(views, TRADERS, settings_, topic,
                                 rng=None if seed is None else random.Random(seed))
    assert got == want
