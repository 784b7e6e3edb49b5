"""A scenario's rumours as messages in the group chat: injected, from the `newswire`, with their source.

A rumour event (market/scenarios, kind `rumour`) reaches the floor twice: as a headline (the traders'
views, the discussion's topic) and as a chat message of its cycle, so the chat's sentiment carries it as
the floor would hear it. The message is placed before the traders' own (round 0) and is plainly marked:
its sender is `NEWSWIRE`, not a trader, and its text begins "[injected rumour, source: ...]".

It is data like any message: its sentiment is the rumour's `tone` (the lexicon's score when the file
gives none) and it counts once for each symbol it names in the chat's per-symbol means; a rumour that
reads like an instruction scores 0 and is left out of the averages (`group_chat.aggregate`). LLM prompts
quote it between the chat delimiters, and the ledger stores it with the cycle's other messages. The
sentiment trader thus hears a rumour twice, as news (`news_weight`) and as chat (`chat_weight`): the
floor amplifying it is what the rumour scenario studies.
"""
from __future__ import annotations

from collections.abc import Sequence

from traders.chat.group_chat import NEWSWIRE, ChatTranscript, aggregate, symbols_in
from traders.chat.sentiment_lexicon import is_instruction_like, score
from traders.snapshot import ChatMessage

PREFIX = "[injected rumour, source: {source}] "


def rumour_messages(headlines: Sequence, cycle: int, universe: Sequence[str], topic: str = "",
                    max_chars: int = 500) -> tuple[ChatMessage, ...]:
    """One chat message per rumour headline of the cycle (other headlines are not chat)."""
    out = []
    for h in headlines:
        if h.kind != "rumour":
            continue
        source = h.source or "unknown"
        text = PREFIX.format(source=source) + h.headline.removeprefix(f"Rumour ({source}): ")
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        named = symbols_in(text, universe)
        if h.symbol and h.symbol not in named and h.symbol in universe:
            named = (h.symbol, *named)
        tone = h.tone if h.tone is not None else score(text)
        sentiment = 0.0 if is_instruction_like(text) else tone  # an instruction-like rumour moves nothing
        out.append(ChatMessage(cycle=cycle, round=0, sender=NEWSWIRE, text=text, sentiment=sentiment,
                               topic=topic, symbols=named))
    return tuple(out)


def with_rumours(transcript: ChatTranscript, headlines: Sequence, universe: Sequence[str]) -> ChatTranscript:
    """The transcript with the cycle's rumours first; the same transcript when there is none."""
    injected = rumour_messages(headlines, transcript.cycle, universe, transcript.topic.headline)
    if not injected:
        return transcript
    msgs = injected + transcript.messages
    return transcript.model_copy(update={"messages": msgs, "sentiment": aggregate(msgs, universe)})
