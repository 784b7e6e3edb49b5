"""Memory for an LLM trader with `learning:` (called by the decide node; issue 19).

`llm_memory(floor, cfg, view)` returns (config to decide with, memory text for the prompt, trace note):
* the learner's choice of the tuned parameter (as in rule mode: traders/memory/cycle_hook.py), which the
  prompt's "rule computation" second opinion and the fallback decision use;
* the `prompt_memories` most similar past situations with their outcomes, as a compact table
  (traders/llm/prompts.py `memory_section`);
* every `reflect_every` cycles, a reflection: the trader's model writes one lesson from its recent outcomes
  (traders/llm/reflection.py); the lesson is recorded at settle with the cycle's other memory rows, so a
  rollback forgets it;
* the two lessons closest to the present situation, by the cosine of their text vectors: an
  OpenAI-compatible embeddings endpoint when `embeddings_base_url` is set, else (or when it fails, with a
  warning in the note) a lexical vector, labelled `lexical` (traders/llm/embeddings.py).
"""
from __future__ import annotations

from typing import Any

from ledger.memory_store import Memory, load_lessons
from traders.llm.embeddings import TextEmbedder, cosine
from traders.llm.prompts import memory_section
from traders.memory import cycle_hook

LESSONS_SHOWN = 2
RECENT_OUTCOMES = 10


def situation_words(situations: dict[str, list[float]]) -> str:
    """The present situation as words, the query a lesson is compared with: per symbol its move, its
    z-score's band and the trader's side."""
    parts = []
    for sym, (ret, z, _vol, sent, pos, _cash) in sorted(situations.items()):
        move = "up" if ret > 0 else "down" if ret < 0 else "flat"
        band = "stretched high" if z > 1.5 else "stretched low" if z < -1.5 else "near its mean"
        side = "long" if pos > 0 else "short" if pos < 0 else "no position"
        mood = "bullish chat" if sent > 0.2 else "bearish chat" if sent < -0.2 else ""
        parts.append(f"{sym} {move} {band} {side} {mood}".strip())
    return "; ".join(parts)


def embedder_of(lrn) -> TextEmbedder:
    return TextEmbedder(lrn.embeddings_base_url, lrn.embeddings_model)


def _model_of(floor, cfg):
    model = floor.llm_models.get(cfg.name)
    if model is None:
        from traders.llm.model_factory import build_chat_model

        model = build_chat_model(floor.config.llm_for(cfg), streaming=False)
    return model


def llm_memory(floor, cfg, view) -> tuple[Any, str, dict]:
    lrn = cfg.learning
    cycle = view.cycle
    learned, note = cycle_hook.learned_config(floor.ledger, floor.lock, floor.config.seed or 0, cfg, view,
                                              token=floor.work)
    with floor.lock:  # the ledger connection is shared by the deciding threads
        seen = cycle_hook.mirror_of(floor.ledger)
        situations = seen.pending[(cycle, cfg.name)][0]
        nearest: list[Memory] = seen.nearest.get((cycle, cfg.name), [])
        recent = [m for m in seen.mems if m.trader == cfg.name and m.markout_bp is not None][-RECENT_OUTCOMES:]
        stored = load_lessons(floor.ledger.conn, floor.ledger.branch_id, cfg.name)
    embedder = embedder_of(lrn)
    reflection: dict[str, Any] = {}
    fresh = None
    if lrn.reflect_every and cycle % lrn.reflect_every == 0:
        from traders.llm.reflection import reflect
        from traders.registry import get_theory

        text, why_not = reflect(_model_of(floor, cfg), cfg.name, get_theory(cfg.theory).description, recent,
                                budget=floor.llm_budget, cycle=cycle)
        if text is None:
            reflection = {"error": why_not}
        else:
            emb = embedder.embed([text])
            fresh = {"text": text, "embedder": emb.embedder, "vector": emb.vectors[0]}
            with floor.lock:
                seen.lessons[(cycle, cfg.name)] = fresh
            reflection = {"lesson": text, "embedder": emb.embedder} | ({"warning": emb.warning} if emb.warning else {})
    lessons, label, warning = [], embedder.label, None
    candidates = [(les.cycle, les.text, les.embedder, list(les.vector)) for les in stored]
    if fresh is not None:
        candidates.append((cycle, fresh["text"], fresh["embedder"], fresh["vector"]))
    if candidates:
        query = embedder.embed([situation_words(situations)])
        label, warning = query.embedder, query.warning
        same = [c for c in candidates if c[2] == label]
        ranked = sorted(same, key=lambda c: (-cosine(query.vectors[0], c[3]), -c[0]))
        lessons = sorted((c[0], c[1]) for c in ranked[:LESSONS_SHOWN])
    rows = [(m.cycle, m.symbol, m.decision.get("side", ""), int(m.decision.get("qty", 0)), m.markout_bp,
             m.realized_pnl) for m in nearest]
    text = memory_section(rows, lrn.horizon, lessons, label)
    note = note | {"memories_in_prompt": len(rows), "lessons_in_prompt": [c for c, _ in lessons],
                   "embedder": label}
    if warning:
        note["embeddings_warning"] = warning
    if reflection:
        note["reflection"] = reflection
    return learned, ("\n\n" + text if text else ""), note
