"""The floor runtime: the Floor, its config, sessions over a run database, who may write it."""
