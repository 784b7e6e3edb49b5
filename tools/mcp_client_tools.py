"""LangChain tools for an LLM trader, taken from the MCP servers through `langchain-mcp-adapters`.

This is seed 000's mode ("the trader's tools come from the market and accounts servers"), optional and
off by default: the in-process toolset (`tools.toolset.make_trader_tools`) stays the default because it
needs no subprocess and reads the live books of the cycle in progress. With MCP tools, the market
server shows the books as of the last settled cycle, and orders placed through the accounts server are
queued intents that this cycle's risk node merges into the trader's decision (same risk checks).

Whose account: the accounts server is started with `--account <trader>` for each trader, so the tools
act for that trader only (an `account` argument naming anyone else is refused by the server).

`langchain-mcp-adapters` tools are async-only; the cycle's tool loop is synchronous, so
`MCPToolSession` keeps the sessions open on a private event loop thread and gives synchronous twins of
the tools (safe inside or outside a running loop). Wiring: see `mcp_tools_for_trader`; the decide node can call it instead of
`make_trader_tools` when a trader's config asks for MCP tools (next step: a `tools: mcp` field in
TraderConfig, owned by the config module).
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool


def server_connections(db_path: str | Path, account: str, *, transport: str = "stdio",
                       market_url: str | None = None, accounts_url: str | None = None,
                       headers: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """MultiServerMCPClient connections for one trader: stdio subprocesses, or running HTTP servers."""
    if transport == "stdio":
        base = [sys.executable, "-m"]
        return {
            "market": {"transport": "stdio", "command": base[0],
                       "args": [*base[1:], "tools.mcp_market_server", "--db", str(db_path)]},
            "accounts": {"transport": "stdio", "command": base[0],
                         "args": [*base[1:], "tools.mcp_accounts_server", "--db", str(db_path), "--account", account]},
        }
    if not (market_url and accounts_url):
        raise ValueError("streamable HTTP needs market_url and accounts_url (http://127.0.0.1:PORT/mcp)")
    extra = {"headers": headers} if headers else {}
    return {"market": {"transport": "streamable_http", "url": market_url, **extra},
            "accounts": {"transport": "streamable_http", "url": accounts_url, **extra}}


class MCPToolSession:
    """The trader's MCP tools over sessions kept open (one server process each, not one per call).

    The sessions live in one task on a private event loop thread (anyio needs a session to be opened and
    closed by the same task); each tool call is a coroutine submitted to that loop and awaited
    synchronously with a timeout. Use as a context manager, or call `close()`.
    """

    def __init__(self, connections: dict[str, dict[str, Any]], *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mcp-tools", daemon=True)
        self.thread.start()
        self._closing: asyncio.Event | None = None
        ready: Future = Future()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(connections, ready), self.loop)
        try:
            raw = ready.result(timeout)
        except BaseException:
            self.close()
            raise
        self.tools: list[BaseTool] = [self._sync(t) for t in raw]

    async def _serve(self, connections: dict[str, dict[str, Any]], ready: Future) -> None:
        from langchain_mcp_adapters.client import MultiServerMCPClient
        from langchain_mcp_adapters.tools import load_mcp_tools

        self._closing = asyncio.Event()
        client = MultiServerMCPClient(connections)
        try:
            async with contextlib.AsyncExitStack() as stack:
                tools: list[BaseTool] = []
                for name in connections:
                    session = await stack.enter_async_context(client.session(name))
                    tools += await load_mcp_tools(session)
                ready.set_result(tools)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def _sync(self, tool: BaseTool) -> BaseTool:
        """A synchronous twin of an async-only MCP tool (same name, description and JSON schema)."""
        def call(**kwargs: Any) -> Any:
            try:
                return asyncio.run_coroutine_threadsafe(tool.ainvoke(kwargs), self.loop).result(self.timeout)
            except Exception as exc:  # noqa: BLE001 - the model gets the error sentence, the cycle goes on
                return {"error": f"{tool.name} failed: {type(exc).__name__}: {exc}"}

        return StructuredTool.from_function(func=call, name=tool.name, description=tool.description,
                                            args_schema=tool.args_schema)

    def close(self) -> None:
        if self._closing is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._closing.set)
            with contextlib.suppress(Exception):
                self._main.result(self.timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=self.timeout)

    def __enter__(self) -> MCPToolSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mcp_tools_for_trader(db_path: str | Path, account: str, **kwargs: Any) -> MCPToolSession:
    """Open the trader's market and accounts servers; `.tools` are callable synchronously."""
    return MCPToolSession(server_connections(db_path, account, **kwargs))
