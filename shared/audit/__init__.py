"""The one audit log: append-only and hash-chained (intel.audit_log, migration 0540)."""
