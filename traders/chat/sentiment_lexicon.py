"""A small, documented trading-floor sentiment lexicon scorer (rule mode). Score in [-1, 1].

How a text is scored (a simplified VADER-style scheme, written for this project):
1. Lower-case, split into word tokens (letters, digits, apostrophes); "@name" mentions and tickers in
   capitals are ordinary tokens and carry no sentiment.
2. Each token found in `LEXICON` contributes its valence (from -3 to +3; e.g. "bullish" +2.5,
   "crash" -3, "buy" +1.5, "sell" -1.5).
3. An intensifier right before (up to two tokens back) multiplies it by its factor ("very", "strongly"
   1.5; "slightly", "somewhat" 0.5).
4. A negation among the three previous tokens ("not", "no", "never", "don't", "isn't", ...) flips and
   damps it: valence * -0.75 ("not bullish" is mildly bearish, not strongly).
5. The sum S is squashed to [-1, 1] with S / sqrt(S^2 + ALPHA), ALPHA = 8, so one strong word gives
   about +-0.66 and agreement between several words approaches +-1. No word from the lexicon gives 0.

Unknown words are neutral; the score is bounded, so no text, however it is phrased, can push a
trader's sentiment input outside [-1, 1].

Chat is data, never instructions. A message that reads like an instruction to a model or to the risk
system rather than a trader's opinion (`is_instruction_like`: a role marker such as "SYSTEM:" or
"[INST]", "ignore previous instructions", "risk limits are disabled", "you must buy ...", an order of a
million shares) scores 0 as a whole, whatever sentiment words it also carries, and the group chat leaves
it out of the floor's sentiment averages (`traders.chat.group_chat.aggregate`): posting one changes no
score. The patterns are deliberately narrow, so that a trader's ordinary opinion ("I'm bullish on NVDA,
buying 20 shares") is never mistaken for one; they are listed in `INSTRUCTION_PATTERNS`.
"""
from __future__ import annotations

import functools
import math
import re
from itertools import compress, count

ALPHA = 8.0
NEGATION_SCALE = -0.75
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2

LEXICON: dict[str, float] = {
    # bullish
    "bullish": 2.5, "bull": 2.0, "rally": 2.0, "rallying": 2.0, "soar": 2.5, "soaring": 2.5, "surge": 2.0,
    "surging": 2.0, "jump": 1.5, "jumped": 1.5, "gain": 1.5, "gains": 1.5, "gained": 1.5, "up": 0.5,
    "rise": 1.5, "rising": 1.5, "rose": 1.5, "climb": 1.5, "climbing": 1.5, "strong": 1.5, "strength": 1.5,
    "buy": 1.5, "buying": 1.5, "long": 1.0, "accumulate": 1.5, "breakout": 2.0, "uptrend": 2.0,
    "cheap": 1.5, "undervalued": 2.0, "bargain": 2.0, "opportunity": 1.5, "profit": 1.5, "profits": 1.5,
    "profitable": 1.5, "winning": 1.5, "win": 1.5, "good": 1.0, "great": 2.0, "excellent": 2.5,
    "optimistic": 2.0, "confident": 1.5, "positive": 1.5, "upside": 1.5, "recover": 1.0, "rebound": 1.5,
    "outperform": 2.0, "outperforming": 2.0,
    # bearish
    "bearish": -2.5, "bear": -2.0, "crash": -3.0, "crashing": -3.0, "plunge": -2.5, "plunging": -2.5,
    "collapse": -3.0, "tumble": -2.0, "slump": -2.0, "drop": -1.5, "dropped": -1.5, "dropping": -1.5,
    "fall": -1.5, "falling": -1.5, "fell": -1.5, "down": -0.5, "decline": -1.5, "declining": -1.5,
    "weak": -1.5, "weakness": -1.5, "sell": -1.5, "selling": -1.5, "dump": -2.0, "dumping": -2.0,
    "short": -1.0, "downtrend": -2.0, "breakdown": -2.0, "expensive": -1.5, "overvalued": -2.0,
    "rich": -1.0, "loss": -1.5, "losses": -1.5, "losing": -1.5, "bad": -1.0, "terrible": -2.5,
    "fear": -2.0, "panic": -2.5, "worried": -1.5, "risky": -1.0, "pessimistic": -2.0, "negative": -1.5,
    "downside": -1.5, "underperform": -2.0, "underperforming": -2.0, "stop-loss": -1.5, "stopped": -1.0,
}

INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "strongly": 1.5, "extremely": 1.8, "really": 1.3, "hugely": 1.6, "massively": 1.6,
    "super": 1.5, "slightly": 0.5, "somewhat": 0.5, "mildly": 0.5, "a_bit": 0.5, "barely": 0.4,
}

NEGATIONS = frozenset({
    "not", "no", "never", "none", "nothing", "neither", "nor", "without", "hardly",
    "don't", "doesn't", "isn't", "aren't", "wasn't", "won't", "can't", "cannot", "didn't", "shouldn't",
})

_TOKEN = re.compile(r"[a-z0-9@][a-z0-9'_\-]*")

# What an instruction to a model or to the risk system looks like, as opposed to a trader's opinion.
# Matched case-insensitively anywhere in a message; any match makes the whole message instruction-like.
INSTRUCTION_PATTERNS: tuple[str, ...] = (
    # a role marker opening the text, a line or a sentence ("SYSTEM:", "[assistant]") or a chat-template
    # token ("[INST]", "<|im_start|>", "<<SYS>>"); "my system: buy dips" is an opinion
    r"(?:^|[\n.!?;\[(<{\"'`*#>|-])\s*(?:system|assistant|developer|admin(?:istrator)?|operator|root)\s*(?:prompt|message|note|override)?\s*[:>\]]",
    r"\[/?inst\]|<\|?im_(?:start|end)\|?>|<</?sys>>|<\|(?:system|user|assistant)\|>",
    # attempts to replace the model's instructions
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:\w+\s+){0,3}(?:instructions?|prompts?|rules|limits?|guidelines?|directives?)\b",
    r"\bnew (?:instructions?|rules|orders from)\b|\bjailbreak|\bdeveloper mode\b|\bprompt injection\b",
    # claims that the floor's safeguards are off
    r"\b(?:risk|position|order|cash|trading)[ -]?(?:limits?|checks?|controls?|floor|rules?)\b[^.;!?\n]{0,20}\b(?:disabled|off|lifted|removed|suspended|waived|turned off|no longer apply)\b",
    r"\b(?:disable|turn off|switch off|remove|lift|suspend)\b[^.;!?\n]{0,20}\b(?:risk|limits?|checks?|safeguards?)\b",
    # commands addressed to the reader: "you must buy", "all traders should now sell"
    r"\b(?:you|all traders|every trader|everyone|traders)\s+(?:must|are (?:required|instructed|ordered) to|have to|shall)\s+(?:now\s+|immediately\s+)?(?:buy|sell|ignore|disregard|override|place|submit|send|transfer|dump)\b",
    # an order far beyond any trader's size: "buy 1000000 NVDA", "sell 1,000,000 shares"
    r"\b(?:buy|sell|purchase|short|dump)\s+(?:\d{1,3}(?:,\d{3}){2,}|\d{6,})\b",
)
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in INSTRUCTION_PATTERNS), re.IGNORECASE)


# A word every instruction pattern needs (lower case), and the long numbers of the last pattern: a text
# with none of them cannot match, and most floor messages are rejected by this look alone (about 5x
# cheaper than the combined pattern, which ran on every chat message: ~5% of a rule cycle).
_TRIGGERS: tuple[str, ...] = (
    "system", "assistant", "developer", "admin", "operator", "root", "inst]", "im_", "sys>>", "<|",
    "ignore", "disregard", "forget", "override", "bypass", "new ", "jailbreak", "prompt injection",
    "disable", "off", "lift", "remove", "suspend", "waived", "no longer apply",
    "must", "are required", "are instructed", "are ordered", "have to", "shall",
)
# \d{6}|\d,\d{3},\d{3}, with the leading digit factored out: the same texts match, and the engine tries
# the rest only where a digit is (about 3x faster on the floor's messages)
_LONG_NUMBER = re.compile(r"\d(?:\d{5}|,\d{3},\d{3})")
# The non-ASCII letters that re.IGNORECASE matches to ASCII letters (İ ı ſ K): with one of them in a
# text, str.lower() does not tell what the pattern sees, so such a text goes to the pattern directly.
_FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")


# The floor's messages repeat (a stance, a holding line, a clause naming a symbol), and a cycle scores each
# message and then each of its clauses: the two pure functions below keep their answers for recent texts.
# A bounded cache (MEMO_SIZE texts of at most a few hundred characters each) returns what the call would.
MEMO_SIZE = 4096


@functools.lru_cache(maxsize=MEMO_SIZE)
def is_instruction_like(text: str) -> bool:
    """True when `text` reads like an instruction to a model or to the risk system (module docstring)."""
    if plainly_not_instruction(text):  # the floor's own messages: ASCII, no trigger word, no long number
        return False
    # str.isascii() reads a flag of the string, where isdisjoint() looks at every character; an ASCII text
    # that got here has a trigger word or a long number
    plain = not text.isascii() and _FOLDS_TO_ASCII.isdisjoint(text)
    if plain and not _has_trigger(text.lower()) and _LONG_NUMBER.search(text) is None:
        return False
    return _INSTRUCTION.search(text) is not None


@functools.lru_cache(maxsize=MEMO_SIZE)
def plainly_not_instruction(text: str) -> bool:
    """True for an ASCII text with no trigger word and no long number: it is not instruction-like, and
    neither is any part of it (a clause): lower-casing ASCII goes letter by letter, so a trigger word or a
    long number in a part would be one in the whole. `aggregate` scores such a message's clauses with
    `score_of_part`, without looking at each again."""
    return text.isascii() and not _has_trigger(text.lower()) and _LONG_NUMBER.search(text) is None


def _has_trigger(low: str) -> bool:
    # a plain loop: any() over a generator cost a third more, on every chat message
    for t in _TRIGGERS:  # noqa: SIM110
        if t in low:
            return True
    return False


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("a bit", "a_bit"))


@functools.lru_cache(maxsize=MEMO_SIZE)
def raw_score(text: str) -> float:
    """The unsquashed sum of valences (see the module docstring)."""
    toks = tokens(text)
    total = 0.0
    # the positions of the lexicon's words, in order, found without a Python step per token
    for i in compress(count(), map(LEXICON.__contains__, toks)):
        valence = LEXICON[toks[i]]
        for prev in toks[max(0, i - INTENSIFIER_WINDOW):i]:
            factor = INTENSIFIERS.get(prev)
            if factor is not None:  # a word that is no intensifier would multiply by 1.0, which changes nothing
                valence *= factor
        if not NEGATIONS.isdisjoint(toks[max(0, i - NEGATION_WINDOW):i]):  # any negation among them
            valence *= NEGATION_SCALE
        total += valence
    return total


def score(text: str) -> float:
    """Sentiment of `text` in [-1, 1]: positive is bullish, negative bearish, 0 neutral; 0 for a text
    that is instruction-like (see the module docstring)."""
    if is_instruction_like(text):
        return 0.0
    return _squash(raw_score(text))


def score_of_part(text: str) -> float:
    """`score` of a part (a clause) of a text for which `plainly_not_instruction` is True: the part is not
    instruction-like either (see there), so only its words are looked at."""
    return _squash(raw_score(text))


def _squash(s: float) -> float:
    return 0.0 if s == 0 else s / math.sqrt(s * s + ALPHA)
