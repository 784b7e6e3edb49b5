"""`python -m cli`: the `trading-floor` command line."""
from cli.app import main

main()
