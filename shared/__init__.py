"""TicketGuard domain package: every Lambda function and the local runner import from here."""

from shared.imports import defer

# Before anything here imports redis (shared/imports.py says why).
defer("redis.asyncio")
