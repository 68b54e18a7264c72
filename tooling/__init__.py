"""Developer and operator tooling that never runs in Lambda: the local stack, the simulator, the live-path
evaluation, the smoke test and the `ticketguard` command line. It may import the runtime (`shared`) and
training; `shared` and `functions` never import it (import-linter holds that)."""
