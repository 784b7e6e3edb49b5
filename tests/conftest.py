import os

# Tests never reach LangSmith, never send analytics and never check versions online.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"
os.environ["LANGGRAPH_CLI_NO_ANALYTICS"] = "1"
os.environ["LANGGRAPH_NO_VERSION_CHECK"] = "true"

# PostgreSQL fixtures (`pg_server`, `pg_url`): a throwaway server on a unix socket (tests/pg_server.py);
# `ledger_backend`: the ledger's tests on SQLite and on PostgreSQL (tests/ledger_backends.py).
from ledger_backends import ledger_backend, pg_ledger_url  # noqa: E402,F401
from llm_floor import openai_stub  # noqa: E402,F401  (the OpenAI stub server in its own process)
from pg_server import pg_server, pg_url  # noqa: E402,F401
