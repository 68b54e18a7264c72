"""PostgreSQL access: connections, the migrations runner, named queries."""

from shared.db.connection import connect, get_pool, reset_pool
from shared.db.migrations import apply_migrations

__all__ = ["apply_migrations", "connect", "get_pool", "reset_pool"]
