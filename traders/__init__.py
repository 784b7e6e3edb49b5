"""Floor traders: one theory each, rule mode by default, LLM mode by configuration."""
