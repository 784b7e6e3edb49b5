"""Text vectors for an LLM trader's lessons: an OpenAI-compatible embeddings endpoint when one is configured
(`learning.embeddings_base_url`), otherwise, or when the endpoint fails, a lexical vector.

The lexical vector is a hashed bag of words (lower-cased words, each counted in one of `LEXICAL_DIM`
buckets chosen by CRC-32, scaled to unit length). It only measures shared words, not meaning, and it is
labelled `lexical` wherever it is used (the lesson rows, the trace, `trading-floor memory --lessons`).
Vectors of different embedders are never compared with each other.

The endpoint is called through the `openai` client (no retries of its own) with one retry here; an HTTP
error, a timeout or an answer that is not a list of equal-length finite vectors, one per text, falls back
to lexical vectors with a `warning` saying why.
"""
from __future__ import annotations

import math
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

LEXICAL = "lexical"
LEXICAL_DIM = 256
_WORD = re.compile(r"[a-z0-9][a-z0-9_.%+-]*")


def lexical_vector(text: str, dim: int = LEXICAL_DIM) -> list[float]:
    """A hashed bag of words of `text`, unit length (all zeros for a text without words)."""
    v = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        v[zlib.crc32(word.rstrip(".%+-").encode()) % dim] += 1.0
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v] if norm else v


@dataclass(frozen=True)
class Embedded:
    vectors: list[list[float]]
    embedder: str              # "lexical" or "openai:<model>"
    warning: str | None = None  # why the endpoint was not used, when it was configured


class TextEmbedder:
    def __init__(self, base_url: str | None = None, model: str = "text-embedding-3-small", *,
                 api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 10.0, retries: int = 1) -> None:
        self.base_url, self.model = base_url, model
        self.api_key_env, self.timeout_s, self.retries = api_key_env, timeout_s, retries

    @property
    def label(self) -> str:
        return f"openai:{self.model}" if self.base_url else LEXICAL

    def embed(self, texts: Sequence[str]) -> Embedded:
        texts = [str(t) for t in texts]
        if not self.base_url:
            return Embedded([lexical_vector(t) for t in texts], LEXICAL)
        problem = "no attempt"
        for _ in range(self.retries + 1):
            try:
                return Embedded(self._call(texts), self.label)
            except Exception as exc:  # noqa: BLE001 - any failure falls back, visibly
                problem = f"{type(exc).__name__}: {str(exc)[:160]}"
        return Embedded([lexical_vector(t) for t in texts], LEXICAL,
                        warning=f"embeddings endpoint {self.base_url} failed ({problem}); lexical vectors used")

    def _call(self, texts: list[str]) -> list[list[float]]:
        from openai import OpenAI

        client = OpenAI(base_url=self.base_url, api_key=os.environ.get(self.api_key_env) or "not-needed",
                        max_retries=0, timeout=self.timeout_s)
        resp = client.embeddings.create(model=self.model, input=texts)
        data = getattr(resp, "data", None)
        if not isinstance(data, list) or len(data) != len(texts):
            raise ValueError(f"the answer is not {len(texts)} embeddings: {str(resp)[:80]!r}")
        vectors = [list(map(float, d.embedding)) for d in sorted(data, key=lambda d: d.index)]
        dims = {len(v) for v in vectors}
        if len(dims) != 1 or 0 in dims or not all(math.isfinite(x) for v in vectors for x in v):
            raise ValueError("the embeddings are empty, of unequal length or not finite")
        return vectors


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    if not na or not nb or len(a) != len(b):
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)
