"""The trading cycle as a LangGraph state machine, the traders, the floor runtime and the command line."""
