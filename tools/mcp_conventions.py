"""What every Trading Floor MCP server shares: tool annotations, structured results, one error style.

- `FloorMCP` is FastMCP with one error style: a bad argument and a domain refusal both come back as one
  sentence (`isError`), the argument named, never a pydantic dump with a link to errors.pydantic.dev and
  never the "Error executing tool x:" prefix.
- `read_tool` / `write_tool` register a tool with a human `title`, its annotations (`readOnlyHint`,
  `destructiveHint`, `idempotentHint`, `openWorldHint: false`: a run database is a closed world), a
  description without the docstring's indentation, and structured output (the return annotation, a
  model of `tools.mcp_results`, is the `outputSchema`). The description is the docstring on one line.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ValidationError


class FloorMCP(FastMCP):
    """FastMCP whose tool errors are one clear sentence."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        try:
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            raise ToolError(clear_error(exc)) from None


def clear_error(exc: BaseException) -> str:
    """The sentence for a failed tool call: the argument problem, or the domain refusal as it was raised."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return argument_sentence(cause)
    if isinstance(cause, ToolError | ValueError) and str(cause):
        return str(cause)
    return str(exc)


_PHRASES: dict[str, Callable[[dict], str]] = {
    "missing": lambda e: "is required",
    "greater_than": lambda e: f"must be greater than {e['ctx']['gt']}",
    "greater_than_equal": lambda e: f"must be at least {e['ctx']['ge']}",
    "less_than": lambda e: f"must be less than {e['ctx']['lt']}",
    "less_than_equal": lambda e: f"must be at most {e['ctx']['le']}",
    "string_too_short": lambda e: f"must have at least {e['ctx']['min_length']} character(s)",
    "string_too_long": lambda e: f"must have at most {e['ctx']['max_length']} characters",
    "int_parsing": lambda e: "must be a whole number",
    "int_from_float": lambda e: "must be a whole number",
    "int_type": lambda e: "must be a whole number",
    "float_parsing": lambda e: "must be a number",
    "float_type": lambda e: "must be a number",
    "string_type": lambda e: "must be text",
    "bool_parsing": lambda e: "must be true or false",
    "literal_error": lambda e: f"must be one of {e['ctx']['expected']}",
    "finite_number": lambda e: "must be a finite number",
}


def argument_sentence(err: ValidationError) -> str:
    """One sentence naming each bad argument, e.g. "argument 'levels' must be at most 20 (got 500)"."""
    parts, seen = [], set()
    for e in err.errors(include_url=False):
        loc = [str(x) for x in e.get("loc", ()) if not isinstance(x, int)]
        name = loc[0] if loc else "?"
        if name in seen:  # a union reports each branch; the first says enough
            continue
        seen.add(name)
        phrase = _PHRASES.get(e["type"])
        try:
            text = phrase(e) if phrase else e["msg"][0].lower() + e["msg"][1:]
        except (KeyError, TypeError, IndexError):
            text = e.get("msg", "is invalid")
        got = "" if e["type"] == "missing" else f" (got {_short(e.get('input'))})"
        parts.append(f"argument '{name}' {text}{got}")
    return "; ".join(parts) or "the arguments are invalid"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _register(mcp: FastMCP, title: str, annotations: ToolAnnotations) -> Callable:
    def deco(fn: Callable) -> Callable:
        ret = inspect.signature(fn, eval_str=True).return_annotation
        if not (isinstance(ret, type) and issubclass(ret, BaseModel)):
            raise TypeError(f"{fn.__name__} must be annotated with its result model")
        return mcp.tool(title=title, description=" ".join((fn.__doc__ or "").split()), annotations=annotations,
                        structured_output=True)(fn)
    return deco


def read_tool(mcp: FastMCP, title: str) -> Callable:
    """A tool that only reads: the same call gives the same answer until the next cycle settles."""
    return _register(mcp, title, ToolAnnotations(title=title, readOnlyHint=True, destructiveHint=False,
                                                 idempotentHint=True, openWorldHint=False))


def write_tool(mcp: FastMCP, title: str, *, destructive: bool, idempotent: bool) -> Callable:
    """A tool that changes something (queues an intent, sends a notice)."""
    return _register(mcp, title, ToolAnnotations(title=title, readOnlyHint=False, destructiveHint=destructive,
                                                 idempotentHint=idempotent, openWorldHint=False))
