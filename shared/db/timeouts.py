"""Each job's statement timeout, by the function that runs it: one table, so that a test holds every one
below its function's Lambda timeout (infra/config.py's sizing table). A statement that outlives the
function is cut by Lambda mid-transaction, with no error the job could report.

The request path (the API functions and the ingest queue's consumer, through RDS Proxy) sets none: it
runs under the server default (Settings.db_statement_timeout_ms, the parameter group's).
"""

from __future__ import annotations

STATEMENT_TIMEOUT_MS: dict[str, int] = {
    "etl": 600_000,
    "features": 600_000,
    # Every 5 minutes; the function has 240 s.
    "refresh_views": 200_000,
    "model_ops": 300_000,
    "retention": 600_000,
    "retrain_export": 840_000,  # the training-set query reads weeks of transactions
    "migrations": 240_000,  # migrations may rewrite tables
    "pricing_settle": 60_000,  # one statement over the assigned events' orders; the function has 120 s
    # The SIEM and the SOAR (120 s functions): one batch's inserts, a poll of 20,000 rows a source.
    "siem": 60_000,
    "soar": 60_000,
    # One threshold adjustment per alarm change (the function has 30 s).
    "oncall_actions": 10_000,
    # Run by hand only (`ticketguard gdpr`), never by a function.
    "gdpr": 120_000,
}
