"""The discussion node's actor: topic choice, the group chat (rule mode) and sentiment scoring."""
from traders.chat.group_chat import (
    ChatTranscript,
    SentimentAggregate,
    Turn,
    aggregate,
    parse_mentions,
    rule_compose,
    run_group_chat,
    view_with_chat,
    with_chat,
)
from traders.chat.sentiment_lexicon import is_instruction_like
from traders.chat.sentiment_lexicon import score as sentiment_score
from traders.chat.topic import Topic, choose_topic

__all__ = [
    "ChatTranscript",
    "SentimentAggregate",
    "Topic",
    "Turn",
    "aggregate",
    "choose_topic",
    "is_instruction_like",
    "parse_mentions",
    "rule_compose",
    "run_group_chat",
    "sentiment_score",
    "view_with_chat",
    "with_chat",
]
