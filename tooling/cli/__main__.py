"""`python -m tooling.cli ...`: the `ticketguard` command without its console script (how the local
stack and its tests start a subcommand in a fresh interpreter)."""

from tooling.cli import main

raise SystemExit(main())
