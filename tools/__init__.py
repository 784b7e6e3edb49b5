"""Thin LangChain tools (and later MCP/event servers) over the market and the ledger."""
