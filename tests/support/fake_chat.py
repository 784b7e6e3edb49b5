"""A scripted fake chat model for LLM-trader tests.

`ScriptedChatModel` subclasses langchain-core's `FakeMessagesListChatModel`:
- `bind_tools` returns the model itself (remembering the tools), so the tool loop can bind freely;
- the script is consumed in order and running past its end raises (no silent cycling);
- a scripted `Exception` instance is raised instead of answered (to test retries);
- `_stream` yields real chunks (content in pieces, tool calls as `tool_call_chunks`), so `model.stream`
  and the loop's streaming mode exercise chunk aggregation;
- every call's messages are recorded in `calls`.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


def ai_text(content: str, *, tokens: tuple[int, int] | None = (20, 10)) -> AIMessage:
    usage = None if tokens is None else {"input_tokens": tokens[0], "output_tokens": tokens[1],
                                          "total_tokens": sum(tokens)}
    return AIMessage(content=content, usage_metadata=usage)


def ai_tool_calls(*calls: tuple[str, dict[str, Any]], tokens: tuple[int, int] | None = (20, 10),
                  id_prefix: str = "call") -> AIMessage:
    usage = None if tokens is None else {"input_tokens": tokens[0], "output_tokens": tokens[1],
                                          "total_tokens": sum(tokens)}
    return AIMessage(content="", usage_metadata=usage, tool_calls=[
        {"name": name, "args": args, "id": f"{id_prefix}_{i}", "type": "tool_call"}
        for i, (name, args) in enumerate(calls)
    ])


class ScriptedChatModel(FakeMessagesListChatModel):
    responses: list[Any]  # AIMessage or Exception, consumed in order
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[Any] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        self.bound_tools = list(tools)
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls.append(list(messages))
        if self.i >= len(self.responses):
            raise IndexError(f"script exhausted after {len(self.responses)} responses")
        response = self.responses[self.i]
        self.i += 1
        if isinstance(response, BaseException):
            raise response
        return response

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        msg = self._next(messages)
        text = str(msg.content)
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)] or [""]
        for piece in pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        for index, call in enumerate(msg.tool_calls):
            args = json.dumps(call["args"])
            half = len(args) // 2
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[
                {"name": call["name"], "args": args[:half], "id": call["id"], "index": index}]))
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[
                {"name": None, "args": args[half:], "id": None, "index": index}]))
        if msg.usage_metadata:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=msg.usage_metadata))

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat-model"
