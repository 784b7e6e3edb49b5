"""Shared settings of the servers: bind address, optional bearer token, and how an HTTP app is served.

- Host defaults to 127.0.0.1: nothing is reachable from another machine unless asked for.
- An optional bearer token is read from the environment (`TRADING_FLOOR_TOKEN`, never from a file or a
  command-line flag, so it does not land in shell history or `ps`). When it is set, every HTTP request
  must carry `Authorization: Bearer <token>`; stdio needs none (the parent process owns the pipe).
  Binding to a non-loopback address without a token is refused.
"""
from __future__ import annotations

import hmac
import json
import os
from typing import Any

HOST_DEFAULT = "127.0.0.1"
TOKEN_ENV = "TRADING_FLOOR_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bearer_token() -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if host not in LOOPBACK and not token:
        raise SystemExit(f"refusing to bind {host} without a bearer token: set {TOKEN_ENV} (or bind 127.0.0.1)")


class BearerAuth:
    """ASGI middleware: HTTP requests need `Authorization: Bearer <token>`; lifespan passes through."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            got = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(got, self.expected):
                body = json.dumps({"error": "missing or wrong bearer token"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def protect(app: Any, token: str | None) -> Any:
    return BearerAuth(app, token) if token else app


def serve_http(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    """Run an ASGI app with uvicorn until interrupted (token and exposure checks applied)."""
    import uvicorn

    token = bearer_token()
    check_exposure(host, token)
    uvicorn.run(protect(app, token), host=host, port=port, log_level=log_level, lifespan="on")


def run_mcp(server: Any, transport: str, host: str, port: int) -> None:
    """Serve a FastMCP server over stdio or streamable HTTP (at /mcp)."""
    if transport == "stdio":
        server.run("stdio")
    elif transport == "http":
        serve_http(server.streamable_http_app(), host, port)
    else:
        raise SystemExit(f"unknown transport {transport!r}: use stdio or http")
