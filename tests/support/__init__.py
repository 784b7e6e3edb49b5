"""Test support: a scripted fake chat model and a local OpenAI-compatible stub server."""
