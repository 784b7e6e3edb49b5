"""`post_message` for real: the messages an LLM trader staged during its decision join the floor's chat.

They are added to the cycle's chat transcript, which the settle node records in the ledger's `messages`
table with the rest of the cycle's chat. Choices:

- they form one extra round, numbered after the discussion's rounds (`round = chat.rounds`), because they
  were written after the discussion, while deciding; they are scored by the same lexicon and their
  mentions and tickers are read the same way;
- they do not change this cycle's sentiment aggregate: every trader has already decided on it. Later
  cycles read them from the ledger (the `cycle_chat` tool with an earlier cycle);
- traders decide in parallel threads, so the posts are kept in a fixed order (the traders' config order,
  then each trader's own order), whatever order the threads finished in: the same seed records the same
  rows;
- a decision that fell back posts nothing (its loop failed; what it staged is discarded).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from traders.chat.group_chat import parse_mentions, symbols_in
from traders.chat.sentiment_lexicon import score
from traders.snapshot import ChatMessage


def with_posts(transcript: Any, sender: str, texts: Sequence[str], *, cycle: int, round_no: int,
               traders: Sequence[str], symbols: Sequence[str], mentions: bool = True) -> Any:
    """`transcript` (a ChatTranscript) with `sender`'s posts added as round `round_no`, in a fixed order."""
    if not texts:
        return transcript
    topic = transcript.topic.headline if transcript.topic is not None else ""
    new = [ChatMessage(cycle=cycle, round=round_no, sender=sender, text=text, sentiment=score(text), topic=topic,
                       recipients=parse_mentions(text, list(traders), sender) if mentions else (),
                       symbols=symbols_in(text, list(symbols)))
           for text in texts]
    earlier = [m for m in transcript.messages if m.round < round_no]
    posts = [m for m in transcript.messages if m.round >= round_no] + new
    rank = {name: i for i, name in enumerate(traders)}
    posts.sort(key=lambda m: (m.round, rank.get(m.sender, len(rank))))  # stable: a trader's own order stays
    return transcript.model_copy(update={"messages": (*earlier, *posts)})
