"""A bounded tool-calling loop that ends in a validated decision.

    bind_tools(tools + [submit_decision]) -> invoke -> run the tool calls -> invoke -> ... -> decision

- At most `max_steps` model turns; the last one is told to submit now. No decision by then is a failure.
- The decision arrives either as a `submit_decision` tool call or as JSON content (for models or servers
  without tool calling); both go through `parse_llm_output`.
- A tool that raises, gets bad arguments, or does not exist becomes a ToolMessage saying "error: ...";
  the model can read it and carry on. Nothing a tool does escapes the loop.
- Output that is not a decision gets a correction message and another turn, up to the retry policy's
  `max_retries`, with its back-off; then the loop fails with "unparseable output".
- Each model call goes through: budget check -> cache lookup -> `call_with_retry` -> budget charge ->
  cache store. Token counts come from the answer's `usage_metadata`; when a server reports none they are
  estimated as characters / 4 and the transcript says so.
- The transcript is complete (`LoopResult.summary()`): every turn's prompt, as references into a table
  of distinct message texts (`texts`: the system prompt and the view are stored once, however many turns
  resend them), the answer, and every tool call with its result. A tool call is `ok` only when the tool
  succeeded: an "error: ..." answer, a result carrying an `error`, or a ToolMessage with status "error"
  is recorded as failed.

The loop returns a `LoopResult`; it raises nothing except on programming errors of its caller.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import message_chunk_to_message

from traders.llm import prompts
from traders.llm.budget import BUDGET_EXHAUSTED, Budget
from traders.llm.cache import LLMCache, cache_key
from traders.llm.llm_decision import OrderLimits, ParsedDecision, UnparseableOutput, parse_llm_output
from traders.llm.resilience import LLMGaveUp, call_with_retry
from traders.llm.settings import RetryPolicy
from traders.llm.tool_specs import openai_specs

MAX_TOOL_OUTPUT_CHARS = 4000  # a tool answer longer than this is cut, to keep prompts bounded


@dataclass(frozen=True)
class ToolCallRecord:
    name: str
    args: Any
    ok: bool
    output: str  # the (possibly cut) text the model saw
    step: int = 0  # the model turn that asked for it (1-based)


@dataclass
class LoopResult:
    parsed: ParsedDecision | None = None
    failure: str | None = None  # set when no decision came out; the fallback reason
    steps: int = 0  # model turns taken
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    cache_hits: int = 0
    retries: int = 0  # transport retries plus correction turns
    parse_errors: list[str] = field(default_factory=list)
    endpoint_failed: bool = False  # the endpoint gave no usable answer (transport, HTTP, deadline)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # ref -> {"role", "text"}, each text once
    turns: list[dict[str, Any]] = field(default_factory=list)  # per model turn: prompt refs and the answer

    def decision_signals(self) -> dict[str, float]:
        """Numbers that go into the Decision's signals: only those a cached rerun reproduces exactly
        (cache hits and transport retries differ between a run and its replay, so they stay out)."""
        return {
            "llm_steps": float(self.steps),
            "llm_tool_calls": float(len(self.tool_calls)),
            "llm_input_tokens": float(self.input_tokens),
            "llm_output_tokens": float(self.output_tokens),
        }

    def summary(self) -> dict[str, Any]:
        """The transcript summary for traces and the UI."""
        return {
            **self.decision_signals(),
            "llm_cache_hits": self.cache_hits,
            "llm_retries": self.retries,
            "tokens_estimated": self.tokens_estimated,
            "tool_calls": [{"name": c.name, "args": c.args, "ok": c.ok, "result": c.output, "step": c.step}
                           for c in self.tool_calls],
            "parse_errors": list(self.parse_errors),
            "failure": self.failure,
            "texts": dict(self.texts),
            "turns": list(self.turns),
        }

    def remember_prompt(self, messages: Sequence[BaseMessage]) -> list[str]:
        """References of `messages` in `texts`, adding the texts not seen before."""
        refs = []
        for m in messages:
            role, text = _role_and_text(m)
            ref = hashlib.sha256(f"{role}\0{text}".encode()).hexdigest()[:12]
            self.texts.setdefault(ref, {"role": role, "text": text})
            refs.append(ref)
        return refs


def _role_and_text(m: BaseMessage) -> tuple[str, str]:
    text = m.content if isinstance(m.content, str) else json.dumps(m.content, default=str)
    calls = getattr(m, "tool_calls", None)
    if calls:
        text += ("\n" if text else "") + "\n".join(
            f"-> {c['name']}({json.dumps(c['args'], default=str, sort_keys=True)})" for c in calls)
    name = getattr(m, "name", None)
    role = {"system": "system", "human": "user", "ai": "assistant"}.get(m.type, m.type)
    return (f"tool:{name}" if m.type == "tool" and name else role), text


def tool_failed(message: ToolMessage) -> bool:
    """Whether a tool's answer says it failed (see the module docstring)."""
    if getattr(message, "status", "success") == "error":
        return True
    text = message.content if isinstance(message.content, str) else ""
    if text.lstrip().startswith("error"):
        return True
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return isinstance(value, dict) and "error" in value
    return False


class _BudgetStop(Exception):
    pass


def _usage(msg: AIMessage, sent: Sequence[BaseMessage]) -> tuple[int, int, bool]:
    meta = msg.usage_metadata
    if meta and (meta.get("input_tokens") or meta.get("output_tokens")):
        return int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)), False
    sent_chars = sum(len(str(m.content)) for m in sent)
    out_chars = len(str(msg.content)) + len(json.dumps([c["args"] for c in msg.tool_calls], default=str))
    return sent_chars // 4 + 1, out_chars // 4 + 1, True


def _tool_text(value: Any) -> str:
    if isinstance(value, ToolMessage):
        value = value.content
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_TOOL_OUTPUT_CHARS else text[:MAX_TOOL_OUTPUT_CHARS] + " …[cut]"


class ToolLoop:
    def __init__(
        self,
        model: Any,
        tools: Sequence[Any],
        *,
        trader: str,
        cycle: int,
        limits: OrderLimits | None = None,
        max_steps: int = 6,
        policy: RetryPolicy | None = None,
        budget: Budget | None = None,
        cache: LLMCache | None = None,
        cache_params: Mapping[str, Any] | None = None,
        stream: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float | None = None,
        request_timeout: float | None = None,
    ) -> None:
        self.tools = list(tools)
        self.by_name = {getattr(t, "name", None): t for t in self.tools}
        self.schemas = [*openai_specs(self.tools), prompts.submit_tool_spec()]
        try:
            self.bound = model.bind_tools(self.schemas)
        except NotImplementedError:  # no tool calling: the decision comes as JSON content
            self.bound = model
        self.trader, self.cycle = trader, cycle
        self.limits = limits or OrderLimits()
        self.max_steps = max(1, max_steps)
        self.policy = policy or RetryPolicy()
        self.budget, self.cache = budget, cache
        self.cache_params = dict(cache_params or {})
        self.stream, self.sleep = stream, sleep
        self.deadline = deadline  # time.monotonic() instant past which no call starts (resilience.call_with_retry)
        self.request_timeout = request_timeout  # one request's timeout (the config's timeout_s)

    # One model call ------------------------------------------------------------------------------

    def _invoke_once(self, messages: list[BaseMessage], timeout: float | None = None) -> AIMessage:
        if timeout is not None and self.request_timeout is not None:
            timeout = min(timeout, self.request_timeout)
        kw = {} if timeout is None else {"timeout": timeout}
        if not self.stream:
            out = self.bound.invoke(messages, **kw)
        else:
            acc = None
            for chunk in self.bound.stream(messages, **kw):
                acc = chunk if acc is None else acc + chunk
            if acc is None:
                raise UnparseableOutput("the stream carried no message")
            out = message_chunk_to_message(acc)
        if not isinstance(out, AIMessage):
            raise UnparseableOutput(f"the model returned {type(out).__name__}, not an AI message")
        return out

    def _call(self, messages: list[BaseMessage], result: LoopResult) -> AIMessage:
        try:
            answer = self._call_model(messages, result)
        except (LLMGaveUp, _BudgetStop) as exc:  # the trace shows what was asked when it failed
            result.turns.append({"step": result.steps + 1, "prompt": result.remember_prompt(messages),
                                 "answer": None, "usage": [0, 0],
                                 "failed": exc.reason if isinstance(exc, LLMGaveUp) else BUDGET_EXHAUSTED})
            raise
        turn = {"step": result.steps + 1, "prompt": result.remember_prompt(messages),
                "answer": _role_and_text(answer)[1], "usage": list(_usage(answer, messages)[:2])}
        result.turns.append(turn)
        return answer

    def estimate_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """The request's input tokens, estimated before sending it: characters / 4 of the messages and of
        the tool schemas (which the server counts as input too)."""
        if not hasattr(self, "_schema_chars"):
            self._schema_chars = len(json.dumps(self.schemas, default=str))
        return (sum(len(_role_and_text(m)[1]) for m in messages) + self._schema_chars) // 4 + 1

    def _call_model(self, messages: list[BaseMessage], result: LoopResult) -> AIMessage:
        if self.budget is not None and self.budget.exhausted(self.cycle, self.trader, self.estimate_tokens(messages)):
            raise _BudgetStop
        key = cache_key(self.cache_params, messages, self.schemas) if self.cache is not None else None
        answer = self.cache.get(key) if self.cache is not None and key else None
        cached = answer is not None
        if answer is None:
            def count_retry(_attempt: int, _failure: Any) -> None:
                result.retries += 1

            answer = call_with_retry(lambda timeout=None: self._invoke_once(messages, timeout), self.policy,
                                     sleep=self.sleep, on_retry=count_retry, deadline=self.deadline)
        tokens_in, tokens_out, estimated = _usage(answer, messages)
        if estimated and answer.usage_metadata is None:  # store the estimate so a rerun charges the same
            answer = answer.model_copy(update={"usage_metadata": {
                "input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}})
        if self.cache is not None and key and not cached:
            self.cache.put(key, answer)
        result.cache_hits += int(cached)
        result.input_tokens += tokens_in
        result.output_tokens += tokens_out
        result.tokens_estimated |= estimated
        if self.budget is not None:
            self.budget.charge(self.cycle, self.trader, tokens_in, tokens_out, cached=cached)
        return answer

    # Tools ---------------------------------------------------------------------------------------

    def _run_tool(self, call: Mapping[str, Any], result: LoopResult) -> ToolMessage:
        name, args, call_id = call.get("name"), call.get("args", {}), call.get("id") or ""
        tool = self.by_name.get(name)
        ok = True
        if tool is None:
            ok, text = False, f"error: unknown tool {name!r}; available: {', '.join(sorted(map(str, self.by_name)))}"
        else:
            payload = {"name": name, "args": args, "id": call_id, "type": "tool_call"}
            try:
                try:
                    raw = tool.invoke(payload)
                except NotImplementedError:  # an async-only tool (e.g. from an MCP adapter)
                    raw = asyncio.run(tool.ainvoke(payload))
                text = _tool_text(raw)
                ok = not tool_failed(raw if isinstance(raw, ToolMessage) else ToolMessage(content=text, tool_call_id=""))
            except Exception as exc:  # noqa: BLE001 - a tool failure is information for the model
                ok, text = False, f"error: {type(exc).__name__}: {exc}"[:MAX_TOOL_OUTPUT_CHARS]
        result.tool_calls.append(ToolCallRecord(name=str(name), args=args, ok=ok, output=text, step=result.steps))
        return ToolMessage(content=text, tool_call_id=call_id, name=str(name), status="success" if ok else "error")

    # The loop ------------------------------------------------------------------------------------

    def _parse(self, raw: Any) -> ParsedDecision:
        return parse_llm_output(raw, trader=self.trader, cycle=self.cycle, limits=self.limits)

    def _parse_failed(self, error: str, result: LoopResult) -> bool:
        """Record a parse error; True when another correction turn is allowed."""
        result.parse_errors.append(error)
        if len(result.parse_errors) > self.policy.max_retries:
            return False
        result.retries += 1
        self.sleep(self.policy.delay(len(result.parse_errors)))
        return True

    def run(self, messages: list[BaseMessage]) -> LoopResult:
        result = LoopResult()
        messages = list(messages)
        try:
            while result.steps < self.max_steps + len(result.parse_errors):  # corrections get extra turns
                if result.steps == self.max_steps + len(result.parse_errors) - 1 and result.steps > 0:
                    messages.append(HumanMessage(prompts.last_step_notice()))
                ai = self._call(messages, result)
                result.steps += 1
                messages.append(ai)
                if ai.tool_calls or ai.invalid_tool_calls:
                    replies: list[ToolMessage] = []
                    error = None
                    for bad in ai.invalid_tool_calls:  # arguments that are not JSON: answer every id
                        error = f"the arguments of your {bad.get('name')!r} call are not valid JSON"
                        replies.append(ToolMessage(content="error: " + prompts.correction_prompt(error),
                                                   tool_call_id=bad.get("id") or "", name=str(bad.get("name")),
                                                   status="error"))
                    for call in ai.tool_calls:
                        if call["name"] != prompts.SUBMIT_TOOL_NAME:
                            replies.append(self._run_tool(call, result))
                            continue
                        try:
                            result.parsed = self._parse(call["args"])
                            return result
                        except UnparseableOutput as exc:
                            error = str(exc)
                            replies.append(ToolMessage(content="error: " + prompts.correction_prompt(error),
                                                       tool_call_id=call.get("id") or "", name=call["name"],
                                                       status="error"))
                    messages.extend(replies)
                    if error is not None and not self._parse_failed(error, result):
                        result.failure = f"unparseable output after {len(result.parse_errors)} attempts"
                        return result
                    continue
                try:
                    result.parsed = self._parse(ai.content)
                    return result
                except UnparseableOutput as exc:
                    if not self._parse_failed(str(exc), result):
                        result.failure = f"unparseable output after {len(result.parse_errors)} attempts"
                        return result
                    messages.append(HumanMessage(prompts.correction_prompt(str(exc))))
            result.failure = f"no decision after {self.max_steps} steps"
        except _BudgetStop:
            result.failure = BUDGET_EXHAUSTED
        except LLMGaveUp as exc:
            result.failure = exc.reason
            result.endpoint_failed = True
        return result
