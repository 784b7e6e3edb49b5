"""Who may write a run database: the single-writer lease and the control-command queue."""
