"""Retention (spec 2.1): policy table -> archive to S3 (crash-safe batches) -> delete; GDPR erasure
and export. An entry room: the retention Lambda and the CLI call it."""
