"""The LLM side of a trader: model factory, prompts, a bounded tool-calling loop, validation of the
model's output into a `Decision`, retries with a visible fallback, an on-disk answer cache and a per-run
token/cost budget. The public entry point is `traders.llm.trader.llm_decide`.

Nothing here is needed in rule mode, and nothing here raises into the cycle graph: every failure ends in
the trader's rule decision marked `mode="fallback"` with its `fallback_reason`.
"""
