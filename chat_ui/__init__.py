"""The Chainlit chat UI: presentation and conversation only."""
