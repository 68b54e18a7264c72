"""The health room: per-dependency checks (PostgreSQL, Redis, the chain, the model) within one
deadline, and what they report."""
